/* Serial comparison: the patient's earlier ECG on the same paper as the exam on screen, beneath it or beside
 * it, at the same layout, speed, gain, filters and pixels per millimetre; a zoom of either sheet shows the
 * same stretch of paper on the other. The reader page and the adjudication case share it. The module exports
 * create(opts), opts: {viewer (static/js/ecg/viewer.js), gd (the exam's figure), $, t,
 * fetchWaveform(url) -> Promise of ArrayBuffer}. The page's markup: #priors-control with #priors-view and
 * #prior-choice, #prior-pane with #prior-caption and #ecg-prior (templates/annotations/reading/_priors.html).
 *
 * The page hands over each exam's list of earlier ECGs (each {n, acquired_on, sampling_rate, n_samples,
 * lead_names, gain_uv, waveform_url}) with arrange(list, owner, id) before the strips are drawn (side by
 * side they take half the width), and calls draw() after every drawing of the strips. `owner` is what the
 * list came with (the reader page's context: a new one starts again from the most recent earlier ECG);
 * `id` names the exam on screen, which the cache of decoded samples and the drawn mark carry. Nothing is
 * fetched until the earlier ECG is opened. On the reader page a fourth view, "overlay", lays the earlier
 * ECG's median beats over the current ones lead by lead (#serial-overlay, from the prior's overlay_url). */
import * as P from "./paper.js";
import * as Plot from "./plot.js";
import * as Median from "./median.js";
import * as Plotly from "./plotly.js";
// A date as the page's language writes it (27/11/2026 in Portuguese, as Django's pt_BR formats do).
import { day } from "./locale.js";

