/* Relevance bands: a thin colour strip along the bottom of each strip of the calibrated sheet, saying
 * where in the trace a class's score came from (the model's own map, or occlusion sensitivity). The module
 * exports shapes(); the reader page draws one band at a time, of the class chosen beside its legend.
 *
 * A band as the reading API sends it: {leads: 12 or 1, bins, bin_ms, data: base64 of leads x bins bytes,
 * 255 the band's peak}; bin j covers [j * bin_ms, (j + 1) * bin_ms) of the exam. Values are drawn in
 * four shades (below a tenth: nothing), each shade one Plotly path of rectangles, so a 12-lead sheet costs
 * four shapes however long the exam. */
var STANDARD = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
var SHADES = ["rgba(230,120,0,0.25)", "rgba(230,120,0,0.45)", "rgba(220,80,0,0.65)", "rgba(200,30,0,0.85)"];
var STRIP_MM = 1.6; // tall enough to read at 25 mm/s, small enough to leave the trace alone

function values(band) {
  if (!band.values) {
    var raw = atob(band.data), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    band.values = out;
  }
  return band.values;
}
function shade(v) { return v < 26 ? -1 : Math.min(SHADES.length - 1, Math.floor((v / 256) * SHADES.length)); }

/* Rectangles of one strip, consecutive bins of one shade merged. */
function strip(sheet, band, panel, paths) {
  var row = band.leads === 12 ? STANDARD.indexOf(panel.lead) : 0;
  if (row < 0) return;
  var data = values(band), msPerSample = 1000 / sheet.samplingRate, mmPerMs = sheet.speed / 1000;
  var t0 = panel.i0 * msPerSample, t1 = panel.i1 * msPerSample;
  var y0 = panel.yb - sheet.rowHeight / 2 + 0.2, y1 = y0 + STRIP_MM;
  var first = Math.floor(t0 / band.bin_ms), last = Math.min(band.bins, Math.ceil(t1 / band.bin_ms));
  var run = null;
  for (var b = first; b <= last; b++) {
    var level = b < last ? shade(data[row * band.bins + b]) : -1;
    if (run && level === run.level) continue;
    if (run && run.level >= 0) {
      var x0 = panel.x0 + (Math.max(run.start * band.bin_ms, t0) - t0) * mmPerMs;
      var x1 = panel.x0 + (Math.min(b * band.bin_ms, t1) - t0) * mmPerMs;
      paths[run.level] += "M" + x0.toFixed(2) + "," + y0.toFixed(2) + "H" + x1.toFixed(2) + "V" + y1.toFixed(2) + "H" + x0.toFixed(2) + "Z";
    }
    run = { level: level, start: b };
  }
}
/* Plotly shapes for one band on a sheet (EcgPaper.paper); none without a band. */
function shapes(sheet, band) {
  if (!sheet || !band) return [];
  var paths = SHADES.map(function () { return ""; });
  sheet.panels.forEach(function (panel) { strip(sheet, band, panel, paths); });
  return paths.map(function (d, i) {
    return d ? { name: "relevance", type: "path", path: d, fillcolor: SHADES[i], line: { width: 0 }, layer: "below" } : null;
  }).filter(Boolean);
}

export { shapes, SHADES };
