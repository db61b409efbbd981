/* The median beat panel beside the 12 leads: one representative beat per lead on ECG paper, the model's
 * fiducial marks across them, and the global measurements table. An ES module (render,
 * renderMeasurements, relabel, overlay).
 *
 * Plain SVG, no Plotly: twelve 175-point polylines cost nothing next to the strips, so the page draws no
 * slower for it. The server sends the panel only when the batch's suggestion mode shows the suggestion
 * (selectors.reading.assignments); this file draws what it is given and hides the panel otherwise. Where
 * the batch shows the recording cart's measurements, the table sets the cart's values beside the model's.
 *
 * Paper: 25 mm/s and 10 mm/mV like the strips, at MM px per millimetre; each lead gets a 20 mm tall cell. */
import { day } from "./locale.js";

var SVG = "http://www.w3.org/2000/svg";
var MM = 3.4, SPEED = 25, GAIN = 10, CELL_H = 20, COLUMNS = 4, LABEL_MM = 2.5;
var ORDER = ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6"]; // 3 rows of 4, as carts print
var MARKS = [
  { key: "p_on_ms", label: "mark_p_on", color: "#1b8a3a" },
  { key: "qrs_on_ms", label: "mark_qrs_on", color: "#1f5fbf" },
  { key: "qrs_off_ms", label: "mark_qrs_off", color: "#1f5fbf" },
  { key: "t_off_ms", label: "mark_t_off", color: "#8a2be2" },
];
var ROWS = [ // measurement key, label key, unit
  ["heart_rate_bpm", "m_rate", "bpm"], ["pr_ms", "m_pr", "ms"], ["qrs_ms", "m_qrs", "ms"], ["qt_ms", "m_qt", "ms"],
  ["qtc_bazett_ms", "m_qtc_bazett", "ms"], ["qtc_fridericia_ms", "m_qtc_fridericia", "ms"],
];

function el(name, attrs) {
  var node = document.createElementNS(SVG, name);
  Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
  return node;
}
function gridPath(width, height, step) {
  var d = "";
  for (var x = 0; x <= width + 1e-6; x += step) d += "M" + x.toFixed(1) + " 0V" + height.toFixed(1);
  for (var y = 0; y <= height + 1e-6; y += step) d += "M0 " + y.toFixed(1) + "H" + width.toFixed(1);
  return d;
}
/* One lead's cell: its polyline (microvolts -> mm), name, and the marks as vertical lines. */
function cell(svg, beat, lead, x0, y0, label) {
  var values = beat.leads[lead];
  if (!values) return;
  var dtMm = SPEED / beat.sampling_rate, mid = y0 + CELL_H / 2;
  var points = values.map(function (uv, i) {
    return ((x0 + i * dtMm) * MM).toFixed(1) + "," + ((mid - (uv / 1000) * GAIN) * MM).toFixed(1);
  });
  svg.appendChild(el("polyline", { points: points.join(" "), fill: "none", stroke: "#111", "stroke-width": 1,
    "stroke-linejoin": "round", "data-lead": lead }));
  var name = el("text", { x: ((x0 + 0.5) * MM).toFixed(1), y: ((y0 + LABEL_MM) * MM).toFixed(1), "font-size": 9,
    "data-lead-name": lead });
  name.textContent = label(lead);
  svg.appendChild(name);
  MARKS.forEach(function (m) {
    var at = beat.marks[m.key];
    if (at == null) return;
    var x = ((x0 + (at - beat.start_ms) / 1000 * SPEED) * MM).toFixed(1);
    svg.appendChild(el("line", { x1: x, x2: x, y1: (y0 * MM).toFixed(1), y2: ((y0 + CELL_H) * MM).toFixed(1),
      stroke: m.color, "stroke-width": 1, "stroke-dasharray": "3 2", "data-mark": m.key }));
  });
}
/* The beats' SVG at its final size, and the function that draws its paper and beats into it. */
function beatSvg(beat, label) {
  var widthMm = values(beat).length / beat.sampling_rate * SPEED, rows = Math.ceil(ORDER.length / COLUMNS);
  var w = widthMm * COLUMNS, h = CELL_H * rows;
  var svg = el("svg", { width: Math.round(w * MM), height: Math.round(h * MM), viewBox: "0 0 " + (w * MM) + " " + (h * MM),
    class: "median-beats", role: "img" });
  return { svg: svg, draw: function () {
    svg.appendChild(el("path", { d: gridPath(w * MM, h * MM, MM), stroke: "#f6cfd5", "stroke-width": 0.5, fill: "none" }));
    svg.appendChild(el("path", { d: gridPath(w * MM, h * MM, 5 * MM), stroke: "#eb9aa6", "stroke-width": 0.8, fill: "none" }));
    ORDER.forEach(function (lead, i) {
      cell(svg, beat, lead, (i % COLUMNS) * widthMm, Math.floor(i / COLUMNS) * CELL_H, label);
    });
  } };
}
function values(beat) { var first = Object.keys(beat.leads)[0]; return first ? beat.leads[first] : []; }

