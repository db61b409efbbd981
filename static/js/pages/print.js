/* The reader's print sheet: the exam's 12 leads in the reader's saved layout (3x4 with the rhythm strip's
 * lead the reader had on screen, data-rhythm-lead, 6x2 or 12x1, data-layout) drawn as SVG in real
 * millimetres at 25 mm/s and 10 mm/mV, on a 1 mm grid with 5 mm bold lines and a 1 mV, 200 ms calibration
 * pulse per row; the sheet's geometry is static/js/ecg/paper.js's, as on screen. The Print button hands
 * the page to the browser (window.print), whose PDF keeps the millimetres. */
import * as P from "../ecg/paper.js";

function drawPrintSheet() {
  var SVG = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("print-ecg"), button = document.getElementById("print-button");
  if (button) button.addEventListener("click", function () { window.print(); });
  if (!svg) return;
  var d = svg.dataset, speed = parseFloat(d.speed), gain = parseFloat(d.gain);
  var fs = parseFloat(d.samplingRate), n = parseInt(d.samples, 10), leads = d.leads.split(",");
  var layout = P.LAYOUTS[d.layout] ? d.layout : "3x4";
  // An A4 landscape page has 190 mm of room: 6x2 fits it with 25 mm rows instead of 30, and 12x1 takes
  // two pages of six such rows. Speed and gain, the calibration, never change.
  var ROW_MM = { "3x4": 0, "6x2": 25, "12x1": 25 }, ROWS_PER_PAGE = 6;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    parent.appendChild(node);
    return node;
  }
  // Brazilian reports write the limb leads DI, DII, DIII (the reader's setting, data-lead-names="DI").
  var BRAZILIAN = { I: "DI", II: "DII", III: "DIII" };
  function leadLabel(lead) { return d.leadNames === "DI" && BRAZILIAN[lead] ? BRAZILIAN[lead] : lead; }
  function mm(v) { return Math.round(v * 100) / 100; }
  // One panel's samples as a path, x = time * speed and y = voltage * gain, in millimetres.
  function tracePath(panel, signal) {
    var parts = [];
    for (var i = panel.i0; i < panel.i1; i++) {
      parts.push((i === panel.i0 ? "M" : "L") + mm(panel.x0 + (i - panel.i0) / fs * speed) + "," +
        mm(panel.yb + signal[i] * gain));
    }
    return parts.join("");
  }
  function calibrationPaths(sheet) {  // one path per row, so each pulse can be measured on its own
    return P.calibrationPath(sheet).split("M").filter(Boolean).map(function (p) { return "M" + p; });
  }
  /* The sheet's rows cut into pages of ROWS_PER_PAGE: [top, bottom] in SVG millimetres, one per page. */
  function windows(sheet) {
    var cuts = [], rows = sheet.rows, rh = sheet.rowHeight;
    for (var first = 0; first < rows; first += ROWS_PER_PAGE) {
      var last = Math.min(rows, first + ROWS_PER_PAGE);
      cuts.push([first === 0 ? 0 : 2.5 + first * rh, last === rows ? sheet.height : 2.5 + last * rh]);
    }
    return cuts;
  }
  /* One SVG per page, each showing its window of the same drawing at one unit per millimetre. */
  function frame(target, sheet, cut) {
    var height = cut[1] - cut[0];
    target.setAttribute("width", sheet.width + "mm");
    target.setAttribute("height", height + "mm");
    target.setAttribute("viewBox", "0 " + cut[0] + " " + sheet.width + " " + height);
  }
  function draw(signals) {
    var sheet = P.paper(layout, { speed: speed, gain: gain, samplingRate: fs, nSamples: n, rhythmLead: d.rhythmLead || "II",
      rowHeight: ROW_MM[layout] });
    var cuts = windows(sheet);
    frame(svg, sheet, cuts[0]);
    var drawing = el("g", {}, svg);
    paint(drawing, sheet, signals);
    cuts.slice(1).forEach(function (cut, i) {
      var next = document.createElementNS(SVG, "svg");
      next.setAttribute("class", "print-ecg");
      next.setAttribute("id", "print-ecg-" + (i + 2));
      frame(next, sheet, cut);
      next.appendChild(drawing.cloneNode(true));
      svg.parentNode.insertBefore(next, svg.nextSibling);
    });
    if (cuts.length > 1) svg.closest(".print-sheet").classList.add("several-pages");
  }
  function paint(svgGroup, sheet, signals) {
    var w = sheet.width, h = sheet.height;
    // paper.js measures y upwards; SVG downwards: flip once, around the sheet's height.
    var up = el("g", { transform: "matrix(1 0 0 -1 0 " + h + ")" }, svgGroup);
    el("path", { "class": "grid-thin", d: P.gridPath(w, h, 1, 5) }, up);
    el("path", { "class": "grid-bold", d: P.gridPath(w, h, 5) }, up);
    calibrationPaths(sheet).forEach(function (p) { el("path", { "class": "calibration", d: p }, up); });
    sheet.panels.forEach(function (panel) {
      var index = leads.indexOf(panel.lead);
      if (index < 0) return;
      el("path", { "class": "trace", d: tracePath(panel, signals[index]) }, up);
      el("text", { "class": "lead-name", x: panel.x0 + 1, y: mm(h - panel.yb - sheet.rowHeight * 0.3) }, svgGroup)
        .textContent = leadLabel(panel.lead);
    });
  }

  fetch(d.waveformUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("waveform " + r.status); return r.arrayBuffer(); })
    .then(function (buffer) {
      draw(P.decode(buffer, leads.length, n, parseFloat(d.gainUv)));
      svg.dataset.drawn = "1";
    })
    .catch(function (error) {
      var note = document.createElement("p");
      note.textContent = (d.loadFailed || "The ECG could not be loaded ({error}).").replace("{error}", error.message);
      svg.parentNode.insertBefore(note, svg);
    });
}
drawPrintSheet();
