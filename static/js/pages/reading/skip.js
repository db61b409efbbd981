/* Skipping the exam on screen: the dialog (s, or Skip) with its listed reasons, keys 1 to 5 choosing one,
 * the reader's own words with "other" only; then the next exam. Not once a two-stage read's blind read is
 * stored, which skipping would withdraw. */

export function createSkip(page) {
  var $ = page.$, t = page.t, state = page.state, showMessage = page.showMessage, readOnly = page.readOnly;
  var network = page.network, closed = network.closed;

  function openSkip() {
    // Said, not silently ignored: the reader pressed s expecting the dialog.
    if (!readOnly() && state.annotation.blind) { showMessage(t("skip_after_blind"), "info"); return; }
    if (!page.readState.canSkip()) return;
    document.querySelectorAll("#skip-codes input").forEach(function (r) { r.checked = false; });
    $("skip-reason").value = "";
    skipCodeChanged();
    $("skip-dialog").showModal();
    document.querySelector("#skip-codes input").focus();
  }
  // The reader's own words go with "other" only, and are required there (the server says the same).
  function skipCodeChanged() {
    var chosen = document.querySelector("#skip-codes input:checked");
    var other = !!chosen && chosen.value === "other";
    $("skip-reason").disabled = !other;
    $("skip-reason").required = other;
    if (!other) $("skip-reason").value = "";
    return other;
  }
  // Keys 1 to 5 choose a reason (the words box takes digits as text); "other" goes on to the words.
  function skipDialogKey(e) {
    if (e.target === $("skip-reason") || e.ctrlKey || e.metaKey || e.altKey) return;
    var choices = document.querySelectorAll("#skip-codes input");
    var n = parseInt(e.key, 10);
    if (!(n >= 1 && n <= choices.length)) return;
    e.preventDefault();
    choices[n - 1].checked = true;
    choices[n - 1].focus();
    if (skipCodeChanged()) $("skip-reason").focus();
  }
  function skip(code, reason) {
    var id = state.ctx.assignment.id;
    clearTimeout(state.save.timer);
    return state.save.chain.then(function () {
      return network.api(id + "/skip/", "POST", { code: code, reason: reason }).then(function (r) {
        if (r.status === 404 || closed(r)) { page.drafts.goneAway(closed(r) && r.data.detail); return; }
        if (r.status !== 200) { showMessage(network.problem(r.data), "error"); return; }
        state.save.dirty = false;
        return page.submit.goNext(r.data.next_assignment_id);
      });
    });
  }

  function wire() {
    page.on("skip", "click", openSkip);
    page.on("skip-codes", "change", function () { if (skipCodeChanged()) $("skip-reason").focus(); });
    page.on("skip-dialog", "keydown", skipDialogKey);
    page.on("skip-form", "submit", function (e) {
      e.preventDefault();
      var chosen = document.querySelector("#skip-codes input:checked");
      var reason = $("skip-reason").value.trim();
      if (!chosen || (chosen.value === "other" && !reason)) return;
      $("skip-dialog").close();
      skip(chosen.value, chosen.value === "other" ? reason : "");
    });
    page.on("skip-cancel", "click", function () { $("skip-dialog").close(); });
  }

  return { openSkip: openSkip, wire: wire };
}
