/* What the read on screen is: a draft, submitted or skipped (then read-only, with a way on to the next
 * exam), returned by a coordinator with a reason, or a submitted read being amended (Amend…, then a
 * reason in a dialog). What the server allows comes with the context (correction). */

export function createReadState(page) {
  var $ = page.$, t = page.t, state = page.state, readOnly = page.readOnly;

  /* A submitted or skipped read reopens as what it is, read-only; never as a draft ("Draft saved"). */
  function renderReadState() {
    var a = state.ctx.assignment, status = a.status, box = $("read-state");
    $("save-state").textContent = status === "submitted" ? t("submitted_state")
      : status === "skipped" ? t("skipped_state") : state.annotation.revision ? t("saved") : "";
    box.textContent = status === "submitted" ? t("read_only_submitted")
      : status === "skipped" ? t("read_only_skipped", { reason: a.skip_reason || "–" }) : "";
    renderCorrection(box);
    box.hidden = !box.textContent;
    // A read-only exam leaves the reader a way on: their next exam of the batch, or word that it is finished.
    $("read-only-way").hidden = status !== "submitted" && status !== "skipped";
    $("read-only-next").href = page.rootEl.dataset.nextUrl + "?batch=" + a.batch_id;
    page.rootEl.classList.toggle("read-only", readOnly());
  }
  /* A submitted read may be amended while its exam is open (Amend…, then a reason); a read a coordinator
   * returned says why. */
  function renderCorrection(box) {
    var c = state.ctx.correction || {}, status = state.ctx.assignment.status;
    if (status === "submitted" && c.refusal) box.textContent += " " + c.refusal;
    if (state.amending) box.textContent = t("amending");
    if (c.returned && status === "in_progress") box.textContent = t("returned", { reason: c.returned.reason });
    $("amend").hidden = !(status === "submitted" && c.amendable) || state.amending;
  }
  function startAmend() {
    state.amending = true;
    $("comment").disabled = false;
    $("submit").disabled = false;
    $("skip").disabled = true;
    renderReadState();
    page.statements.renderSelection();
  }
  function openAmend() {
    $("amend-reason").value = "";
    $("amend-dialog").showModal();
    $("amend-reason").focus();
  }
  // Two-stage: once the blind read is stored it counts; skipping now would withdraw it (the server refuses).
  function canSkip() { return !readOnly() && !state.annotation.blind; }

  function wire() {
    page.on("amend", "click", startAmend);
    page.on("amend-form", "submit", function (e) {
      e.preventDefault();
      var reason = $("amend-reason").value.trim();
      if (!reason) return;
      $("amend-dialog").close();
      page.submit.amend(reason);
    });
    page.on("amend-cancel", "click", function () { $("amend-dialog").close(); });
  }

  return { renderReadState: renderReadState, openAmend: openAmend, canSkip: canSkip, wire: wire };
}
