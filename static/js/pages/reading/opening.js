/* Opening an exam in place (the next one, one from history, the same one reloaded): its waveform and
 * context, prefetched where they were (prefetch.js), drawn, then its context applied to the whole page:
 * statements, the read, the suggestion and median beat, its state, and its address. */
import * as P from "../../ecg/paper.js";
import { afterPaint, whenIdle } from "./page.js";

// How long an exam just drawn settles before the next one is prefetched.
var SETTLE_MS = 300;

export function createOpening(page) {
  var $ = page.$, t = page.t, state = page.state, readOnly = page.readOnly, network = page.network;

  /* The context of the exam on screen applied to every part of the page. */
  function apply(context) {
    var previous = state.ctx;
    var sameTaxonomy = previous && state.list.statements.length && previous.assignment.batch_id === context.assignment.batch_id;
    state.ctx = context;
    state.amending = false;
    state.touched = false;
    state.appliedAt = performance.now();
    state.annotation = context.annotation;
    state.selected = {};
    context.annotation.labels.forEach(function (l) {
      state.selected[l.code] = { uncertain: l.uncertain, qualifiers: l.qualifiers || [] };
    });
    $("comment").value = context.annotation.comment || "";
    page.drafts.renderCommentCount();
    state.clock.base = context.annotation.time_on_task_ms || 0;
    state.clock.visibleSince = document.visibilityState === "visible" ? performance.now() : null;
    if (!sameTaxonomy) page.statements.buildStatements(); // the same batch has the same statements: keep the rows
    page.statements.filter($("search").value);
    page.statements.renderSelection();
    page.examContext.renderContext();
    page.suggestion.renderSuggestion();
    page.suggestion.explain(context);
    // Two-stage: the panel arrives with the revision's context, under the strips, which keep their scale.
    page.suggestion.renderMedian(context);
    page.readState.renderReadState();
    $("comment").disabled = readOnly();
    $("submit").disabled = readOnly();
    $("skip").disabled = !page.readState.canSkip();
    $("skip").title = !readOnly() && state.annotation.blind ? t("skip_after_blind") : "";
  }
  /* ahead: opened while the submit of the exam on screen travels; an exam no longer the reader's (its
   * prefetch answered 404 after a coordinator moved it) then resolves false and leaves the submit's answer
   * to say what comes next, rather than leaving for the home page. */
  function open(id, push, keepView, preferences, ahead) {
    var waveform = state.prefetched[id] || network.fetchWaveform(network.waveformUrl(id));
    var context = (!keepView && state.prefetchedContext[id]) || network.api(id + "/");
    delete state.prefetched[id];
    delete state.prefetchedContext[id];
    return context.then(function (r) {
      if (r.status !== 200 && ahead) return false;
      if (r.status !== 200) { window.location.assign(page.HOME); return; }
      // Asked for now, while the tracing is drawn from the prefetched context.
      var full = r.data.pending ? network.api(id + "/") : null;
      return Promise.all([waveform, preferences]).then(function (got) { return show(id, r.data, got[0], push, keepView); })
        .then(function () { if (full) return page.prefetch.suggestionArrived(id, full); });
    });
  }
  /* stripsDrawn: the first exam's strips are on screen already, drawn from the page's sheet (first-exam.js). */
  function show(id, context, buffer, push, keepView, stripsDrawn) {
    var exam = context.exam, beats = null, viewer = page.viewer;
    // Its beats are drawn right after the strips, in the same task (both show at once; the first exam's
    // strips, drawn before its context, went earlier): the reader looks at the strips first.
    page.suggestion.renderMedian(context, function (draw) { beats = draw; });
    var drawBeats = function () { if (beats) beats(); beats = null; };
    page.sheet.priors.arrange(context.priors || [], context, context.assignment.id); // so does an earlier ECG beside them
    if (!stripsDrawn) viewer.setExam(exam, P.decode(buffer, exam.lead_names.length, exam.n_samples, exam.gain_uv));
    if (!keepView) page.showMessage("");
    // After the draw: the address (pushState costs a tenth of a switch in Chromium, measured), and the
    // next exam, needed seconds from now at the earliest, once this one has settled, so that its
    // requests never queue on the server ahead of this page's (or a reload's) own.
    var ready = function () {
      state.appliedAt = performance.now(); // on screen now: the reader's second starts here
      drawBeats();
      if (push) history.pushState({ id: id }, "", context.assignment.page_url);
      viewer.showCaliper();
      setTimeout(function () { whenIdle(page.prefetch.prefetchNext); }, SETTLE_MS);
    };
    if (!state.ctx) {
      // First exam of the page: the reader looks at the tracing first, so it is drawn and put on screen
      // before the 70-odd statement rows are built (a frame later, before any key press). Chained straight
      // on, both would reach the screen together after one long task whenever the context came first.
      // The exam is marked drawn (data-drawn, what tests and the bench wait for) once its context is applied.
      var strips = stripsDrawn ? Promise.resolve() : viewer.draw();
      return strips.then(afterPaint).then(function () { apply(context); page.sheet.marked(); ready(); });
    }
    apply(context);
    return viewer.draw().then(ready);
  }

  function wire() {
    window.addEventListener("popstate", function (e) { if (e.state && e.state.id) open(e.state.id, false); });
  }

  return { apply: apply, open: open, show: show, wire: wire };
}
