// Benchmark page: while the benchmark is being prepared (its tracings written by a task), ask the API for
// its status (static/js/ecg/poll.js) and reload once it is open. No inline script (CSP): the URL comes
// from a data- attribute.
(function () {
  "use strict";
  var box = document.getElementById("benchmark");
  if (!box || box.dataset.status !== "preparing") { return; }

  function check(data) {
    if (data.status !== "preparing") { window.location.reload(); return true; }
    return false;
  }

  // A first look after a second, then every two seconds; after a failed request, five seconds.
  window.EcgPoll.poll(box.dataset.pollUrl, { delayMs: 1000, everyMs: 2000, retryMs: 5000, onData: check });
})();
