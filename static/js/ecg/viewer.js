/* The ECG viewer with its toolbar: layout, rhythm lead, speed, gain, lead names, filters, calipers, march and
 * zoom, for every page that shows a tracing to a clinician (the reader and the adjudication case pages).
 * The module exports create() and number(). Drawing is static/js/ecg/plot.js; paper geometry static/js/ecg/paper.js.
 *
 * The layout, speed, gain and lead names are the user's preferences, kept on the server
 * (/api/v1/reading/preferences/) so they follow the user to another machine. Numbers the user reads
 * (caliper readouts) are written in the page's language: 0,52 mV in Brazilian Portuguese. */
import * as P from "./paper.js";
import * as Plot from "./plot.js";

var PREF_KEY = { layout: "layout", speed: "speed", gain: "gain", leadNames: "lead_names" };
var PAST_SHEET_S = 0.02;

/* A number with a fixed count of decimals, in the page's language, without thousands separators. */
function number(value, digits) {
  var lang = document.documentElement.lang || undefined;
  return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits,
    useGrouping: false }).format(value);
}

/* opts: {gd, $ (id -> element), t (key, values -> text), preferencesUrl, csrf, onDrawn (ms)}. The toolbar's
 * elements have the ids layout, rhythm-lead, speed, gain, lead-names, filter-baseline, filter-notch,
 * caliper-toggle, march, reset-zoom; caliper-layer and caliper-readout sit beside the figure. */
