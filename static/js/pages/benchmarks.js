// Benchmark page: while the benchmark is being prepared (its tracings written by a task), ask the API for
// its status (static/js/ecg/poll.js) and reload once it is open. No inline script (CSP): the URL comes
// from a data- attribute.
import { poll } from "../ecg/poll.js";

function check(data) {
  if (data.status !== "preparing") { window.location.reload(); return true; }
  return false;
}

const box = document.getElementById("benchmark");
// A first look after a second, then every two seconds; after a failed request, five seconds.
if (box && box.dataset.status === "preparing") {
  poll(box.dataset.pollUrl, { delayMs: 1000, everyMs: 2000, retryMs: 5000, onData: check });
}
