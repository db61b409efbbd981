/* The calibrated ECG sheet drawn with Plotly (SVG traces), and the calipers' arithmetic. An ES module
 * used by the reader, exam and adjudication pages. The sheet itself (where each strip sits, in millimetres
 * of paper) comes from paper() of static/js/ecg/paper.js; Plotly is reached through static/js/ecg/plotly.js.
 *
 * Screen to paper: the figure's margins are zero and its axis ranges are set here (Plotly writes every
 * zoom, pan and reset back into gd.layout), so a click is placed by the plot area's bounding box and those
 * ranges alone, without Plotly's private axis objects.
 *
 * Scale: one millimetre of paper is the same number of pixels at every speed and gain (look.scale, from
 * scaleFor: the standard 25 mm/s, 10 mm/mV sheet fits the pane's width). At 50 mm/s or 20 mm/mV the
 * paper grows and its container scrolls, as a magnified tracing should; it never shrinks to fit.
 * Lead labels follow a zoom: each one moves to the left edge of the view while its strip is in view. They
 * are spans of class lead-label in a layer over the figure (div.lead-labels inside it). */
import * as P from "./paper.js";
import * as Plotly from "./plotly.js";

var INK = "#111", CALIPER = "#1f5fbf";
var CONFIG = { displayModeBar: false, responsive: false, doubleClick: "reset", scrollZoom: false, showTips: false };

/* --- Drawing ------------------------------------------------------------------------------------ */
/* All strips as one trace, in paper millimetres, each strip's points followed by a gap (NaN) so that no
 * line joins two strips; a lead the exam lacks draws flat. One trace rather than one per strip: each
 * Plotly trace costs its own pass through calc, style and plot, and the first drawing of a page spent
 * a tenth of its time on that (bench/reader_page.py). meta.strips says which lead each piece is.
 *
 * The line is drawn at the screen's resolution. At the standard sheet 4-8 samples fall in one pixel, and
 * Plotly, which simplifies a line itself (within 0.75 px for a 1 px line), does so only after its calc
 * and its pixel conversion have gone through every sample: 20,000 samples for about 8,300 vertices on
 * the bench's exam, and those passes were most of the first drawing (bench/reader_page_ab.py: a quarter
 * of the samples drew in 39 ms instead of 70). So each strip is simplified here first, for the figure's
 * scale (keptSamples: about 2,800 vertices for that exam), and Plotly draws those vertices as they are
 * (line.simplify off, so the bound is this one's). A zoom simplifies again for its own scale and view
 * (matchDetail). Without pxPerMm the trace has every sample. strips(gd) gives every sample of what is
 * drawn, as the tests read it; the calipers read the samples themselves. */
function traces(sheet, leads, leadNames, pxPerMm) {
  var line = lineOf(sheet, leads, leadNames, pxPerMm);
  return [{ type: "scatter", mode: "lines", x: line.x, y: line.y, name: "ECG", meta: { strips: line.strips },
    hoverinfo: "skip", showlegend: false, connectgaps: false,
    line: { color: INK, width: 1, simplify: !pxPerMm } }];
}
/* Plotly's own tolerance for a 1 px line, here a bound: no sample lies farther from the line drawn. */
var TOLERANCE_PX = 0.75;
/* xr, with pxPerMm: only the samples from just before xr[0] to just after xr[1] (paper mm), the view of a
 * zoom; a strip out of it has no points, only its gap. */
