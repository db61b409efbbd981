/* The reader page's keys (the help dialog, ?, lists them): the statement list and its search, choosing,
 * uncertainty, submit and skip, the viewer's tools, the earlier ECG and a magnified sheet's columns. Keys
 * are letters while the reader types in a box, and a dialog keeps its own. */

function typingIn(el) {
  return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.tagName === "SELECT");
}
/* Submitting opens the next exam (or a two-stage read's revision) in place: a second Enter pressed out
 * of habit, or a key that bounced, must not submit what the reader has not looked at (the next exam's
 * saved draft, the revision unchanged). Within a second of a submit, or of what came after it appearing
 * (however long it took), a key submits only a read changed since it opened; the button is never held
 * back, nor is the first exam of the page. */
var LOOK_FIRST_MS = 1000;

export function createKeyboard(page) {
  var $ = page.$, t = page.t, state = page.state, statements = page.statements, viewer = page.viewer;

  /* Enter and Space press the control in focus (Skip, Print, a menu link, a checkbox), as everywhere
   * else: taken as the page's submit and choose keys they submitted a read its reader meant to skip.
   * Submit and next keeps the page's own Enter, which waits for a look at an exam just opened. Only a
   * focus the Tab key brought (or given back to it by a dialog): a button clicked with the mouse keeps
   * the focus too, and the Enter that follows is the reader's submit, not a second click on calipers.
   * (:focus-visible cannot tell: Chromium turns it on for the focused element at any key press.) */
  var focusSource = { tabbedAt: -Infinity, pointedAt: -Infinity, byKeyboard: null };
  function noteFocus(e) {
    var now = performance.now();
    if (now - focusSource.tabbedAt < 500) focusSource.byKeyboard = e.target;
    else if (now - focusSource.pointedAt < 500) focusSource.byKeyboard = null;
  }
  function pressesItself(el, key) {
    if ((key !== "Enter" && key !== " ") || !el || el === $("submit")) return false;
    if (el !== focusSource.byKeyboard) return false;
    var tag = el.tagName;
    return tag === "BUTTON" || tag === "SUMMARY" || (tag === "A" && el.hasAttribute("href")) ||
      (tag === "INPUT" && /^(checkbox|radio|button|submit|reset)$/.test(el.type));
  }
  function onKey(e) {
    if (e.key === "Tab") focusSource.tabbedAt = performance.now();
    if ($("help").open || $("skip-dialog").open || $("amend-dialog").open) return; // dialogs keep their keys
    var target = e.target;
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submitByKey(); return; }
    if (target === $("search")) { searchKey(e, target); return; }
    if (typingIn(target)) {
      if (e.key === "Escape") target.blur();
      return; // keys are letters while typing a comment
    }
    if (pressesItself(target, e.key)) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (!Object.prototype.hasOwnProperty.call(PAGE_KEYS, e.key)) return;
    if (PAGE_KEYS[e.key](e) === false) return; // not for this page now: the browser's own (scrolling)
    e.preventDefault();
  }
  function justArrived() {
    if (state.touched || state.submittedAt === -Infinity) return false;
    var now = performance.now();
    return now - state.submittedAt < LOOK_FIRST_MS || now - state.appliedAt < LOOK_FIRST_MS;
  }
  function submitByKey() {
    if (justArrived()) {
      page.showMessage(t("just_opened"), "info");
      return;
    }
    page.submit.submit();
  }
  function searchKey(e, box) {
    var focus = state.list.focusIndex;
    if (e.key === "ArrowDown") { e.preventDefault(); statements.setFocus(focus + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); statements.setFocus(focus - 1); }
    else if (e.key === "Enter") {
      e.preventDefault();
      var c = statements.focused();
      if (c) statements.toggle(c.code);
      if (!statements.qualifiers.isOpen()) box.select(); // the chooser, when it opened, has the keys now
    }
    else if (e.key === "Escape") { e.preventDefault(); statements.leaveSearch(box); }
  }
  function onFocused(action) { return function () { var c = statements.focused(); if (c) action(c.code); }; }
  var offscreen = page.sheet.offscreen;
  var PAGE_KEYS = {
    "/": function () { $("search").focus(); $("search").select(); },
    ArrowDown: function () { statements.setFocus(state.list.focusIndex + 1); },
    ArrowUp: function () { statements.setFocus(state.list.focusIndex - 1); },
    " ": onFocused(statements.toggle),
    u: onFocused(statements.toggleUncertain),
    n: function () { statements.toggle(state.list.normalCode); },
    Enter: submitByKey,
    s: function () { page.skip.openSkip(); },
    "?": function () { $("help").showModal(); },
    c: viewer.keys.c,
    m: viewer.keys.m,
    r: viewer.keys.r,
    l: viewer.keys.l,
    ArrowLeft: viewer.keys.ArrowLeft,
    ArrowRight: viewer.keys.ArrowRight,
    x: viewer.keys.x,
    "[": viewer.keys["["],
    "]": viewer.keys["]"],
    p: page.sheet.priors.cycle,
    ",": function () { return offscreen.step(-1); },
    ".": function () { return offscreen.step(1); },
    Escape: function () {
      if (viewer.caliper.on) viewer.toggleCalipers(false);
      else { $("search").value = ""; statements.filter("", statements.focusedCode()); }
    },
  };
  PAGE_KEYS.j = PAGE_KEYS.ArrowDown;
  PAGE_KEYS.k = PAGE_KEYS.ArrowUp;

  function wire() {
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", function () { focusSource.pointedAt = performance.now(); }, true);
    document.addEventListener("focusin", noteFocus);
    page.on("help-toggle", "click", function () { $("help").showModal(); });
    page.on("help-close", "click", function () { $("help").close(); });
  }

  return { wire: wire };
}
