/* Statement qualifiers on the reader page: where a finding is (inferior, anterior, septal, lateral,
 * posterior, extensive) and, where the taxonomy tells them apart, acute or old. Choosing a statement that
 * declares qualifiers (its `qualifiers` in the reading API's taxonomy) opens a small chooser: digits 1..n
 * take a qualifier or take it back, Enter or Esc goes on to where the reader was (the search box, or the
 * list). The chosen qualifiers live in the page's `state.selected[code].qualifiers`, sent with the read.
 * The module exports create(opts), opts: {$, t, state, changed(), readOnly()}. Markup:
 * #qualifier-chooser with #qualifier-title and #qualifier-options (templates/annotations/reading/reader.html). */
// A finding is acute or old, never both (the server refuses both: annotations.lib.qualifiers).
var EXCLUDES = { acute: "old", old: "acute" };

function create(o) {
  var box = o.$("qualifier-chooser"), current = null, back = null;

  function declared(code) {
    var c = o.state.list.byCode[code];
    return (c && c.qualifiers) || [];
  }
  function picked(code) {
    var s = o.state.selected[code];
    return (s && s.qualifiers) || [];
  }
  /* The chosen qualifiers of a statement in words, in the taxonomy's order. */
  function said(code) {
    var chosen = picked(code);
    return declared(code).filter(function (q) { return chosen.indexOf(q.key) >= 0; })
      .map(function (q) { return q.label; }).join(", ");
  }
  function suffix(code) {
    var words = said(code);
    return words ? " (" + words + ")" : "";
  }
  function render() {
    var c = o.state.list.byCode[current], chosen = picked(current), list = o.$("qualifier-options");
    o.$("qualifier-title").textContent = o.t("qualifiers_for", { statement: c.label + " (" + c.code + ")" });
    list.textContent = "";
    declared(current).forEach(function (q, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.tabIndex = -1;
      b.dataset.q = q.key;
      b.setAttribute("aria-pressed", String(chosen.indexOf(q.key) >= 0));
      var k = document.createElement("kbd");
      k.textContent = String(i + 1);
      b.appendChild(k);
      b.appendChild(document.createTextNode(" " + q.label));
      list.appendChild(b);
    });
  }
  function open(code) {
    if (o.readOnly() || !o.state.selected[code] || !declared(code).length) return;
    current = code;
    back = document.activeElement;
    render();
    box.hidden = false;
    box.focus();
  }
  function offer(code) { open(code); }
  function close() {
    if (current === null) return;
    var to = back;
    current = back = null; // first: hiding the focused chooser blurs it (focusout, below)
    box.hidden = true;
    if (to && to !== document.body && document.contains(to)) {
      to.focus();
      if (to.select) to.select();
    }
  }
  function flip(key) {
    var s = o.state.selected[current];
    if (!s || o.readOnly()) return;
    var chosen = s.qualifiers = picked(current).slice(), at = chosen.indexOf(key);
    if (at >= 0) chosen.splice(at, 1);
    else {
      chosen.push(key);
      var other = chosen.indexOf(EXCLUDES[key]);
      if (other >= 0) chosen.splice(other, 1);
    }
    o.changed();
    render();
  }
  box.addEventListener("keydown", function (e) {
    // The chooser's keys are its own: a digit, Enter or Esc here is not the page's (Enter would submit).
    if (e.key === "Tab") return;
    e.stopPropagation();
    if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); close(); return; }
    var n = parseInt(e.key, 10), options = declared(current);
    if (n >= 1 && n <= options.length) { e.preventDefault(); flip(options[n - 1].key); }
  });
  box.addEventListener("click", function (e) {
    var b = e.target.closest("button[data-q]");
    if (b) flip(b.dataset.q);
  });
  box.addEventListener("focusout", function (e) {
    if (current !== null && !box.contains(e.relatedTarget)) { box.hidden = true; current = null; back = null; }
  });
  return { offer: offer, close: close, suffix: suffix, said: said, isOpen: function () { return current !== null; } };
}

export { create };