function create(opts) {
  var gd = opts.gd, $ = opts.$, t = opts.t;
  var v = {
    // start: the second of the recording the sheet begins at (a recording longer than a sheet's 10 s is
    // read a window at a time).
    view: { layout: "3x4", speed: 25, gain: 10, rhythmLead: "II", leadNames: "I", baseline: false, notch: 0,
      start: 0 },
    exam: null, leadsRaw: null, leadsShown: null, sheet: null,
    // The part of the pane's width the sheet takes (0.5 beside an earlier ECG) and the pixels per
    // millimetre it was last drawn at, which a second sheet on the page draws at too.
    widthShare: 1, scale: null,
    caliper: { on: false, points: [], march: false, active: 1 },
    saving: Promise.resolve(),
  };

  /* --- Preferences -------------------------------------------------------------------------- */
  function applyPreferences(prefs) {
    v.view.layout = prefs.layout; v.view.speed = prefs.speed; v.view.gain = prefs.gain;
    v.view.leadNames = prefs.lead_names;
    $("layout").value = prefs.layout;
    $("speed").value = String(prefs.speed);
    $("gain").value = String(prefs.gain);
    $("lead-names").value = prefs.lead_names;
  }
  /* Resolves once the user's preferences are on the toolbar (or at once with the standard view). */
  v.loadPreferences = function (request) {
    // No preferences URL: a viewer without reader preferences (the coordinator's exam page) keeps the
    // standard view and saves nothing.
    if (!request && !opts.preferencesUrl) return Promise.resolve();
    var answer = request || fetch(opts.preferencesUrl, { credentials: "include", headers: { Accept: "application/json" } });
    return answer.then(function (r) { return r.ok ? r.json() : null; })
      .then(function (prefs) { if (prefs) applyPreferences(prefs); }, function () {});
  };
  /* Preferences the page already holds (the reader page carries them): resolves at once. */
  v.usePreferences = function (prefs) {
    applyPreferences(prefs);
    return Promise.resolve();
  };
  // Saved one after the other, so the server keeps the last choice made.
  function savePreference(key, value) {
    if (!opts.preferencesUrl) return;
    var body = {};
    body[PREF_KEY[key]] = value;
    v.saving = v.saving.then(function () {
      return fetch(opts.preferencesUrl, { method: "PUT", credentials: "include", body: JSON.stringify(body),
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": opts.csrf } });
    }).catch(function () {});
  }

  /* --- Drawing ------------------------------------------------------------------------------ */
  v.setExam = function (exam, leadsRaw) {
    v.exam = exam; v.leadsRaw = leadsRaw; v.caliper.points = []; v.view.start = 0;
    filterLeads();
    fillRhythmLeads();
  };
  function filterLeads() {
    v.leadsShown = P.applyFilters(v.leadsRaw, v.exam.sampling_rate, { baseline: v.view.baseline, notch: v.view.notch });
  }
  function paperFor(speed, gain) {
    var view = v.view, exam = v.exam;
    return P.paper(view.layout, { speed: speed, gain: gain, samplingRate: exam.sampling_rate,
      nSamples: exam.n_samples, rhythmLead: view.rhythmLead, start: view.start });
  }
  /* The window control: shown for a recording longer than a sheet, saying which seconds are on it. */
  function showWindow() {
    var box = $("time-window"), sheet = v.sheet;
    if (!box) return;
    // More than half a small box (20 ms at 25 mm/s) past the sheet: a cart's odd rate leaves a few
    // milliseconds over (6,000 samples at 599.88 Hz are 10.002 s), which is no second window to page to.
    var longer = sheet.duration > sheet.span + PAST_SHEET_S;
    box.hidden = !longer;
    if (!longer) return;
    $("window-readout").textContent = t("window_readout", { from: number(sheet.start, 1),
      to: number(sheet.start + sheet.span, 1), total: number(sheet.duration, 1) });
    $("window-earlier").disabled = sheet.start <= 0;
    $("window-later").disabled = sheet.start + sheet.span >= sheet.duration - 1e-6;
  }
  /* The previous (-1) or next (+1) window of a long recording; its last window ends with the recording. */
  v.shiftWindow = function (direction) {
    var sheet = v.sheet;
    if (!sheet || sheet.duration <= sheet.span + PAST_SHEET_S) return Promise.resolve();  // one sheet holds it
    var start = Math.max(0, Math.min(sheet.start + direction * sheet.span, sheet.duration - sheet.span));
    if (Math.abs(start - sheet.start) < 1e-9) return Promise.resolve();
    return changeView("start", start);
  };
  v.draw = function () {
    var view = v.view, started = performance.now();
    v.sheet = paperFor(view.speed, view.gain);
    var look = { scale: Plot.scaleFor(gd, paperFor(25, 10), v.widthShare), leadNames: view.leadNames };
    v.scale = look.scale;
    return Plot.draw(gd, v.sheet, v.leadsShown, v.exam.lead_names, overlay(),
      opts.config, look).then(function () {
      if (opts.onDrawn) opts.onDrawn(performance.now() - started);
      showWindow();
      fitLayer(); // reads the figure's size back (a layout pass): after the strips are on screen
    });
  };
  // Calipers, and what the page lays over the strips (opts.extraShapes: the reader's relevance band).
  function overlay() {
    return Plot.caliperShapes(v.sheet, v.caliper).concat(opts.extraShapes ? opts.extraShapes(v.sheet) : []);
  }
  // The caliper layer covers the whole figure, also the part scrolled out of view.
  function fitLayer() {
    var layer = $("caliper-layer");
    layer.style.width = gd.offsetWidth + "px";
    layer.style.height = gd.offsetHeight + "px";
    layer.style.right = "auto"; layer.style.bottom = "auto";
  }
  /* A new layout or rhythm lead moves the strips: the caliper points go. A new speed, gain or lead names
   * draw the same strips at another scale or under other names: the points, samples of a lead, stay on
   * the beat they were placed on, as a cart's calipers would. */
  var KEEPS_CALIPERS = { speed: true, gain: true, leadNames: true };
  function changeView(key, value) {
    var kept = KEEPS_CALIPERS[key] ? v.caliper.points.slice() : [];
    v.view[key] = value;
    v.caliper.points = [];
    if (PREF_KEY[key]) savePreference(key, value);
    if (!v.exam) return Promise.resolve(); // chosen before the exam arrived: drawn with it
    if (key === "leadNames") fillRhythmLeads();
    return v.draw().then(function () { v.caliper.points = onNewSheet(kept); showCaliper(); });
  }
  /* The same points on the sheet just drawn: on the same lead's strip (or the rhythm strip), same sample;
   * none at all if one of them is no longer on paper. */
  function onNewSheet(points) {
    var panels = v.sheet ? v.sheet.panels : [];
    var moved = points.map(function (point) {
      var panel = panels.filter(function (q) {
        return q.lead === point.panel.lead && q.rhythm === point.panel.rhythm && point.index >= q.i0 && point.index < q.i1;
      })[0];
      return panel && { panel: panel, index: point.index, mv: point.mv };
    });
    return moved.every(Boolean) ? moved : [];
  }
  function fillRhythmLeads() {
    var select = $("rhythm-lead");
    select.textContent = "";
    v.exam.lead_names.slice(0, 12).forEach(function (name) {
      select.add(new Option(Plot.leadLabel(name, v.view.leadNames), name, false, name === v.view.rhythmLead));
    });
  }
  v.resetZoom = function () { if (v.sheet) Plot.resetZoom(gd, v.sheet); };
  v.cycleLayout = function () {
    var order = ["3x4", "6x2", "12x1"], next = order[(order.indexOf(v.view.layout) + 1) % order.length];
    $("layout").value = next;
    return changeView("layout", next);
  };

  /* --- Calipers ----------------------------------------------------------------------------- */
  function caliperClick(event) {
    var at = Plot.toPaper(gd, event.clientX, event.clientY);
    var point = at && Plot.samplePoint(v.sheet, at.x, at.y);
    if (!point) return;
    var c = v.caliper;
    if (c.points.length >= 2 || (c.points.length === 1 && c.points[0].panel !== point.panel)) c.points = [];
    c.points.push(point);
    c.active = c.points.length - 1;
    c.march = false;
    showCaliper();
  }
  /* Calipers from the keyboard, while they are on: an arrow moves the active point one small box (1 mm
   * of paper) or, with Shift, one sample; x makes the other point the active one. With none placed,
   * both start at the beginning of the rhythm strip (else the first strip); with one, the second starts
   * on it. Intervals are what a keyboard reader measures: a point keeps its height. */
  function caliperNudge(direction, fine) {
    var c = v.caliper, sheet = v.sheet;
    if (!c.on || !sheet) return false;
    if (!c.points.length) {
      var start = sheet.panels.filter(function (p) { return p.rhythm; })[0] || sheet.panels[0];
      c.points = [{ panel: start, index: start.i0, mv: 0 }];
    }
    if (c.points.length === 1) {
      c.points.push({ panel: c.points[0].panel, index: c.points[0].index, mv: c.points[0].mv });
      c.active = 1;
    }
    var point = c.points[c.active], panel = point.panel;
    var step = fine ? 1 : Math.max(1, Math.round(sheet.samplingRate / sheet.speed));
    point.index = Math.max(panel.i0, Math.min(panel.i1 - 1, point.index + direction * step));
    c.march = false;
    showCaliper();
    return true;
  }
  function caliperSwitch() {
    var c = v.caliper;
    if (!c.on || c.points.length !== 2) return false;
    c.active = 1 - c.active;
    showCaliper();
    return true;
  }
  function showCaliper() {
    var out = $("caliper-readout"), c = v.caliper;
    if (v.sheet) Plot.setShapes(gd, v.sheet, overlay());
    if (c.points.length < 2) {
      out.textContent = c.on ? t("caliper_hint") : "";
      delete out.dataset.intervalMs;
      return;
    }
    var m = Plot.measure(c.points, v.exam.sampling_rate);
    out.dataset.intervalMs = m.ms.toFixed(1);
    out.dataset.amplitudeMv = m.mv.toFixed(3);
    out.dataset.rateBpm = m.bpm.toFixed(1);
    out.textContent = t("caliper_readout", { ms: number(m.ms, 0), mv: number(m.mv, 2), bpm: m.bpm ? number(m.bpm, 0) : "–" });
  }
  v.showCaliper = showCaliper;
  v.toggleCalipers = function (force) {
    var c = v.caliper;
    c.on = typeof force === "boolean" ? force : !c.on;
    $("caliper-layer").hidden = !c.on;
    $("caliper-toggle").setAttribute("aria-pressed", String(c.on));
    $("caliper-readout").hidden = !c.on && c.points.length < 2;
    if (!c.on) c.points = [];
    showCaliper();
  };
  v.marchOut = function () {
    if (v.caliper.points.length !== 2) return;
    v.caliper.march = !v.caliper.march;
    showCaliper();
  };

  /* --- Wiring ------------------------------------------------------------------------------- */
  function on(id, type, handler) { $(id).addEventListener(type, handler); }
  v.wire = function () {
    on("caliper-toggle", "click", function () { v.toggleCalipers(); });
    on("caliper-layer", "click", caliperClick);
    on("march", "click", v.marchOut);
    on("reset-zoom", "click", v.resetZoom);
    if ($("time-window")) {
      on("window-earlier", "click", function () { v.shiftWindow(-1); });
      on("window-later", "click", function () { v.shiftWindow(1); });
    }
    on("layout", "change", function () { changeView("layout", this.value); });
    on("rhythm-lead", "change", function () { changeView("rhythmLead", this.value); });
    on("speed", "change", function () { changeView("speed", parseFloat(this.value)); });
    on("gain", "change", function () { changeView("gain", parseFloat(this.value)); });
    on("lead-names", "change", function () { changeView("leadNames", this.value); });
    on("filter-baseline", "change", function () { v.view.baseline = this.checked; filterLeads(); v.draw(); });
    on("filter-notch", "change", function () { v.view.notch = parseFloat(this.value) || 0; filterLeads(); v.draw(); });
    // A choice made with the mouse hands the keys back to the page; one made with the arrow keys keeps
    // the focus on its list, so that the next arrow goes on through it (not through the statements).
    document.querySelectorAll(".toolbar select").forEach(function (s) {
      var byPointer = false;
      s.addEventListener("pointerdown", function () { byPointer = true; });
      s.addEventListener("keydown", function () { byPointer = false; });
      s.addEventListener("change", function () { if (byPointer) s.blur(); byPointer = false; });
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { if (v.sheet) v.draw(); }, 150);
    });
  };
  /* The viewer's keys, for the page's own key handler. */
  v.keys = {
    c: function () { v.toggleCalipers(); },
    // Handled only while the calipers are on: false leaves the key to the page (scrolling, lists).
    ArrowLeft: function (e) { return caliperNudge(-1, !!(e && e.shiftKey)); },
    ArrowRight: function (e) { return caliperNudge(1, !!(e && e.shiftKey)); },
    x: caliperSwitch,
    m: v.marchOut,
    r: v.resetZoom,
    l: v.cycleLayout,
    "[": function () { v.shiftWindow(-1); },
    "]": function () { v.shiftWindow(1); },
  };
  return v;
}

export { create, number };
