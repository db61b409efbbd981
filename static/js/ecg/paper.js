/* ECG paper: pure helpers for the reader page (no DOM, no Plotly), as an ES module.
 *
 * Everything is laid out in millimetres of paper: x = time * speed (mm/s), y = voltage * gain (mm/mV).
 * One pair of axes holds every lead, so zoom and pan move all leads together and one grid path serves
 * the whole sheet; squares stay square because the figure is sized at one pixel scale for both axes.
 */
var LAYOUTS = {
  "3x4": { seconds: 2.5, rows: [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]], rhythm: true },
  "6x2": { seconds: 5, rows: [["I", "V1"], ["II", "V2"], ["III", "V3"], ["aVR", "V4"], ["aVL", "V5"], ["aVF", "V6"]], rhythm: false },
  "12x1": { seconds: 10, rows: [["I"], ["II"], ["III"], ["aVR"], ["aVL"], ["aVF"], ["V1"], ["V2"], ["V3"], ["V4"], ["V5"], ["V6"]], rhythm: false },
};
var CAL_PULSE_S = 0.2; // the 1 mV calibration pulse lasts 200 ms

function ceil5(mm) { return Math.ceil(mm / 5 - 1e-9) * 5; }

/* Where each strip sits on the sheet. A panel shows samples [i0, i1) of one lead, starting at x0 (mm),
 * around baseline yb (mm, y grows upwards). A sheet shows `span` seconds of the recording (10 s in every
 * layout) from opts.start (s, default 0); a longer recording (a 43 s CPSC record, PTB's 38 s) is read a
 * window at a time, the last window ending with the recording. */
function paper(layoutName, opts) {
  var spec = LAYOUTS[layoutName] || LAYOUTS["3x4"];
  var speed = opts.speed, gain = opts.gain, fs = opts.samplingRate, n = opts.nSamples;
  var duration = n / fs;
  var columnSeconds = Math.min(spec.seconds, duration);
  var span = Math.min(duration, spec.rows[0].length * columnSeconds);
  var start = Math.max(0, Math.min(opts.start || 0, duration - span));
  var first = Math.round(start * fs);
  // Three millivolts of room per strip, unless the caller asks for another spacing (the print sheet
  // fits six rows on a page with less); the row spacing is not part of the calibration.
  var rowHeight = opts.rowHeight || Math.max(15, 3 * gain);
  var margin = ceil5(CAL_PULSE_S * speed + 4);
  var columns = spec.rows[0].length;
  var stripWidth = columns * columnSeconds * speed;
  var rhythmWidth = Math.min(duration, columns * columnSeconds) * speed;
  var rows = spec.rows.length + (spec.rhythm ? 1 : 0);
  var width = ceil5(margin + Math.max(stripWidth, spec.rhythm ? rhythmWidth : 0) + 5);
  var height = ceil5(rows * rowHeight + 5);
  var panels = [];
  function baseline(row) { return height - 2.5 - (row + 0.55) * rowHeight; }
  spec.rows.forEach(function (leads, row) {
    leads.forEach(function (lead, col) {
      var i0 = first + Math.round(col * columnSeconds * fs);
      panels.push({ lead: lead, row: row, x0: margin + col * columnSeconds * speed, yb: baseline(row),
        i0: i0, i1: Math.min(n, first + Math.round((col + 1) * columnSeconds * fs)), rhythm: false });
    });
  });
  if (spec.rhythm) {
    panels.push({ lead: opts.rhythmLead || "II", row: spec.rows.length, x0: margin,
      yb: baseline(spec.rows.length), i0: first,
      i1: Math.min(n, first + Math.round(columns * columnSeconds * fs)), rhythm: true });
  }
  return { width: width, height: height, rowHeight: rowHeight, margin: margin, rows: rows, panels: panels,
    speed: speed, gain: gain, samplingRate: fs, columnSeconds: columnSeconds, columns: columns,
    start: first / fs, span: span, duration: duration };
}

/* Evenly spaced lines as one SVG path string: a single DOM node however many lines (the fastest way
 * to draw a grid in Plotly, measured). Lines on multiples of `skip` are left to the other path. */
function gridPath(width, height, step, skip) {
  var parts = [], k, v;
  for (k = 0; k * step <= width + 1e-9; k++) {
    v = k * step;
    if (skip && Math.abs(v / skip - Math.round(v / skip)) < 1e-9) continue;
    parts.push("M" + v + ",0V" + height);
  }
  for (k = 0; k * step <= height + 1e-9; k++) {
    v = k * step;
    if (skip && Math.abs(v / skip - Math.round(v / skip)) < 1e-9) continue;
    parts.push("M0," + v + "H" + width);
  }
  return parts.join("");
}

/* The 1 mV, 200 ms calibration pulse in front of every row. */
function calibrationPath(sheet) {
  var parts = [], w = CAL_PULSE_S * sheet.speed, h = sheet.gain, x = 2;
  for (var row = 0; row < sheet.rows; row++) {
    var yb = sheet.height - 2.5 - (row + 0.55) * sheet.rowHeight;
    parts.push("M" + (x - 1) + "," + yb + "H" + x + "V" + (yb + h) + "H" + (x + w) + "V" + yb + "H" + (x + w + 1));
  }
  return parts.join("");
}