function create(opts) {
  var viewer = opts.viewer, gd = opts.gd, $ = opts.$, t = opts.t;
  var s = { mode: "none", n: 1, list: [], owner: null, id: "", leads: {}, overlays: {}, token: null };

  function onScreen() {
    return s.mode !== "none" && s.list.length ? s.list[s.n - 1] || s.list[0] : null;
  }
  /* The control for the exam's earlier ECGs, and the pane's arrangement. */
  function arrange(list, owner, id) {
    var choice = $("prior-choice");
    if (owner !== undefined && owner !== s.owner) {
      s.owner = owner;
      s.id = String(id);
      s.list = list || [];
      s.n = 1;
      choice.textContent = "";
      s.list.forEach(function (p) { choice.add(new Option(day(p.acquired_on), String(p.n))); });
      choice.hidden = s.list.length < 2;
      $("priors-control").hidden = !s.list.length;
      // The median beats overlaid: where the page has their place and the server says where they are.
      var overlay = $("priors-view").querySelector("option[value=overlay]");
      if (overlay) overlay.hidden = overlay.disabled = !overlays();
      if (s.mode === "overlay" && !overlays()) s.mode = "none";
    }
    var mode = onScreen() ? s.mode : "none", wrap = gd.parentElement;
    wrap.classList.toggle("priors-stacked", mode === "stacked");
    wrap.classList.toggle("priors-side", mode === "side");
    $("prior-pane").hidden = mode === "none" || mode === "overlay";
    if ($("serial-overlay")) $("serial-overlay").hidden = mode !== "overlay";
    if (mode === "none" && $("ecg-prior").data) Plotly.purge($("ecg-prior"));
    viewer.widthShare = mode === "side" ? 0.5 : 1;
  }
  function leadsOf(p) {
    var key = s.id + ":" + p.n, cache = s.leads;
    if (!cache[key]) {
      // Only this exam's earlier ECGs are kept: the next exam's are others.
      Object.keys(cache).forEach(function (k) { if (k.split(":")[0] !== s.id) delete cache[k]; });
      cache[key] = opts.fetchWaveform(p.waveform_url).then(function (buffer) {
        return P.decode(buffer, p.lead_names.length, p.n_samples, p.gain_uv);
      });
      cache[key].catch(function () { delete cache[key]; });
    }
    return cache[key];
  }
  /* The earlier ECG on the strips' paper. */
  function draw() {
    var p = onScreen(), box = $("ecg-prior"), token = {}, id = s.id;
    s.token = token;
    if (!p) return Promise.resolve();
    if (s.mode === "overlay") return drawOverlay(p, token);
    var view = viewer.view, mode = s.mode;
    // Side by side, the caption sits under the earlier ECG only: it says which sheet is which.
    $("prior-caption").textContent = t(mode === "side" ? "prior_caption_side" : "prior_caption",
      { date: day(p.acquired_on), n: p.n, count: s.list.length });
    return leadsOf(p).then(function (raw) {
      if (s.token !== token) return; // moved on meanwhile
      var leads = P.applyFilters(raw, p.sampling_rate, { baseline: view.baseline, notch: view.notch });
      var sheet = P.paper(view.layout, { speed: view.speed, gain: view.gain, samplingRate: p.sampling_rate,
        nSamples: p.n_samples, rhythmLead: view.rhythmLead });
      return Plot.draw(box, sheet, leads, p.lead_names, [], {}, { scale: viewer.scale, leadNames: view.leadNames })
        .then(function () {
          zoomTogether(gd, box);
          zoomTogether(box, gd);
          Object.assign(box.dataset, { drawn: id + ":" + p.n, mode: mode, layout: view.layout,
            gain: String(view.gain), speed: String(view.speed) });
        });
    }).catch(function () { $("prior-caption").textContent = t("prior_failed"); });
  }
  function show(mode) {
    if (!s.list.length) return;
    var wasSide = viewer.widthShare !== 1;
    s.mode = mode;
    $("priors-view").value = mode;
    arrange();
    // Side by side the strips take half the width: redrawn, and the earlier ECG with them.
    if (wasSide !== (viewer.widthShare !== 1)) viewer.draw(); else draw();
  }
  function overlays() { return !!$("serial-overlay") && s.list.length > 0 && !!s.list[0].overlay_url; }
  /* The earlier ECG's median beats over the current ones, and the changes (ecg/median.js draws them). */
  function drawOverlay(p, token) {
    var key = s.id + ":" + p.n, box = $("serial-overlay"), id = s.id;
    if (!s.overlays[key]) {
      s.overlays = {}; // one exam's at a time
      s.overlays[key] = fetch(p.overlay_url, { credentials: "include", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("overlay " + r.status); return r.json(); });
      s.overlays[key].catch(function () { delete s.overlays[key]; });
    }
    return s.overlays[key].then(function (data) {
      if (s.token !== token) return;
      Median.overlay(box, data, t, opts.label || String);
      box.dataset.drawn = id + ":" + p.n;
    }).catch(function () { box.textContent = t("serial_failed"); });
  }
  function cycle() {
    var order = overlays() ? ["none", "stacked", "side", "overlay"] : ["none", "stacked", "side"];
    show(order[(order.indexOf(s.mode) + 1) % order.length]);
  }
  function choose(n) {
    s.n = n;
    draw();
  }

  /* One handler per sheet, set again after each drawing (Plotly drops a figure's handlers when it is
   * purged); at the same layout, speed and gain the same millimetres are the same seconds of the same
   * leads. */
  var zoomHandlers = new Map(), zoomSyncing = false;
  function zoomTogether(from, to) {
    if (zoomHandlers.has(from)) from.removeListener("plotly_relayout", zoomHandlers.get(from));
    var handler = function (change) {
      var moved = Object.keys(change).some(function (k) { return /^[xy]axis\.(range|autorange)/.test(k); });
      if (zoomSyncing || !moved || !to.data || $("prior-pane").hidden) return;
      zoomSyncing = true; // the other sheet's own relayout event must not come back here
      var done = function () { zoomSyncing = false; };
      Plotly.relayout(to, { "xaxis.range": from.layout.xaxis.range.slice(), "yaxis.range": from.layout.yaxis.range.slice() })
        .then(done, done);
    };
    zoomHandlers.set(from, handler);
    from.on("plotly_relayout", handler);
  }

  function wire() {
    $("priors-view").addEventListener("change", function () { show(this.value); });
    $("prior-choice").addEventListener("change", function () { choose(Number(this.value)); });
  }

  return { arrange: arrange, draw: draw, show: show, cycle: cycle, choose: choose, wire: wire,
    get mode() { return s.mode; } };
}

export { create };
