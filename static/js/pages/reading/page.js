/* The reader page's shared pieces, made once by pages/reading.js and handed to each of its parts
 * (pages/reading/*.js): the page's elements and words, its API (network.js), and `state`, where everything
 * that changes while the page is open lives. Each part is a create(page) that returns its functions; the
 * entry module sets them on the page (page.statements, page.drafts, ...), where the other parts call them.
 * No part imports another (only this module's helpers): the entry module says in one place what the page
 * is made of, and the parts call each other only once all are made. */
import { translator } from "../../ecg/locale.js";

export function createPage(rootEl) {
  var $ = function (id) { return document.getElementById(id); };
  var state = {
    ctx: null, // the open assignment's context from the API (assignment, exam, taxonomy, suggestion, annotation)
    annotation: null, // ctx.annotation, kept apart: a draft answered after the next exam opened still finds it
    gone: false, // the open exam left the reader's queue while open (goneAway): nothing more is written
    submittedAt: -Infinity, // when the last submit left (performance.now): the next one by key waits a moment
    appliedAt: -Infinity, // when the read on screen appeared (performance.now)
    touched: false, // the reader changed the read on screen since it opened
    prefetched: {}, // assignment id -> Promise of ArrayBuffer (the next exam's waveform)
    // assignment id -> Promise of the next exam's context (hidden and shown modes; in shown mode without
    // its suggestion, which is fetched, and recorded as shown, when the exam opens: marked `pending`)
    prefetchedContext: {},
    // The statement list: rows in taxonomy order; ranked holds the search's matches, best first, or null.
    list: { statements: [], byCode: {}, kinds: {}, searchIndex: [], ranked: null, focusIndex: 0, normalCode: null },
    selected: {}, // code -> {uncertain}
    save: { dirty: false, timer: null, chain: Promise.resolve() },
    clock: { base: 0, visibleSince: null }, // time on task: what earlier visits counted, and since when visible
    medianFor: null, // the context whose median beat panel is on screen
  };

  function showMessage(text, kind) {
    var m = $("message");
    m.textContent = text;
    m.hidden = !text;
    m.dataset.kind = text ? kind || "info" : "";
  }
  function readOnly() {
    var ctx = state.ctx;
    if (ctx && !state.gone && state.amending) return false; // a submitted read opened for amendment
    return !ctx || state.gone || ctx.assignment.status === "submitted" || ctx.assignment.status === "skipped";
  }
  function on(id, type, handler) { $(id).addEventListener(type, handler); }

  return {
    rootEl: rootEl, $: $, on: on, state: state, t: translator("strings"), gd: $("ecg"),
    API: rootEl.dataset.apiBase, HOME: rootEl.dataset.homeUrl, CSRF: rootEl.dataset.csrf,
    showMessage: showMessage, readOnly: readOnly,
  };
}

/* Work the page can leave for a quiet moment (building the search's index, the next exam's prefetch). */
export function whenIdle(fn) {
  if (window.requestIdleCallback) window.requestIdleCallback(fn, { timeout: 1000 }); else setTimeout(fn, 0);
}
/* Resolves once the browser has had a frame to paint what is drawn: a task queued from an animation
 * frame's callbacks runs after that frame's paint (in a Chromium trace the frame right after the drawing
 * painted the strips, and the callbacks came with the next one). After 100 ms without a frame (a hidden
 * tab has none), at once. */
export function afterPaint() {
  return new Promise(function (resolve) {
    var late = setTimeout(resolve, 100);
    requestAnimationFrame(function () { setTimeout(function () { clearTimeout(late); resolve(); }, 0); });
  });
}