function lineOf(sheet, leads, leadNames, pxPerMm, xr) {
  var step = sheet.speed / sheet.samplingRate, parts = [], total = 0;
  sheet.panels.forEach(function (panel) {
    var signal = leads[leadNames.indexOf(panel.lead)], n = panel.i1 - panel.i0, first = 0, last = n - 1, kept = null;
    if (pxPerMm && xr) {
      first = Math.max(0, Math.floor((xr[0] - panel.x0) / step) - 1);
      last = Math.min(n - 1, Math.ceil((xr[1] - panel.x0) / step) + 1);
    }
    if (pxPerMm) {
      kept = last < first ? [] : keptSamples(signal, panel.i0 + first, last - first + 1, step * pxPerMm, sheet.gain * pxPerMm);
    }
    parts.push({ panel: panel, signal: signal, first: first, n: n, kept: kept });
    total += (kept ? kept.length : n) + 1;
  });
  var x = new Float32Array(total), y = new Float32Array(total), k = 0, strips = [];
  parts.forEach(function (part) {
    var panel = part.panel, signal = part.signal, kept = part.kept, count = kept ? kept.length : part.n;
    strips.push({ lead: panel.lead, rhythm: panel.rhythm, name: panel.lead + (panel.rhythm ? " (rhythm)" : ""),
      start: k, n: count });
    for (var j = 0; j < count; j++, k++) {
      var i = kept ? part.first + kept[j] : j;
      x[k] = panel.x0 + i * step;
      y[k] = panel.yb + (signal ? signal[panel.i0 + i] : 0) * sheet.gain;
    }
    x[k] = NaN; y[k] = NaN; k++;
  });
  return { x: x, y: y, strips: strips };
}
/* The samples of signal[from, from + n) to draw, as offsets from `from`, at sx px per sample across and sy
 * px per mV up: Douglas-Peucker from the strip's first, last, lowest and highest samples (so a strip's
 * extremes are vertices), until every sample lies within TOLERANCE_PX of its segment of the line. A lead
 * the exam lacks (no signal) is its two ends. Written here rather than taken from a library: it is a
 * few lines on a typed array and runs within the page's first drawing. */
function keptSamples(signal, from, n, sx, sy) {
  if (!signal || n < 3) return n < 2 ? (n ? [0] : []) : [0, n - 1];
  var values = signal.subarray(from, from + n), keep = new Uint8Array(n), low = 0, high = 0;
  for (var i = 1; i < n; i++) {
    if (values[i] < values[low]) low = i;
    if (values[i] > values[high]) high = i;
  }
  var seeds = [0, low, high, n - 1].sort(function (a, b) { return a - b; }), stack = [];
  seeds.forEach(function (s, k) {
    keep[s] = 1;
    if (k && s - seeds[k - 1] > 1) stack.push(seeds[k - 1], s);
  });
  var limit = TOLERANCE_PX * TOLERANCE_PX;
  while (stack.length) {
    var b = stack.pop(), a = stack.pop(), at = farthest(values, a, b, sx, sy, limit);
    if (at < 0) continue;
    keep[at] = 1;
    if (at - a > 1) stack.push(a, at);
    if (b - at > 1) stack.push(at, b);
  }
  var out = [];
  for (var m = 0; m < n; m++) if (keep[m]) out.push(m);
  return out;
}
/* The sample between a and b farthest from the segment a-b (in px), if farther than sqrt(limit); else -1. */
function farthest(values, a, b, sx, sy, limit) {
  var dx = (b - a) * sx, dy = (values[b] - values[a]) * sy, length2 = dx * dx + dy * dy, worst = limit, at = -1;
  for (var j = a + 1; j < b; j++) {
    var px = (j - a) * sx, py = (values[j] - values[a]) * sy;
    var t = Math.max(0, Math.min(1, (px * dx + py * dy) / length2)), ex = px - t * dx, ey = py - t * dy;
    var d2 = ex * ex + ey * ey;
    if (d2 > worst) { worst = d2; at = j; }
  }
  return at;
}
/* The calibration pulses and the column separators (the grid is a layer of its own: gridLayer). */
function baseShapes(sheet) {
  var shapes = [
    { name: "calibration", type: "path", path: P.calibrationPath(sheet), line: { color: INK, width: 1.2 } },
  ];
  var marks = sheet.panels.filter(function (p) { return !p.rhythm && p.x0 > sheet.margin; })
    .map(function (p) { return "M" + p.x0 + "," + (p.yb - 3) + "V" + (p.yb + 3); });
  if (marks.length) shapes.push({ name: "separators", type: "path", path: marks.join(""), line: { color: INK, width: 1.2 } });
  return shapes;
}
/* Brazilian reports name the limb leads DI, DII, DIII; style "DI" writes them so. */
var BRAZILIAN = { I: "DI", II: "DII", III: "DIII" };
function leadLabel(lead, style) { return style === "DI" && BRAZILIAN[lead] ? BRAZILIAN[lead] : lead; }
/* The lead labels within the visible ranges xr, yr (paper mm): a strip whose start is out of view has
 * its label at the view's left edge; a strip out of view has none. */
