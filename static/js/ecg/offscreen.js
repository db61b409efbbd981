/* Where a magnified sheet goes on out of view. At 50 mm/s or 20 mm/mV the paper keeps its millimetre and
 * runs past its pane, which scrolls (static/js/ecg/plot.js): a band at each edge past which more of the
 * sheet lies names the leads out of view there (left, right) or says the sheet goes on below, and `,` and
 * `.` (or a click on a band) scroll one column of the sheet: 2.5 s in 3x4, 5 s in 6x2, 2.5 s of 12x1's
 * single 10 s column. The module exports create(opts), opts: {viewer, $, t, label (lead ->
 * its name on the strips)}; the page's markup: .ecg-wrap around #ecg, and #sheet-more-left, -right, -down. */
function create(opts) {
  var viewer = opts.viewer, $ = opts.$, t = opts.t;
  var wrap = $("ecg").parentElement, pending = false;

  /* One column's width on screen, in pixels, or 0 before the sheet is drawn. */
  function columnPx() {
    var sheet = viewer.sheet;
    if (!sheet || !viewer.scale) return 0;
    var seconds = sheet.columns > 1 ? sheet.columnSeconds : Math.min(2.5, sheet.columnSeconds);
    return seconds * sheet.speed * viewer.scale;
  }
  /* The names of the strips (not the rhythm strip), column by column, that run past the view's left
   * (side < 0) or right edge. */
  function leadsOut(side, from, to) {
    var sheet = viewer.sheet, k = viewer.scale, names = [];
    sheet.panels.filter(function (p) { return !p.rhythm; }).sort(function (a, b) { return a.x0 - b.x0 || a.row - b.row; })
      .forEach(function (p) {
        var left = p.x0 * k, right = (p.x0 + (p.i1 - p.i0) * sheet.speed / sheet.samplingRate) * k;
        var name = opts.label(p.lead);
        if ((side < 0 ? left < from - 1 : right > to + 1) && names.indexOf(name) < 0) names.push(name);
      });
    return names.join(" ");
  }
  /* The names of the rows whose baseline lies below the view (`bottom`, px from the sheet's top). */
  function rowsBelow(bottom) {
    var sheet = viewer.sheet, k = viewer.scale, names = [];
    sheet.panels.forEach(function (p) {
      var name = opts.label(p.lead);
      if ((sheet.height - p.yb) * k > bottom && names.indexOf(name) < 0) names.push(name);
    });
    return names.join(" ");
  }
  /* A band: its arrow, then the names written down its length. */
  function cue(id, shown, arrow, names) {
    var el = $(id);
    el.hidden = !shown;
    if (!shown || arrow === undefined || el.dataset.text === names) return;
    el.dataset.text = names;
    el.textContent = "";
    el.appendChild(document.createElement("b")).textContent = arrow;
    el.appendChild(document.createElement("span")).textContent = names;
  }
  function update() {
    pending = false;
    var sheet = viewer.sheet;
    if (!sheet) return;
    var from = wrap.scrollLeft, to = from + wrap.clientWidth;
    var left = from > 1, right = wrap.scrollWidth - to > 1;
    var down = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight > 1;
    // Sideways, only where a strip is cut: past the last column lies only the paper's blank edge.
    var lefts = left ? leadsOut(-1, from, to) : "", rights = right ? leadsOut(1, from, to) : "";
    cue("sheet-more-left", !!lefts, "‹", lefts);
    cue("sheet-more-right", !!rights, "›", rights);
    cue("sheet-more-down", down, "▾", down ? rowsBelow(wrap.scrollTop + wrap.clientHeight) : "");
    // Clear of the pane's scroll bars, whichever it has.
    var barBelow = wrap.offsetHeight - wrap.clientHeight + "px", barRight = wrap.offsetWidth - wrap.clientWidth + "px";
    ["sheet-more-left", "sheet-more-right"].forEach(function (id) { $(id).style.bottom = barBelow; });
    // The pane may run past the window's foot (its height leaves room for the toolbar): the band below
    // sits at whichever comes first, so that it is seen.
    var pastWindow = Math.max(0, wrap.getBoundingClientRect().bottom - window.innerHeight);
    $("sheet-more-down").style.bottom = wrap.offsetHeight - wrap.clientHeight + pastWindow + "px";
    $("sheet-more-right").style.right = barRight;
    $("sheet-more-down").style.right = barRight;
    $("sheet-more-left").title = t("sheet_more_left", { leads: lefts });
    $("sheet-more-right").title = t("sheet_more_right", { leads: rights });
    $("sheet-more-down").title = t("sheet_more_down");
  }
  /* Once per frame at most: scrolling fires many events, and each reads the pane's layout. */
  function later() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(update);
  }
  /* One column left (-1) or right (+1), to a column's edge; false when the sheet does not scroll sideways,
   * which leaves the key to the browser. */
  function step(direction) {
    var column = columnPx(), room = wrap.scrollWidth - wrap.clientWidth;
    if (!column || room <= 1) return false;
    var k = Math.round(wrap.scrollLeft / column) + direction;
    wrap.scrollLeft = Math.max(0, Math.min(room, k * column));
    later();
    return true;
  }
  function wire() {
    wrap.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later);
    window.addEventListener("scroll", later, { passive: true });
    $("sheet-more-left").addEventListener("click", function () { step(-1); });
    $("sheet-more-right").addEventListener("click", function () { step(1); });
  }
  return { update: later, step: step, wire: wire };
}

export { create };
