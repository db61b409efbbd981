/* The read on screen as the reader makes it: every change is saved as a draft a moment later (and at once
 * when the page is hidden, left or logged out of), with the time on task; a draft another tab saved first
 * reloads the read as saved there; an exam that left the reader's queue while open stops all writing. */

export function createDrafts(page) {
  var $ = page.$, t = page.t, state = page.state, showMessage = page.showMessage, readOnly = page.readOnly;
  var network = page.network;

  function elapsed() {
    var clock = state.clock;
    return clock.base + (clock.visibleSince ? performance.now() - clock.visibleSince : 0);
  }
  function payload() {
    var selected = state.selected;
    return { labels: page.statements.chosenInOrder().map(function (c) {
      return { code: c, uncertain: !!selected[c].uncertain, qualifiers: selected[c].qualifiers || [] };
    }),
      comment: $("comment").value, time_on_task_ms: Math.round(elapsed()), revision: state.annotation.revision };
  }
  /* Near the comment's limit the count shows: the box stops there, and a longer paste is cut. */
  function renderCommentCount() {
    var box = $("comment"), out = $("comment-count"), max = box.maxLength;
    out.hidden = !(max > 0 && box.value.length >= 0.8 * max);
    out.textContent = out.hidden ? "" : t("comment_count", { n: box.value.length, max: max });
  }
  function changed() {
    state.touched = true;
    renderCommentCount();
    page.statements.renderSelection();
    state.save.dirty = true;
    $("save-state").textContent = t("unsaved");
    clearTimeout(state.save.timer);
    state.save.timer = setTimeout(saveDraft, 700);
  }
  function saveDraft(keepalive) {
    var save = state.save;
    clearTimeout(save.timer);
    // An amendment is sent whole, with its reason (amend()); a submitted read has no draft.
    if (!save.dirty || readOnly() || state.amending) return save.chain;
    var id = state.ctx.assignment.id;
    save.chain = save.chain.then(function () {
      if (!save.dirty || !state.ctx || state.ctx.assignment.id !== id) return;
      save.dirty = false;
      var saved = state.annotation, body = payload(); // this exam's read, even if the next exam is on screen
      return network.api(id + "/draft/", "PUT", body, keepalive).then(function (r) { return draftAnswered(r, id, saved, body); },
        function () { save.dirty = true; $("save-state").textContent = t("save_failed"); });
    }).catch(function () { save.dirty = true; }); // keep the chain alive for the next save
    return save.chain;
  }
  function draftAnswered(r, id, saved, sent) {
    var closed = network.closed;
    if (r.status === 200) {
      saved.revision = r.data.revision;
      state.ctx.assignment.status = "in_progress";
      $("save-state").textContent = t("saved");
    } else if (r.status === 404 || closed(r)) {
      if (state.ctx && state.ctx.assignment.id === id) goneAway(closed(r) && r.data.detail);
    } else if (r.status === 409) {
      // Another tab or device saved (or closed) this read: it is reloaded as saved there, and the reader
      // is told which of this tab's choices that drops. The notice is shown once the reload has redrawn
      // the choices, whose conflict check would otherwise clear it.
      return page.opening.open(id, null, true).then(function () { showStale(sent); });
    } else {
      state.save.dirty = true;
      showMessage(network.problem(r.data), "error");
    }
  }
  function showStale(sent) {
    var now = state.selected;
    // By name and code, as the conflict message names them: a code alone means little to every reader.
    var dropped = sent.labels.filter(function (l) { return !now[l.code]; }).map(function (l) {
      var c = state.list.byCode[l.code];
      return c ? c.label + " (" + l.code + ")" : l.code;
    });
    var text = t("stale") + (dropped.length ? " " + t("stale_dropped", { codes: dropped.join(", ") }) : "");
    showMessage(text, "stale");
  }
  /* A write answered 404: the exam left the reader's queue (moved to another reader, or its batch closed)
   * while it was open; or 409 saying its batch was closed, whose words (the batch, when, what was kept)
   * replace the general ones. Nothing more is written; the reader goes on with what their queue holds now,
   * which the server decides (the prefetched next exam may have left with it). */
  function goneAway(reason) {
    if (reason) $("gone-reason").textContent = reason;
    state.gone = true;
    clearTimeout(state.save.timer);
    state.save.dirty = false;
    showMessage("");
    $("save-state").textContent = "";
    $("submit").disabled = true;
    var link = $("gone-next"), batch = state.ctx && state.ctx.assignment.batch_id;
    if (batch) link.href = page.rootEl.dataset.nextUrl + "?batch=" + batch;
    $("gone").hidden = false;
  }

  function wire() {
    page.on("comment", "input", function () { if (!readOnly()) changed(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") state.clock.visibleSince = performance.now();
      else {
        state.clock.base = elapsed(); state.clock.visibleSince = null;
        if (state.save.dirty) saveDraft(true);
      }
    });
    window.addEventListener("pagehide", function () { if (state.save.dirty) saveDraft(true); });
    // A logout ends the session the draft's save needs: a choice made a moment ago (its save waiting for
    // the pause after the last change, or on its way) is saved first, for three seconds at most.
    var logout = document.querySelector("form.logout");
    if (logout) logout.addEventListener("submit", function (e) {
      e.preventDefault();
      var go = function () { logout.submit(); };
      Promise.race([saveDraft(), new Promise(function (done) { setTimeout(done, 3000); })]).then(go, go);
    });
  }

  return { payload: payload, renderCommentCount: renderCommentCount, changed: changed, goneAway: goneAway, wire: wire };
}