function labels(sheet, style, xr, yr) {
  xr = xr || [0, sheet.width]; yr = yr || [0, sheet.height];
  var padX = (xr[1] - xr[0]) * 0.006, padY = (yr[1] - yr[0]) * 0.03, half = sheet.rowHeight / 2;
  return sheet.panels.map(function (p) {
    var right = p.x0 + (p.i1 - p.i0) * sheet.speed / sheet.samplingRate;
    var x = Math.max(p.x0 + 1, xr[0] + padX), y = Math.min(p.yb + sheet.rowHeight * 0.38, yr[1] - padY);
    // A strip that begins right of the view has no name in it: placed past the figure's edge, the name
    // would float over blank paper and widen the pane.
    var visible = x < Math.min(right, xr[1]) - padX && p.yb + half > yr[0] && p.yb - half < yr[1] && y > yr[0];
    return { x: x, y: y, xref: "x", yref: "y", text: leadLabel(p.lead, style), showarrow: false, visible: visible,
      xanchor: "left", yanchor: "middle", font: { size: 12, color: INK }, bgcolor: "rgba(255,255,255,0.7)" };
  });
}
/* Pixels per paper millimetre for a pane: the standard sheet (25 mm/s, 10 mm/mV, of the same layout)
 * fills its width, less room for a vertical scroll bar, so the scale never depends on whether one shows.
 * share (0.5 for two sheets side by side, 6 px apart) is the part of the width one sheet gets. */
function scaleFor(gd, standardSheet, share) {
  share = share || 1;
  var width = (gd.parentElement.offsetWidth - 18) * share - (share < 1 ? 6 : 0);
  return Math.max(320, width) / standardSheet.width;
}
/* The labels are HTML laid over the figure rather than Plotly annotations: each annotation measures its
 * text box while the figure is drawn (a fifth of the first drawing, measured), and moving them after a
 * zoom was another whole relayout. The figure has no margins, so paper millimetres map to the figure's
 * pixels through the axis ranges alone. */
function labelLayer(gd) {
  var layer = gd.querySelector(":scope > .lead-labels");
  if (!layer) {
    layer = document.createElement("div");
    layer.className = "lead-labels";
    layer.setAttribute("aria-hidden", "true"); // the strips' names are for the eye; the figure has its own
    gd.style.position = "relative";
    gd.appendChild(layer);
  }
  return layer;
}
function placeLabels(gd, look) {
  var xr = gd.layout.xaxis.range.map(Number), yr = gd.layout.yaxis.range.map(Number);
  var w = gd.layout.width, h = gd.layout.height, layer = labelLayer(gd);
  // As large as the figure, not its pane: at 50 mm/s the sheet is wider than the pane and scrolls, and
  // names past the pane's width would be cut off.
  layer.style.width = w + "px";
  layer.style.height = h + "px";
  var items = labels(look.sheet, look.style, xr, yr);
  while (layer.children.length > items.length) layer.removeChild(layer.lastChild);
  items.forEach(function (a, i) {
    var span = layer.children[i] || layer.appendChild(document.createElement("span"));
    span.className = "lead-label";
    span.textContent = a.text;
    span.hidden = !a.visible;
    span.style.left = ((a.x - xr[0]) / (xr[1] - xr[0]) * w).toFixed(1) + "px";
    span.style.top = ((yr[1] - a.y) / (yr[1] - yr[0]) * h).toFixed(1) + "px";
  });
}
/* The paper's grid is an SVG of its own under the figure rather than two Plotly shapes: Plotly parses and
 * converts each of a shape path's ~600 points through its axes on every drawing and every zoom. Here the
 * grid is written once in paper millimetres and a zoom changes one transform (bench/reader_page.py, run
 * alternately: the warm page went from 1.10-1.14x to 1.02-1.06x of the minimal Plotly page, a zoom from
 * 37 to 31 ms; the pixels are the same). The figure's own backgrounds are transparent so it shows through. */
