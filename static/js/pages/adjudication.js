/* The adjudication page's ECG: the reader's calibrated 3x4 + rhythm sheet (static/js/ecg/paper.js), drawn
 * once from the same waveform wire format, without the reader's tools. Nothing here knows who read it. */
(function () {
  "use strict";
  var P = window.EcgPaper;
  var gd = document.getElementById("adjudication-ecg");
  if (!gd || !P || !window.Plotly) return;
  var fs = parseFloat(gd.dataset.samplingRate), n = parseInt(gd.dataset.samples, 10);
  var gainUv = parseFloat(gd.dataset.gainUv), leadNames = gd.dataset.leads.split(",");
  var sheet = P.paper("3x4", { speed: 25, gain: 10, samplingRate: fs, nSamples: n, rhythmLead: "II" });

  function traces(leads) {
    return sheet.panels.map(function (panel) {
      var signal = leads[leadNames.indexOf(panel.lead)], count = panel.i1 - panel.i0;
      var x = new Float32Array(count), y = new Float32Array(count), step = sheet.speed / fs;
      for (var i = 0; i < count; i++) {
        x[i] = panel.x0 + i * step;
        y[i] = panel.yb + (signal ? signal[panel.i0 + i] : 0) * sheet.gain;
      }
      return { type: "scatter", mode: "lines", x: x, y: y, hoverinfo: "skip", showlegend: false,
        line: { color: "#111", width: 1, simplify: false } };
    });
  }
  function layout() {
    var k = Math.max(320, gd.parentElement.clientWidth) / sheet.width;
    return {
      width: Math.round(sheet.width * k), height: Math.round(sheet.height * k),
      margin: { l: 0, r: 0, t: 0, b: 0, pad: 0 }, showlegend: false, hovermode: false, dragmode: "zoom",
      xaxis: { range: [0, sheet.width], showgrid: false, zeroline: false, showticklabels: false },
      yaxis: { range: [0, sheet.height], showgrid: false, zeroline: false, showticklabels: false, scaleanchor: "x", scaleratio: 1 },
      shapes: [
        { type: "path", path: P.gridPath(sheet.width, sheet.height, 1, 5), layer: "below", line: { color: "#f6c9c9", width: 0.5 } },
        { type: "path", path: P.gridPath(sheet.width, sheet.height, 5, 0), layer: "below", line: { color: "#e58a8a", width: 1 } },
        { type: "path", path: P.calibrationPath(sheet), line: { color: "#111", width: 1.2 } },
      ],
      annotations: sheet.panels.map(function (p) {
        return { x: p.x0 + 1, y: p.yb + sheet.rowHeight * 0.38, text: p.lead, showarrow: false, xanchor: "left", font: { size: 12 } };
      }),
    };
  }
  fetch(gd.dataset.waveformUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("waveform " + r.status); return r.arrayBuffer(); })
    .then(function (buffer) {
      var leads = P.decode(buffer, leadNames.length, n, gainUv);
      return Plotly.react(gd, traces(leads), layout(), { displayModeBar: false, responsive: false, doubleClick: "reset" });
    })
    .then(function () { gd.dataset.drawn = "1"; })
    .catch(function (error) {
      var text = gd.dataset.loadFailed || "The ECG could not be loaded ({error}).";
      gd.textContent = text.replace("{error}", error.message);
    });
})();
