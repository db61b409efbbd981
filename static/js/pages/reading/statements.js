/* The reader page's statement list: the taxonomy's statements in their groups, the search that narrows
 * them as the reader types (static/js/ecg/statements.js ranks), the choices with their uncertainty and
 * qualifiers (ecg/qualifiers.js), and the exclusive sets' conflicts among them (ecg/paper.js). A choice
 * made or taken back is a change of the read: page.drafts.changed() saves it. */
import { conflicts } from "../../ecg/paper.js";
import * as Qualifiers from "../../ecg/qualifiers.js";
import * as Search from "../../ecg/statements.js";
import { whenIdle } from "./page.js";

export function createStatements(page) {
  var $ = page.$, t = page.t, state = page.state, showMessage = page.showMessage, readOnly = page.readOnly;
  // Where a finding is: a statement's qualifiers, chosen after it.
  var qualifiers = Qualifiers.create({ $: $, t: t, state: state, changed: function () { page.drafts.changed(); },
    readOnly: readOnly });

  function statementRow(c) {
    var row = document.createElement("div");
    row.className = "stmt";
    row.setAttribute("role", "option");
    row.dataset.code = c.code;
    row.id = "stmt-" + c.code;
    row.innerHTML = '<span class="box" aria-hidden="true"></span><span class="code"></span><span class="name"></span>' +
      '<button type="button" class="unc" tabindex="-1"></button>';
    // A long code (Q_NOSIGNAL_BLOCKING) breaks after its underscores rather than run into the name.
    var code = row.querySelector(".code");
    c.code.split("_").forEach(function (part, i, parts) {
      code.appendChild(document.createTextNode(part + (i < parts.length - 1 ? "_" : "")));
      if (i < parts.length - 1) code.appendChild(document.createElement("wbr"));
    });
    row.querySelector(".name").textContent = c.label;
    row.querySelector(".unc").textContent = "?";
    row.querySelector(".unc").title = t("uncertain");
    row.title = [c.name, c.name_pt].concat(c.synonyms || []).filter(Boolean).join(" · ");
    return row;
  }
  /* One taxonomy group's statements of one kind, or null when it has none. */
  function groupBox(group, kind) {
    var members = group.classes.filter(function (c) { return c.kind === kind; });
    if (!members.length) return null;
    var g = document.createElement("div"), h = document.createElement("h4"), list = state.list;
    g.className = "group";
    h.textContent = group.label;
    g.appendChild(h);
    members.forEach(function (c) {
      c.row = statementRow(c);
      c.group = g;
      g.appendChild(c.row);
      list.statements.push(c); list.byCode[c.code] = c; list.kinds[c.code] = c.kind;
    });
    return g;
  }
  function buildStatements() {
    var box = $("statements"), list = state.list, taxonomy = state.ctx.taxonomy;
    box.textContent = "";
    list.statements = []; list.byCode = {}; list.kinds = {};
    [["diagnostic", t("diagnoses")], ["quality", t("quality")]].forEach(function (section) {
      var heading = document.createElement("h3");
      heading.className = "section";
      heading.textContent = section[1];
      box.appendChild(heading);
      taxonomy.groups.forEach(function (group) {
        var g = groupBox(group, section[0]);
        if (g) box.appendChild(g);
      });
    });
    // The search's index (a few ms for a taxonomy's ~1,400 names) is built when the page is idle, or at the
    // first key typed in the search box if that comes sooner: never on the way to the first exam's rows.
    list.searchIndex = null;
    whenIdle(searchIndex);
    list.normalCode = null;
    taxonomy.exclusive_sets.forEach(function (set) {
      if (set.indexOf("*diagnostic*") >= 0 && !list.normalCode) list.normalCode = set.filter(function (c) { return c[0] !== "*"; })[0];
    });
  }
  function searchIndex() {
    var list = state.list;
    if (!list.searchIndex) list.searchIndex = Search.index(list.statements);
    return list.searchIndex;
  }
  function visibleStatements() { return state.list.ranked || state.list.statements; }
  function chosenInOrder() {
    return state.list.statements.filter(function (c) { return state.selected[c.code]; }).map(function (c) { return c.code; });
  }
  function renderSelection() {
    var selected = state.selected;
    state.list.statements.forEach(function (c) {
      var s = selected[c.code];
      c.row.classList.toggle("on", !!s);
      c.row.classList.toggle("uncertain", !!(s && s.uncertain));
      c.row.setAttribute("aria-selected", String(!!s));
      // Said with the statement: "?" alone read the same for a certain and an uncertain choice.
      c.row.setAttribute("aria-label", c.code + " " + c.label + (s && s.uncertain ? ", " + t("uncertain_said") : "") +
        (s ? qualifiers.suffix(c.code) : ""));
    });
    var codes = chosenInOrder();
    $("chosen").textContent = codes.length ? codes.map(function (c) {
      return c + (selected[c].uncertain ? "?" : "") + qualifiers.suffix(c);
    }).join(", ") : t("none_chosen");
    checkConflicts();
  }
  function checkConflicts() {
    var byCode = state.list.byCode;
    var found = conflicts(chosenInOrder(), state.list.kinds, state.ctx.taxonomy.exclusive_sets);
    markClashing(found);
    if (found.length) { // every pair at once: the reader fixes them all before the next submit
      showMessage(found.map(function (pair) {
        var a = byCode[pair[0]], b = byCode[pair[1]];
        return t("conflict", { a: a.label + " (" + a.code + ")", b: b.label + " (" + b.code + ")" });
      }).join(" "), "error");
    } else if ($("message").dataset.kind === "error") {
      showMessage("");
    }
    return found;
  }
  /* Each statement of a clashing pair is marked in the list (and said invalid), not only named above it. */
  function markClashing(pairs) {
    var clashing = {};
    pairs.forEach(function (pair) { clashing[pair[0]] = clashing[pair[1]] = true; });
    state.list.statements.forEach(function (c) {
      c.row.classList.toggle("conflict", !!clashing[c.code]);
      if (clashing[c.code]) c.row.setAttribute("aria-invalid", "true"); else c.row.removeAttribute("aria-invalid");
    });
  }
  /* A submit refused for a clash: the whole list back (a search may hide one of the pair) and the first
   * clashing statement in focus, so that Space takes it out or an arrow reaches the other. */
  function focusClash(pair) {
    if (state.list.ranked) { $("search").value = ""; filter(""); }
    var at = visibleStatements().indexOf(state.list.byCode[pair[0]]);
    if (at >= 0) setFocus(at);
  }
  function setFocus(index) {
    var vis = visibleStatements(), list = state.list;
    if (!vis.length) return;
    list.focusIndex = Math.max(0, Math.min(vis.length - 1, index));
    list.statements.forEach(function (c) { c.row.classList.remove("focus"); });
    vis[list.focusIndex].row.classList.add("focus");
    vis[list.focusIndex].row.scrollIntoView({ block: "nearest" });
    $("search").setAttribute("aria-activedescendant", vis[list.focusIndex].row.id);
  }
  function focused() { return visibleStatements()[state.list.focusIndex]; }
  function focusedCode() { var c = focused(); return c ? c.code : null; }
  function toggle(code) {
    if (!code || readOnly()) return;
    var chosen = !state.selected[code];
    if (chosen) state.selected[code] = { uncertain: false, qualifiers: [] }; else delete state.selected[code];
    page.drafts.changed();
    if (chosen) qualifiers.offer(code); // where the finding is, when the statement asks
  }
  function toggleUncertain(code) {
    if (!code || readOnly()) return;
    var s = state.selected[code];
    if (!s) state.selected[code] = { uncertain: true }; else s.uncertain = !s.uncertain;
    page.drafts.changed();
  }
  /* While searching, the list holds only the matching statements, best first (CSS order), without
   * groups, and the best one is highlighted: Enter chooses the highlighted one. keepCode (when given and
   * still listed) keeps the focus on that statement, e.g. the one just chosen when the search is left. */
  function filter(query, keepCode) {
    var list = state.list, searching = Search.fold(query) !== "";
    var found = searching ? Search.rank(searchIndex(), query) : [];
    var closest = found.length > 0 && found[0].tier === Search.TIER.CLOSEST;
    var respelt = found.length > 0 && found[0].tier === Search.TIER.SPELLING;
    list.ranked = searching ? found.map(function (m) { return m.statement; }) : null;
    list.statements.forEach(function (c) { c.row.hidden = searching; c.row.style.order = ""; });
    (list.ranked || []).forEach(function (c, i) { c.row.hidden = false; c.row.style.order = String(i); });
    $("statements").classList.toggle("searching", searching);
    var none = $("no-match");
    // No statement has every word typed: say so, above the closest ones (or alone when there are none).
    // A misspelt word read as the statements' word: say how the query was read, so a wrong guess shows.
    // Several statements alike (Search.choice: as close, or matched equally): none is highlighted, so
    // Enter chooses nothing until the reader has picked one with the arrows or the mouse.
    var undecided = searching && found.length > 0 && !Search.choice(found);
    // "Alike" only where the first two tie on every rule; otherwise the query does not say which ("AV
    // block": a degree left unsaid; "flutter ventricular": a word found only inside another).
    var alike = found.length > 1 && found[1].tier === found[0].tier && found[1].extra === found[0].extra;
    none.hidden = !searching || (list.ranked.length > 0 && !closest && !respelt && !undecided);
    var said = undecided ? (closest ? "undecided" : alike ? "alike" : "unsure")
      : closest ? "closest" : respelt ? "respelt" : "no_match";
    none.textContent = none.hidden ? "" : t(said, { query: query.trim(), read_as: respelt ? found[0].readAs : "" });
    var keep = keepCode ? visibleStatements().indexOf(list.byCode[keepCode]) : -1;
    list.statements.forEach(function (c) { c.row.classList.remove("focus"); });
    $("search").removeAttribute("aria-activedescendant");
    if (keep >= 0 || !undecided) setFocus(keep >= 0 ? keep : 0);
    else list.focusIndex = -1;
  }
  /* Leaving the search keeps the focus on the statement highlighted there (the one just chosen), so the
   * next key (u, Space) acts on it and not on the top of the list. */
  function leaveSearch(box) {
    var keep = focusedCode();
    box.value = "";
    filter("", keep);
    box.blur();
  }

  function wire() {
    page.on("statements", "click", function (e) {
      var row = e.target.closest(".stmt");
      if (!row) return;
      setFocus(visibleStatements().indexOf(state.list.byCode[row.dataset.code]));
      if (e.target.classList.contains("unc")) toggleUncertain(row.dataset.code); else toggle(row.dataset.code);
    });
    page.on("search", "input", function () { filter(this.value); });
  }

  return { qualifiers: qualifiers, buildStatements: buildStatements, chosenInOrder: chosenInOrder,
    renderSelection: renderSelection, checkConflicts: checkConflicts, focusClash: focusClash, setFocus: setFocus,
    focused: focused, focusedCode: focusedCode, toggle: toggle, toggleUncertain: toggleUncertain, filter: filter,
    leaveSearch: leaveSearch, wire: wire };
}