var SVG = "http://www.w3.org/2000/svg";
var GRID_LINES = [["grid-minor", "#f6c9c9", 0.5, 1, 5], ["grid-major", "#e58a8a", 1, 5, 0]];
function gridLayer(gd) {
  var svg = gd.querySelector(":scope > svg.paper-grid");
  if (!svg) {
    svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "paper-grid");
    svg.setAttribute("aria-hidden", "true");
    gd.style.position = "relative";
    gd.style.background = "#fff";
    var g = svg.appendChild(document.createElementNS(SVG, "g"));
    GRID_LINES.forEach(function (spec) {
      var path = g.appendChild(document.createElementNS(SVG, "path"));
      path.setAttribute("class", spec[0]);
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", spec[1]);
      path.setAttribute("stroke-width", String(spec[2]));
      path.setAttribute("vector-effect", "non-scaling-stroke"); // lines keep their width at any zoom
    });
  }
  // First child: Plotly's figure comes after it, so it is painted over the grid.
  if (gd.firstChild !== svg) gd.insertBefore(svg, gd.firstChild);
  return svg;
}
function placeGrid(gd, sheet) {
  var svg = gridLayer(gd), w = gd.layout.width, h = gd.layout.height;
  var xr = gd.layout.xaxis.range.map(Number), yr = gd.layout.yaxis.range.map(Number);
  var key = sheet.width + "x" + sheet.height;
  if (svg.dataset.sheet !== key) {
    svg.dataset.sheet = key;
    GRID_LINES.forEach(function (spec, i) {
      svg.firstChild.children[i].setAttribute("d", P.gridPath(sheet.width, sheet.height, spec[3], spec[4]));
    });
  }
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  // Paper millimetres to the figure's pixels, y upwards on paper: the mapping of the axes' ranges.
  var kx = w / (xr[1] - xr[0]), ky = h / (yr[1] - yr[0]);
  svg.firstChild.setAttribute("transform", "matrix(" + [kx, 0, 0, -ky, -xr[0] * kx, yr[1] * ky].join(" ") + ")");
}
// gd -> {sheet, style, leads, leadNames, scale, line, view}: what the labels are placed from after a zoom,
// and what the line is drawn from for another view.
var looks = new WeakMap();
var following = new WeakSet();
function followZoom(gd) {
  if (following.has(gd)) return;
  following.add(gd);
  gd.on("plotly_relayout", function (change) {
    var look = looks.get(gd);
    if (!look || !Object.keys(change).some(function (k) { return /^[xy]axis/.test(k); })) return;
    placeGrid(gd, look.sheet);
    placeLabels(gd, look);
    matchDetail(gd, look);
  });
}
/* After a zoom the line is simplified again, for the zoom's scale and view, so the detail comes back; at
 * the whole sheet (a reset) the line drawn first comes back. Plotly has already redrawn the previous
 * line at the new ranges by then (the cheaper for having few points); the restyle runs within the zoom's
 * own task, before the browser paints it. */
