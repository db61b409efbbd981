// Release page: poll the JSON progress endpoint while the release builds, then reload to list its files.
// No inline script anywhere (CSP): the URL comes from a data- attribute.
(function () {
  "use strict";
  var box = document.getElementById("release");
  if (!box || box.dataset.finished === "1") { return; }
  var url = box.dataset.progressUrl;

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var labels = document.querySelector("#status-labels");
        var span = labels && labels.content.querySelector("[data-status=\"" + data.status + "\"]");
        document.getElementById("release-status").textContent = span ? span.textContent : data.status;
        document.getElementById("release-counts").textContent = data.done + " / " + data.total;
        var bar = document.getElementById("release-bar");
        bar.max = Math.max(data.total, 1);
        bar.value = data.done;
        if (data.finished) { window.location.reload(); } else { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