function legend(beat, t) {
  var p = document.createElement("p");
  p.className = "median-legend";
  MARKS.forEach(function (m) {
    if (beat.marks[m.key] == null) return;
    var span = document.createElement("span");
    span.style.color = m.color;
    span.textContent = "┆ " + t(m.label);
    p.appendChild(span);
  });
  return p;
}
function number(v) { return v == null ? "–" : String(Math.round(v)); }
function withUnit(value, unit) { return value + (value === "–" ? "" : (unit === "°" ? "" : " ") + unit); }
function table(m, t) {
  var tbody = document.createElement("tbody");
  var add = function (label, value, unit) {
    var tr = document.createElement("tr"), th = document.createElement("th"), td = document.createElement("td");
    th.textContent = label;
    td.textContent = value + (value === "–" ? "" : " " + unit);
    tr.appendChild(th); tr.appendChild(td); tbody.appendChild(tr);
  };
  ROWS.forEach(function (row) { add(t(row[1]), number(m[row[0]]), row[2]); });
  add(t("m_axes"), [m.p_axis_deg, m.qrs_axis_deg, m.t_axis_deg].map(number).join(" / "), "°");
  var tableEl = document.createElement("table");
  tableEl.className = "median-table";
  tableEl.appendChild(tbody);
  return tableEl;
}

/* Where the page shows the recording cart's measurements (median.device, from the server): the model's
 * value and the cart's side by side, each axis on its own row, and a row whose two values differ by more
 * than its tolerance (median.differences) marked, the tooltip saying by how much and the tolerance. */
var AXES = [["p_axis_deg", "m_p_axis", "°"], ["qrs_axis_deg", "m_qrs_axis", "°"], ["t_axis_deg", "m_t_axis", "°"]];
function differsMark(differs, unit, t) {
  var mark = document.createElement("span");
  mark.className = "median-differs";
  mark.textContent = " ≠";
  mark.title = t("median_differs", { by: withUnit(number(Math.abs(differs.difference)), unit),
    tolerance: withUnit(number(differs.tolerance), unit) });
  mark.setAttribute("aria-label", mark.title);
  return mark;
}
function comparison(median, t) {
  var m = median.measurements || {}, device = median.device, differences = median.differences || {};
  var tableEl = document.createElement("table"), head = document.createElement("tr");
  tableEl.className = "median-table median-compared";
  ["", t("median_model"), t("median_cart")].forEach(function (text) {
    var th = document.createElement("th");
    th.textContent = text;
    head.appendChild(th);
  });
  tableEl.appendChild(document.createElement("thead")).appendChild(head);
  var tbody = tableEl.appendChild(document.createElement("tbody"));
  ROWS.concat(AXES).forEach(function (row) {
    var key = row[0], tr = document.createElement("tr"), th = document.createElement("th");
    var model = document.createElement("td"), cart = document.createElement("td"), differs = differences[key];
    th.textContent = t(row[1]);
    model.textContent = withUnit(number(m[key]), row[2]);
    cart.textContent = withUnit(number(device[key]), row[2]);
    if (differs && differs.exceeds) {
      tr.className = "differs";
      cart.appendChild(differsMark(differs, row[2], t));
    }
    [th, model, cart].forEach(function (cell) { tr.appendChild(cell); });
    tbody.appendChild(tr);
  });
  return tableEl;
}
/* The tolerances the marks are judged by, as the server gives them (lib/ecg/measurement_tolerance.py). */
function tolerancesLegend(tolerances, t) {
  var p = document.createElement("p");
  p.className = "muted median-tolerances";
  p.textContent = t("median_tolerances", { pr: tolerances.pr_ms, qrs: tolerances.qrs_ms, qt: tolerances.qt_ms,
    rate: tolerances.heart_rate_bpm, axis: tolerances.qrs_axis_deg });
  return p;
}