function matchDetail(gd, look) {
  var xr = gd.layout.xaxis.range.map(Number), whole = xr[0] <= 0 && xr[1] >= look.sheet.width;
  var view = whole ? "sheet" : xr.join(",");
  if (view === look.view) return;
  look.view = view;
  var line = whole ? look.line
    : lineOf(look.sheet, look.leads, look.leadNames, gd.layout.width / (xr[1] - xr[0]), xr);
  Plotly.restyle(gd, { x: [line.x], y: [line.y], "meta.strips": [line.strips] }, [0]);
}
/* Every sample of each strip drawn in gd, in paper millimetres: [{name, lead, rhythm, x, y}]. */
function strips(gd) {
  var look = looks.get(gd);
  if (!look) return [];
  var line = lineOf(look.sheet, look.leads, look.leadNames, null);
  return line.strips.map(function (s) {
    return { name: s.name, lead: s.lead, rhythm: s.rhythm, x: line.x.slice(s.start, s.start + s.n),
      y: line.y.slice(s.start, s.start + s.n) };
  });
}
/* The figure at look.scale pixels per millimetre on both axes (fitting the pane without one). */
function layout(gd, sheet, extraShapes, look) {
  var k = scaleOf(gd, sheet, look);
  return {
    width: Math.round(sheet.width * k), height: Math.round(sheet.height * k),
    margin: { l: 0, r: 0, t: 0, b: 0, pad: 0 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    showlegend: false, hovermode: false, dragmode: "zoom",
    // Axes hidden rather than stripped of their ticks, grid and zero line one by one: a visible axis is
    // still laid out and drawn on every drawing and zoom (a V8 profile of the page's first drawing:
    // bench/reader_page_ab.py --quiet, -15 ms median over 30 pairs). The ranges, zoom and drag are the same.
    // Linear said outright: left to guess, Plotly reads through the trace's values on every drawing to
    // tell whether they might be dates (about 3 ms of a first drawing's 33 in a V8 profile of the page).
    xaxis: { type: "linear", range: [0, sheet.width], visible: false },
    // One pixel scale on both axes: squares stay square, also while zooming.
    yaxis: { type: "linear", range: [0, sheet.height], visible: false, scaleanchor: "x", scaleratio: 1 },
    shapes: baseShapes(sheet).concat(extraShapes || []),
  };
}
function scaleOf(gd, sheet, look) {
  return (look && look.scale) || Math.max(320, gd.parentElement.clientWidth) / sheet.width;
}
/* Draws (or redraws in place) the sheet with the leads in mV; resolves once Plotly has drawn.
 * look: {scale: px per mm, leadNames: "I" or "DI"}, both optional. */
function draw(gd, sheet, leads, leadNames, extraShapes, config, look) {
  look = look || {};
  var scale = scaleOf(gd, sheet, look), data = traces(sheet, leads, leadNames, scale);
  var placed = { sheet: sheet, style: look.leadNames, leads: leads, leadNames: leadNames, scale: scale,
    line: { x: data[0].x, y: data[0].y, strips: data[0].meta.strips }, view: "sheet" };
  looks.set(gd, placed);
  return Plotly.react(gd, data, layout(gd, sheet, extraShapes, { scale: scale }),
    Object.assign({}, CONFIG, config || {})).then(function () {
    placeGrid(gd, sheet);
    placeLabels(gd, placed);
    followZoom(gd);
  });
}
function setShapes(gd, sheet, extraShapes) {
  return Plotly.relayout(gd, { shapes: baseShapes(sheet).concat(extraShapes || []) });
}
function resetZoom(gd, sheet) {
  return Plotly.relayout(gd, { "xaxis.range": [0, sheet.width], "yaxis.range": [0, sheet.height] });
}

/* --- Screen to paper ---------------------------------------------------------------------------- */
/* The plot area on screen, from the layout this module set (Plotly's public figure, not its DOM): the
 * figure has no margins and its own width and height, drawn from the top left corner of its div. */
function plotArea(gd) {
  var figure = gd.layout, corner = gd.getBoundingClientRect();
  if (!figure || !figure.width || !figure.height) return null;
  return { left: corner.left, top: corner.top, width: figure.width, height: figure.height };
}
/* Paper millimetres {x, y} under a point of the window (clientX, clientY), at the current zoom. */
function toPaper(gd, clientX, clientY) {
  var box = plotArea(gd), xr = gd.layout.xaxis.range, yr = gd.layout.yaxis.range;
  if (!box || !box.width || !box.height) return null;
  var x0 = Number(xr[0]), x1 = Number(xr[1]), y0 = Number(yr[0]), y1 = Number(yr[1]);
  return { x: x0 + (clientX - box.left) / box.width * (x1 - x0),
    y: y1 - (clientY - box.top) / box.height * (y1 - y0) }; // y grows upwards on paper, downwards on screen
}

/* --- Calipers ----------------------------------------------------------------------------------- */
function panelAt(sheet, xmm, ymm) {
  var best = null;
  sheet.panels.forEach(function (p) {
    var right = p.x0 + (p.i1 - p.i0) * sheet.speed / sheet.samplingRate;
    if (xmm >= p.x0 - 0.5 && xmm <= right + 0.5 && Math.abs(ymm - p.yb) <= sheet.rowHeight / 2) best = p;
  });
  return best;
}
/* The sample under a paper point: {panel, index, mv}, or null off every strip. */
function samplePoint(sheet, xmm, ymm) {
  var panel = panelAt(sheet, xmm, ymm);
  if (!panel) return null;
  // Snap to the nearest sample: intervals are then exact multiples of the sampling period.
  var index = Math.round((xmm - panel.x0) / sheet.speed * sheet.samplingRate) + panel.i0;
  index = Math.max(panel.i0, Math.min(panel.i1 - 1, index));
  return { panel: panel, index: index, mv: (ymm - panel.yb) / sheet.gain };
}
function sampleX(sheet, panel, index) { return panel.x0 + (index - panel.i0) * sheet.speed / sheet.samplingRate; }
function mark(sheet, panel, index, name, line) {
  var x = sampleX(sheet, panel, index), half = sheet.rowHeight / 2;
  return { name: name, type: "line", x0: x, x1: x, y0: panel.yb - half, y1: panel.yb + half, line: line };
}
/* Further beats at the measured interval, along the first point's strip. */
function marchShapes(sheet, p) {
  var step = p[1].index - p[0].index, panel = p[0].panel, shapes = [];
  if (step === 0) return shapes;
  for (var i = p[1].index + step; i >= panel.i0 && i < panel.i1; i += step) {
    shapes.push(mark(sheet, panel, i, "march", { color: CALIPER, width: 1, dash: "dot" }));
  }
  return shapes;
}
/* caliper: {points: [point, point?], march: bool}. */
function caliperShapes(sheet, caliper) {
  var p = caliper.points, style = { color: CALIPER, width: 1.5 }, active = { color: CALIPER, width: 2.5 };
  if (!sheet || !p.length) return [];
  // The point the keyboard moves is drawn heavier.
  var shapes = p.map(function (pt, i) {
    return mark(sheet, pt.panel, pt.index, "caliper", p.length === 2 && i === caliper.active ? active : style);
  });
  if (p.length === 2) {
    var y = p[0].panel.yb + sheet.rowHeight / 2 * 0.8;
    shapes.push({ name: "caliper", type: "line", x0: sampleX(sheet, p[0].panel, p[0].index),
      x1: sampleX(sheet, p[1].panel, p[1].index), y0: y, y1: y, line: style });
    if (caliper.march) shapes = shapes.concat(marchShapes(sheet, p));
  }
  return shapes;
}
/* Between two points: the interval (ms), the amplitude difference (mV) and the rate it means (bpm). */
function measure(points, samplingRate) {
  var ms = Math.abs(points[1].index - points[0].index) * 1000 / samplingRate;
  return { ms: ms, mv: points[1].mv - points[0].mv, bpm: ms > 0 ? 60000 / ms : 0 };
}

export { CONFIG, traces, strips, baseShapes, layout, draw, labels, leadLabel, scaleFor, setShapes, resetZoom, toPaper,
  panelAt, samplePoint, caliperShapes, measure };
