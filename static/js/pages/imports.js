// Import job page: poll the JSON progress endpoint (static/js/ecg/poll.js) until the job finishes, then
// list every outcome. No inline script anywhere (CSP): the URL comes from a data- attribute.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box) { return; }
  var url = box.dataset.progressUrl;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function showOutcomes(outcomes) {
    var body = document.getElementById("job-outcomes");
    body.replaceChildren();
    outcomes.forEach(function (o) {
      var row = document.createElement("tr");
      row.append(cell(o.file), cell(o.record), cell(o.outcome), cell(o.message));
      body.append(row);
    });
  }

  function show(data) {
    var label = document.querySelector("#status-labels");
    var span = label && label.content.querySelector("[data-status=\"" + data.status + "\"]");
    document.getElementById("job-status").textContent = span ? span.textContent : data.status;
    document.getElementById("job-counts").textContent = data.done + " / " + data.total;
    var bar = document.getElementById("job-bar");
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    box.querySelectorAll("[data-count]").forEach(function (span) {
      span.textContent = data[span.dataset.count];
    });
    document.getElementById("job-not-listed").hidden = !data.not_listed;
    if (data.finished) {
      showOutcomes(data.outcomes || []);
    }
  }

  // Every second until the job finishes; after a failed request, five seconds.
  window.EcgPoll.poll(url, {
    everyMs: 1000, retryMs: 5000,
    onData: function (data) { show(data); return data.finished; },
  });
}());
