/* Submitting the read on screen and going on to the next exam: at once where the answer cannot change
 * what comes next (the prefetched next exam is drawn while the submit travels, and a refusal brings the
 * reader back with their choices), from the server's answer otherwise (two-stage reads). An amendment of a
 * submitted read is sent the same way, with its reason. */

export function createSubmit(page) {
  var $ = page.$, t = page.t, state = page.state, showMessage = page.showMessage, readOnly = page.readOnly;
  var network = page.network, closed = network.closed;

  /* A submit refused here from the comment box (Ctrl+Enter) hands the keys back to the page: left in the
   * box, the "/" and statement the reader typed next to fix the read went into their comment. */
  function leaveComment() {
    if (document.activeElement === $("comment")) $("comment").blur();
  }
  function submit() {
    if (readOnly()) return;
    var statements = page.statements, viewer = page.viewer;
    var clashes = statements.checkConflicts();
    if (clashes.length) { leaveComment(); statements.focusClash(clashes[0]); return; } // the message names every pair
    if (!statements.chosenInOrder().length) { showMessage(t("choose_one"), "error"); leaveComment(); return; }
    if (state.amending) { leaveComment(); page.readState.openAmend(); return; }
    var save = state.save, ctx = state.ctx;
    clearTimeout(save.timer);
    var id = ctx.assignment.id, body = page.drafts.payload(), nextId = ctx.next_assignment_id, read = state.annotation;
    // Outside two-stage reads the answer cannot change what comes next, and the checks the server
    // makes were already made here, so the prefetched next exam is drawn while the submit travels.
    // A refused submit brings the reader back to this exam with their choices intact.
    var optimistic = !!(nextId && state.prefetched[nextId] && ctx.assignment.suggestion_mode !== "two_stage");
    var kept = { selected: state.selected, comment: body.comment };
    // What puts this exam back on screen, should its submit be refused once the next one is drawn.
    var back = optimistic ? { ctx: ctx, exam: viewer.exam, leads: viewer.leadsRaw } : null;
    $("submit").disabled = true;
    state.submittedAt = performance.now();
    // The submit waits for any autosave of this read still travelling; that save moves the revision
    // on, so the submit carries the revision as it stands then, not as when the key was pressed.
    var request = save.chain.then(function () {
      body.revision = read.revision;
      return network.api(id + "/submit/", "POST", body);
    });
    save.chain = request.catch(function () {});
    if (optimistic) save.dirty = false; // this exam's state travels with the submit, not a later autosave
    var shown = optimistic ? page.opening.open(nextId, true, false, undefined, true) : null;
    return request.then(function (r) { return submitAnswered(r, { id: id, nextId: nextId, shown: shown, kept: kept, back: back }); })
      .catch(function () { $("submit").disabled = false; showMessage(t("save_failed"), "error"); });
  }
  /* sent: the submitted assignment id, the next one expected, the optimistic open of it (or null) and
   * the choices to restore should the server refuse. */
  function submitAnswered(r, sent) {
    var goneAway = page.drafts.goneAway, opening = page.opening;
    $("submit").disabled = readOnly();
    if (r.status === 404 || closed(r)) {
      // Said on the exam it is about, with the reader's choices as they were: the next exam, drawn at
      // once while the submit travelled, goes (its prefetch may have left with the batch too).
      var reason = closed(r) && r.data.detail;
      if (!sent.shown) { goneAway(reason); return; }
      return sent.shown.then(function () { return showAgain(sent.back); })
        .then(function () {
          state.selected = sent.kept.selected; $("comment").value = sent.kept.comment;
          page.statements.renderSelection(); goneAway(reason);
        });
    }
    if (r.status !== 200) {
      var message = network.problem(r.data);
      if (!sent.shown) { showMessage(message, "error"); return; }
      return sent.shown.then(function () { return opening.open(sent.id, true, true); })
        .then(function () { restore(sent.kept, message); });
    }
    if (sent.shown) {
      return sent.shown.then(function (opened) {
        if (opened === false || r.data.next_assignment_id !== sent.nextId) return goNext(r.data.next_assignment_id);
      });
    }
    state.save.dirty = false;
    if (!r.data.done) { // two-stage: the blind read is stored; now the suggestion, and a revision
      showMessage(t("blind_stored"), "info");
      return opening.apply(r.data.context);
    }
    return goNext(r.data.next_assignment_id);
  }
  /* The exam a refused submit was about, back on screen from what the page still holds of it (its context,
   * tracing and address), without asking the server, which no longer gives it to this reader. */
  function showAgain(back) {
    page.viewer.setExam(back.exam, back.leads);
    page.opening.apply(back.ctx);
    history.replaceState({ id: back.ctx.assignment.id }, "", back.ctx.assignment.page_url);
    return page.viewer.draw();
  }
  function restore(kept, message) {
    state.selected = kept.selected;
    $("comment").value = kept.comment;
    page.drafts.renderCommentCount();
    page.statements.renderSelection();
    state.save.dirty = true;
    showMessage(message, "error");
  }
  function goNext(nextId) {
    // The end of the queue: "Continue" on the batch, whose page says the batch is finished (views/reading.py).
    if (!nextId) {
      window.location.assign(state.ctx ? page.rootEl.dataset.nextUrl + "?batch=" + state.ctx.assignment.batch_id : page.HOME);
      return;
    }
    return page.opening.open(nextId, true);
  }
  function amend(reason) {
    var id = state.ctx.assignment.id, body = page.drafts.payload();
    body.reason = reason;
    $("submit").disabled = true;
    return network.api(id + "/amend/", "POST", body).then(function (r) {
      $("submit").disabled = false;
      if (r.status === 404 || closed(r)) { page.drafts.goneAway(closed(r) && r.data.detail); return; }
      if (r.status !== 200) { showMessage(network.problem(r.data), "error"); return; }
      state.save.dirty = false;
      page.opening.apply(r.data.context);
      showMessage(t("amended", { revision: r.data.revision }), "info");
    }, function () { $("submit").disabled = false; showMessage(t("save_failed"), "error"); });
  }

  function wire() {
    page.on("submit", "click", submit);
  }

  return { submit: submit, goNext: goNext, amend: amend, wire: wire };
}