/* Fill `box` from the context's `median` (or hide it when null); `t` translates the page's strings and
 * `label` names a lead as the strips do (DI, DII, DIII when the reader prefers). The panel takes its final
 * size at once; its paper and beats are drawn now, or handed to `later` (a function taking the drawing
 * to run), so that a page can draw the strips first. */
function render(box, median, t, label, later) {
  box.textContent = "";
  box.hidden = !median;
  if (!median) return;
  var h = document.createElement("h3");
  h.textContent = t("median_title", { provider: median.title || median.provider });
  box.appendChild(h);
  if (median.beat) {
    var sub = document.createElement("p");
    sub.className = "muted median-count";
    sub.textContent = t("median_beats", { n: median.beat.n_beats });
    box.appendChild(sub);
    var beats = beatSvg(median.beat, label || String);
    box.appendChild(beats.svg);
    box.appendChild(legend(median.beat, t));
    if (later) later(beats.draw); else beats.draw();
  } else {
    var none = document.createElement("p");
    none.className = "muted median-none";
    none.textContent = t("median_none");
    box.appendChild(none);
  }
  if (median.device) {
    box.appendChild(comparison(median, t));
    box.appendChild(tolerancesLegend(median.tolerances || {}, t));
  } else {
    box.appendChild(table(median.measurements || {}, t));
  }
}

/* The reader switched the lead names (I, II, III or DI, DII, DIII): the beats keep their drawing. */
function relabel(box, label) {
  Array.prototype.forEach.call(box.querySelectorAll("[data-lead-name]"), function (name) {
    name.textContent = label(name.getAttribute("data-lead-name"));
  });
}

/* --- Serial comparison: an earlier ECG's median beats over the current ones ---------------------- */
// Larger paper than the panel's, for the eye to compare two lines; the same 25 mm/s and 10 mm/mV.
var SERIAL_MM = 7, SERIAL_CELL_H = 22;
var SERIAL = { earlier: "#d9480f", current: "#111" };
var SERIAL_ROWS = { heart_rate_bpm: ["m_rate", "bpm"], pr_ms: ["m_pr", "ms"], qrs_ms: ["m_qrs", "ms"],
  qt_ms: ["m_qt", "ms"], qtc_bazett_ms: ["m_qtc_bazett", "ms"], p_axis_deg: ["m_p_axis", "°"],
  qrs_axis_deg: ["m_qrs_axis", "°"], t_axis_deg: ["m_t_axis", "°"] };
/* Milliseconds from a beat's QRS onset (its R where none was found) of its first and last samples. */
function fromOnset(beat) {
  var onset = beat.qrs_onset_ms == null ? 0 : beat.qrs_onset_ms;
  return [beat.start_ms - onset, beat.start_ms + (values(beat).length - 1) * 1000 / beat.sampling_rate - onset];
}
/* One lead's two beats in the cell at (x0, y0) mm, each placed by its own QRS onset, which the span
 * [from, to] (ms from onset) puts at the same x; data-onset-x: where each beat's onset sample fell. */
