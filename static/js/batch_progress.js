// Batch progress dashboard: redraws the reads-per-day chart and the reader table every minute
// from the JSON the page's data-progress-url names. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section) return;
  var url = section.dataset.progressUrl;
  var REFRESH_MS = 60 * 1000;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    return td;
  }

  function seconds(value) {
    return value === null ? null : value.toFixed(1);
  }

  function drawTable(readers) {
    var body = document.querySelector("#reader-progress tbody");
    body.replaceChildren();
    readers.forEach(function (r) {
      var row = document.createElement("tr");
      row.append(
        cell(r.username), cell(r.done + " / " + r.total), cell(r.remaining), cell(r.drafts),
        cell(seconds(r.median_seconds)),
        cell(r.q1_seconds === null ? null : seconds(r.q1_seconds) + "–" + seconds(r.q3_seconds)),
        cell(r.gold_read ? r.gold_exact + " / " + r.gold_read : null),
        cell(r.last_activity ? new Date(r.last_activity).toLocaleString() : null)
      );
      body.append(row);
    });
  }

  function drawChart(days) {
    var trace = {
      type: "bar",
      x: days.map(function (d) { return d[0]; }),
      y: days.map(function (d) { return d[1]; }),
      marker: { color: "#b4232a" },
    };
    var layout = {
      height: 260, margin: { l: 40, r: 10, t: 10, b: 40 },
      xaxis: { type: "date" }, yaxis: { title: { text: document.getElementById("reads-per-day").dataset.axis || "reads" }, rangemode: "tozero" },
    };
    Plotly.react("reads-per-day", [trace], layout, { displayModeBar: false, responsive: true });
  }

  function draw(data) {
    var c = data.coverage;
    var coverage = document.getElementById("coverage");
    var template = coverage.dataset.template || "{done} of {total} exams fully read; {reads} of {all} reads done.";
    var values = { done: c.exams_complete, total: c.exams, reads: c.reads_done, all: c.reads };
    coverage.textContent = template.replace(/\{(\w+)\}/g, function (m, key) {
      return key in values ? String(values[key]) : m;
    });
    drawTable(data.readers);
    drawChart(data.reads_per_day);
    document.getElementById("refreshed-at").textContent = new Date().toLocaleTimeString();
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(draw)
      .catch(function () { /* keep the last figures; the next tick tries again */ });
  }

  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
