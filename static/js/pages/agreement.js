// Agreement dashboard: per-class kappa and alpha with bootstrap intervals, sorted, prevalence on hover.
// Data comes from the page's json_script block; no inline script, the CSP forbids it.
import { decimal, separators } from "../ecg/locale.js";
import * as Plotly from "../ecg/plotly.js";

function drawAgreement() {
  var source = document.getElementById("class-data");
  if (!source || !Plotly.available()) return;
  // Translated labels come from data- attributes on the chart element (English fallbacks).
  var labels = document.getElementById("class-chart").dataset;
  var rows = JSON.parse(source.textContent).slice().reverse(); // highest kappa at the top of the chart
  if (!rows.length) return;
  var codes = rows.map(function (r) { return r.code; });
  var lowest = 0;
  rows.forEach(function (r) {
    ["fleiss_kappa", "krippendorff_alpha"].forEach(function (key) {
      var ci = r[key + "_ci"] || [];
      [r[key], ci[0]].forEach(function (v) { if (v !== null && v !== undefined) lowest = Math.min(lowest, v); });
    });
  });

  function trace(name, key, colour, offset) {
    return {
      type: "scatter", mode: "markers", name: name,
      x: rows.map(function (r) { return r[key]; }),
      y: codes.map(function (_, i) { return i + offset; }),
      marker: { color: colour, size: 8 },
      error_x: {
        type: "data", symmetric: false, color: colour, thickness: 1.2, width: 3,
        array: rows.map(function (r) { var ci = r[key + "_ci"]; return ci && ci[1] !== null && r[key] !== null ? ci[1] - r[key] : 0; }),
        arrayminus: rows.map(function (r) { var ci = r[key + "_ci"]; return ci && ci[0] !== null && r[key] !== null ? r[key] - ci[0] : 0; }),
      },
      text: rows.map(function (r) {
        var ci = r[key + "_ci"] || [null, null];
        return r.code + " (" + r.name + ")<br>" + name + " " + fmt(r[key]) + " [" + fmt(ci[0]) + ", " + fmt(ci[1]) + "]" +
          "<br>" + (labels.prevalence || "prevalence") + " " + fmt(r.prevalence, 3) + " · " + r.positive_reads + " " +
          (labels.positiveReads || "positive reads");
      }),
      hoverinfo: "text",
    };
  }
  function fmt(v, digits) { return v === null || v === undefined ? "—" : decimal(v.toFixed(digits || 2)); }

  var layout = {
    height: Math.max(260, 22 * rows.length + 80), margin: { l: 90, r: 20, t: 10, b: 40 },
    // Kappa can go down to -1 (systematic disagreement); keep such classes on the chart, not off its edge.
    xaxis: { title: { text: labels.coefficient || "coefficient" }, range: [Math.min(-0.2, lowest - 0.05), 1.05], zeroline: true },
    yaxis: { tickmode: "array", tickvals: codes.map(function (_, i) { return i; }),
      ticktext: rows.map(function (r) { return r.code + " (" + fmt(r.prevalence, 2) + ")"; }), automargin: true },
    legend: { orientation: "h", y: -0.08 },
    separators: separators, // the axis's ticks in the page's language: -0,4 in Portuguese
  };
  Plotly.react(document.getElementById("class-chart"),
    [trace(labels.kappa || "Fleiss' kappa", "fleiss_kappa", "#b4232a", 0.12),
     trace(labels.alpha || "Krippendorff's alpha", "krippendorff_alpha", "#1f5fbf", -0.12)],
    layout, { displayModeBar: false, responsive: true });
}
drawAgreement();
