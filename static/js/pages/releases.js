// Release page: poll the JSON progress endpoint (static/js/ecg/poll.js) while the release builds, then
// reload to list its files. No inline script anywhere (CSP): the URL comes from a data- attribute.
import { poll } from "../ecg/poll.js";

function followRelease() {
  var box = document.getElementById("release");
  if (!box || box.dataset.finished === "1") { return; }

  function show(data) {
    var labels = document.querySelector("#status-labels");
    var span = labels && labels.content.querySelector("[data-status=\"" + data.status + "\"]");
    document.getElementById("release-status").textContent = span ? span.textContent : data.status;
    document.getElementById("release-counts").textContent = data.done + " / " + data.total;
    var bar = document.getElementById("release-bar");
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    if (data.shards_total) {
      document.getElementById("release-shards-done").textContent = data.shards_done;
      document.getElementById("release-shards-total").textContent = data.shards_total;
      document.getElementById("release-shards").hidden = false;
    }
    var workers = document.getElementById("release-workers");
    workers.textContent = data.workers || "";
    workers.hidden = !data.workers;
    if (data.finished) { window.location.reload(); }
    return data.finished;
  }

  // A first look after a second, then every two seconds; after a failed request, five seconds.
  poll(box.dataset.progressUrl, { delayMs: 1000, everyMs: 2000, retryMs: 5000, onData: show });
}
followRelease();
