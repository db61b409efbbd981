// Suggestion evidence: while the worker computes the figures of the batch's current state, follow the
// evidence API (static/js/ecg/poll.js) and reload once they are in. No inline script (CSP): the URL
// comes from a data- attribute.
(function () {
  "use strict";
  var notice = document.getElementById("evidence-computing");
  if (!notice) { return; }
  function follow(data) {
    if (data.state === "ready") { window.location.reload(); }
    return data.state === "ready";
  }
  // Every two seconds; after a failed request, five.
  window.EcgPoll.poll(notice.dataset.evidenceUrl, { delayMs: 1000, everyMs: 2000, retryMs: 5000, onData: follow });
})();
