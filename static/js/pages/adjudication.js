/* The adjudication page's ECG: the reader's calibrated 3x4 + rhythm sheet (static/js/ecg/plot.js), drawn
 * once from the same waveform wire format, without the reader's tools. Nothing here knows who read it. */
(function () {
  "use strict";
  var P = window.EcgPaper, Plot = window.EcgPlot;
  var gd = document.getElementById("adjudication-ecg");
  if (!gd || !P || !Plot || !window.Plotly) return;
  var fs = parseFloat(gd.dataset.samplingRate), n = parseInt(gd.dataset.samples, 10);
  var gainUv = parseFloat(gd.dataset.gainUv), leadNames = gd.dataset.leads.split(",");
  var sheet = P.paper("3x4", { speed: 25, gain: 10, samplingRate: fs, nSamples: n, rhythmLead: "II" });

  fetch(gd.dataset.waveformUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("waveform " + r.status); return r.arrayBuffer(); })
    .then(function (buffer) {
      // Plotly's zoom tips stay on here: this page has no help dialog that explains the zoom.
      return Plot.draw(gd, sheet, P.decode(buffer, leadNames.length, n, gainUv), leadNames, [], { showTips: true });
    })
    .then(function () { gd.dataset.drawn = "1"; })
    .catch(function (error) {
      var text = gd.dataset.loadFailed || "The ECG could not be loaded ({error}).";
      gd.textContent = text.replace("{error}", error.message);
    });
})();