function serialCell(svg, beats, lead, x0, y0, span, label) {
  var mid = y0 + SERIAL_CELL_H / 2, onsetX = x0 + (0 - span[0]) / 1000 * SPEED;
  svg.appendChild(el("line", { x1: (onsetX * SERIAL_MM).toFixed(1), x2: (onsetX * SERIAL_MM).toFixed(1),
    y1: (y0 * SERIAL_MM).toFixed(1), y2: ((y0 + SERIAL_CELL_H) * SERIAL_MM).toFixed(1), stroke: "#888",
    "stroke-width": 1, "stroke-dasharray": "2 3" }));
  ["earlier", "current"].forEach(function (which) {
    var beat = beats[which], uv = beat.leads[lead];
    if (!uv) return;
    var first = fromOnset(beat)[0], dtMs = 1000 / beat.sampling_rate;
    var xAt = function (i) { return (x0 + (first + i * dtMs - span[0]) / 1000 * SPEED) * SERIAL_MM; };
    var points = uv.map(function (v, i) { return xAt(i).toFixed(1) + "," + ((mid - v / 1000 * GAIN) * SERIAL_MM).toFixed(1); });
    var onsetIndex = (beat.qrs_onset_ms == null ? 0 : beat.qrs_onset_ms - beat.start_ms) / dtMs;
    svg.appendChild(el("polyline", { points: points.join(" "), fill: "none", stroke: SERIAL[which], "stroke-width": 1.2,
      "stroke-linejoin": "round", "data-lead": lead, "data-which": which, "data-onset-x": xAt(onsetIndex).toFixed(1) }));
  });
  var name = el("text", { x: ((x0 + 0.5) * SERIAL_MM).toFixed(1), y: ((y0 + LABEL_MM) * SERIAL_MM).toFixed(1),
    "font-size": 10, "data-lead-name": lead });
  name.textContent = label(lead);
  svg.appendChild(name);
}
function serialBeats(beats, label) {
  var a = fromOnset(beats.earlier), b = fromOnset(beats.current), span = [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
  var cellW = (span[1] - span[0]) / 1000 * SPEED, rows = Math.ceil(ORDER.length / COLUMNS);
  var w = cellW * COLUMNS * SERIAL_MM, h = SERIAL_CELL_H * rows * SERIAL_MM;
  var svg = el("svg", { width: Math.round(w), height: Math.round(h), viewBox: "0 0 " + w + " " + h, class: "serial-beats",
    role: "img" });
  svg.appendChild(el("path", { d: gridPath(w, h, SERIAL_MM), stroke: "#f6cfd5", "stroke-width": 0.5, fill: "none" }));
  svg.appendChild(el("path", { d: gridPath(w, h, 5 * SERIAL_MM), stroke: "#eb9aa6", "stroke-width": 0.8, fill: "none" }));
  ORDER.forEach(function (lead, i) {
    serialCell(svg, beats, lead, (i % COLUMNS) * cellW, Math.floor(i / COLUMNS) * SERIAL_CELL_H, span, label);
  });
  return svg;
}
function signed(value, unit) {
  if (value == null) return "–";
  var n = Math.round(value), text = (n > 0 ? "+" : n < 0 ? "\u2212" : "") + Math.abs(n);
  return text + (unit === "°" ? "°" : " " + unit);
}
function serialTable(rows, dates, t) {
  var table = document.createElement("table"), head = document.createElement("tr");
  ["", dates.earlier, dates.current, t("serial_change")].forEach(function (text) {
    head.appendChild(document.createElement("th")).textContent = text;
  });
  table.appendChild(document.createElement("thead")).appendChild(head);
  var body = table.appendChild(document.createElement("tbody"));
  rows.forEach(function (row) {
    var spec = SERIAL_ROWS[row.key];
    if (!spec || (row.earlier == null && row.current == null)) return;
    var tr = body.appendChild(document.createElement("tr"));
    tr.dataset.key = row.key;
    tr.appendChild(document.createElement("th")).textContent = t(spec[0]);
    tr.appendChild(document.createElement("td")).textContent = withUnit(number(row.earlier), spec[1]);
    tr.appendChild(document.createElement("td")).textContent = withUnit(number(row.current), spec[1]);
    var change = tr.appendChild(document.createElement("td"));
    change.className = "change";
    change.textContent = signed(row.change, spec[1]);
  });
  return table;
}
/* Fill `box` with the overlay the server gave (selectors.reading.serial): the legend naming both ECGs by
 * date and colour, the beats lead by lead, and the table of changes where the batch shows measurements. */
function overlay(box, data, t, label) {
  var dates = { earlier: day(data.earlier.acquired_on), current: day(data.current.acquired_on) };
  box.textContent = "";
  var legend = box.appendChild(document.createElement("p"));
  legend.className = "serial-legend";
  [["current", "serial_this"], ["earlier", "serial_earlier"]].forEach(function (pair) {
    var span = legend.appendChild(document.createElement("span")), swatch = document.createElement("i");
    swatch.style.borderColor = SERIAL[pair[0]];
    span.appendChild(swatch);
    span.appendChild(document.createTextNode(t(pair[1], { date: dates[pair[0]] })));
  });
  if (data.earlier.beat && data.current.beat) {
    box.appendChild(serialBeats({ earlier: data.earlier.beat, current: data.current.beat }, label));
  } else {
    box.appendChild(document.createElement("p")).textContent = t("serial_no_beat");
  }
  var side = box.appendChild(document.createElement("div")), m = data.measurements;
  side.className = "serial-side";
  side.appendChild(document.createElement("p")).textContent = t("serial_aligned");
  var source = side.appendChild(document.createElement("p"));
  source.className = "muted";
  source.textContent = t(m.source ? "serial_source_" + m.source : "serial_source_none");
  if (m.source) side.appendChild(serialTable(m.rows, dates, t));
}

/* --- The blind reader's measurements (context.measurements): the signal's, never a diagnosis ------- */
// The computed values beside the cart's where the batch shows both; each column only where it exists.
function intervalsTable(intervals, t) {
  var columns = [["computed", "measures_computed"], ["cart", "median_cart"]].filter(function (c) {
    return intervals[c[0]] && Object.keys(intervals[c[0]]).length;
  });
  var tableEl = document.createElement("table"), head = document.createElement("tr");
  tableEl.className = "median-table blind-intervals";
  [""].concat(columns.map(function (c) { return t(c[1]); })).forEach(function (text) {
    head.appendChild(document.createElement("th")).textContent = text;
  });
  tableEl.appendChild(document.createElement("thead")).appendChild(head);
  var tbody = tableEl.appendChild(document.createElement("tbody"));
  ROWS.concat(AXES).forEach(function (row) {
    var tr = tbody.appendChild(document.createElement("tr"));
    tr.appendChild(document.createElement("th")).textContent = t(row[1]);
    columns.forEach(function (c) {
      tr.appendChild(document.createElement("td")).textContent = withUnit(number(intervals[c[0]][row[0]]), row[2]);
    });
  });
  return tableEl;
}
function mm(v) {
  if (v == null) return "–";
  var tenths = Math.round(v * 10);
  return tenths === 0 ? "0.0" : (tenths > 0 ? "+" : "-") + (Math.abs(tenths) / 10).toFixed(1);
}
// ST level per lead at J and J+60 ms, in mm (10 mm = 1 mV), against the PR baseline.
function stTable(st, t, label) {
  var tableEl = document.createElement("table"), head = document.createElement("tr");
  tableEl.className = "median-table st-levels";
  ["", t("st_j"), t("st_j60")].forEach(function (text) { head.appendChild(document.createElement("th")).textContent = text; });
  tableEl.appendChild(document.createElement("thead")).appendChild(head);
  var tbody = tableEl.appendChild(document.createElement("tbody"));
  ORDER.forEach(function (lead) {
    var tr = tbody.appendChild(document.createElement("tr")), th = document.createElement("th");
    th.textContent = label(lead);
    th.setAttribute("data-lead-name", lead);
    tr.appendChild(th);
    [st.j, st.j60].forEach(function (at) { tr.appendChild(document.createElement("td")).textContent = mm((at || {})[lead]); });
  });
  return tableEl;
}
/* Fill `box` from the context's `measurements` (hidden for the setting "none" or nothing to show); as
 * render, the beats are drawn now or handed to `later`. */
function renderMeasurements(box, m, t, label, later) {
  box.textContent = "";
  var intervals = m && m.intervals || {};
  var any = m && m.setting !== "none" && (m.beat || m.st_mm || [intervals.cart, intervals.computed].some(function (i) {
    return i && Object.keys(i).length;
  }));
  box.hidden = !any;
  if (!any) return;
  label = label || String;
  box.appendChild(document.createElement("h3")).textContent = t("measures_title");
  var sub = box.appendChild(document.createElement("p"));
  sub.className = "muted median-count";
  if (m.beat) {
    sub.textContent = m.beat.source === "cart" ? t("measures_beat_cart") : t("median_beats", { n: m.beat.n_beats });
    var beats = beatSvg(m.beat, label);
    box.appendChild(beats.svg);
    box.appendChild(legend(m.beat, t));
    if (later) later(beats.draw); else beats.draw();
  } else {
    sub.textContent = t("measures_no_beat");
  }
  box.appendChild(intervalsTable(intervals, t));
  if (m.st_mm) box.appendChild(stTable(m.st_mm, t, label));
}

export { render, renderMeasurements, relabel, overlay, ORDER };