/* --- Signals ------------------------------------------------------------------------------------ */
function decode(buffer, nLeads, nSamples, gainUv) {
  // Int16Array reads the platform's byte order; every browser platform in use is little-endian,
  // which is what the server sends.
  var raw = new Int16Array(buffer), leads = [], scale = gainUv / 1000;
  for (var l = 0; l < nLeads; l++) {
    var mv = new Float32Array(nSamples), off = l * nSamples;
    for (var i = 0; i < nSamples; i++) mv[i] = raw[off + i] * scale;
    leads.push(mv);
  }
  return leads;
}

// RBJ cookbook biquads, normalised so a0 = 1.
function highpass(fs, f0) {
  var w = 2 * Math.PI * f0 / fs, c = Math.cos(w), alpha = Math.sin(w) / (2 * Math.SQRT1_2), a0 = 1 + alpha;
  return [(1 + c) / 2 / a0, -(1 + c) / a0, (1 + c) / 2 / a0, -2 * c / a0, (1 - alpha) / a0];
}
function notch(fs, f0, q) {
  var w = 2 * Math.PI * f0 / fs, c = Math.cos(w), alpha = Math.sin(w) / (2 * q), a0 = 1 + alpha;
  return [1 / a0, -2 * c / a0, 1 / a0, -2 * c / a0, (1 - alpha) / a0];
}
function biquadInPlace(x, k) {
  // Start from a steady state on the first value, so a DC offset does not ring.
  var x1 = x[0], x2 = x[0], y1 = x[0] * (k[0] + k[1] + k[2]) / (1 + k[3] + k[4]), y2 = y1, i, y, v;
  for (i = 0; i < x.length; i++) {
    v = x[i];
    y = k[0] * v + k[1] * x1 + k[2] * x2 - k[3] * y1 - k[4] * y2;
    x2 = x1; x1 = v; y2 = y1; y1 = y;
    x[i] = y;
  }
}
/* Forward then backward: the phase shifts cancel, so no wave moves in time (zero-phase). The ends
 * are padded with a mirrored second of signal so the filters settle before the real samples. */
function filtfilt(signal, k, pad) {
  var n = signal.length, p = Math.min(pad, n - 1), buf = new Float64Array(n + 2 * p), i;
  for (i = 0; i < p; i++) buf[i] = 2 * signal[0] - signal[p - i];
  for (i = 0; i < n; i++) buf[p + i] = signal[i];
  for (i = 0; i < p; i++) buf[p + n + i] = 2 * signal[n - 1] - signal[n - 2 - i];
  biquadInPlace(buf, k);
  buf.reverse();
  biquadInPlace(buf, k);
  buf.reverse();
  var out = new Float32Array(n);
  for (i = 0; i < n; i++) out[i] = buf[p + i];
  return out;
}
function applyFilters(leads, fs, opts) {
  if (!opts.baseline && !opts.notch) return leads;
  var pad = Math.round(fs);
  return leads.map(function (x) {
    var y = x;
    if (opts.baseline) y = filtfilt(y, highpass(fs, 0.5), pad);
    if (opts.notch) y = filtfilt(y, notch(fs, opts.notch, 30), pad);
    return y;
  });
}

/* --- Statements --------------------------------------------------------------------------------- */
var TOKENS = { "*diagnostic*": "diagnostic", "*quality*": "quality" };
/* Same rule as annotations/lib/exclusive_sets.py (the server is authoritative). */
function conflicts(chosen, kinds, sets) {
  var found = [], seen = {};
  sets.forEach(function (members) {
    var named = members.filter(function (c) { return !TOKENS[c] && c[0] !== "!"; });
    var spared = members.filter(function (c) { return c[0] === "!"; }).map(function (c) { return c.slice(1); });
    var tokenKinds = members.filter(function (c) { return TOKENS[c]; }).map(function (c) { return TOKENS[c]; });
    var hits = chosen.filter(function (c) { return named.indexOf(c) >= 0; });
    if (tokenKinds.length) {
      hits = hits.concat(chosen.filter(function (c) {
        return named.indexOf(c) < 0 && spared.indexOf(c) < 0 && tokenKinds.indexOf(kinds[c]) >= 0;
      }));
    }
    for (var i = 0; i < hits.length; i++) {
      for (var j = i + 1; j < hits.length; j++) {
        if (named.indexOf(hits[i]) < 0 && named.indexOf(hits[j]) < 0) continue;
        var key = [hits[i], hits[j]].sort().join("\u0000");
        if (!seen[key]) { seen[key] = true; found.push([hits[i], hits[j]]); }
      }
    }
  });
  return found;
}

export { LAYOUTS, paper, gridPath, calibrationPath, decode, applyFilters, filtfilt, highpass, notch, conflicts };
