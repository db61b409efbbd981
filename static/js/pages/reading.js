/* The reader page: calibrated 12-lead view with its tools (static/js/ecg/viewer.js) and keyboard-fast, blind
 * labeling.
 * Data comes from the reading API of the page's own assignment; nothing here knows of other readers.
 * Everything that changes while the page is open lives in `state`; the functions below read and set it. */
(function () {
  "use strict";
  var P = window.EcgPaper, Search = window.StatementSearch;
  var rootEl = document.getElementById("reader");
  if (!rootEl) return;
  var $ = function (id) { return document.getElementById(id); };
  var API = rootEl.dataset.apiBase, HOME = rootEl.dataset.homeUrl, CSRF = rootEl.dataset.csrf;
  var gd = $("ecg");
  var t = window.PageLocale.translator("strings");

  var viewer = window.EcgViewer.create({ gd: gd, $: $, t: t, preferencesUrl: rootEl.dataset.preferencesUrl, csrf: CSRF,
    onDrawn: drawn, extraShapes: function (sheet) { return window.EcgRelevance.shapes(sheet, state.band); } });
  var state = {
    viewer: viewer, // the exam on screen, the view (layout, speed, gain...), the sheet and the calipers
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

  /* --- Network ---------------------------------------------------------------------------------- */
  function api(path, method, body, keepalive) {
    return fetch(API + path, {
      method: method || "GET",
      credentials: "include", // same origin only; "include" matches the page's preload hints
      keepalive: !!keepalive,
      headers: Object.assign({ Accept: "application/json" }, body ? { "Content-Type": "application/json", "X-CSRFToken": CSRF } : {}),
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }
  /* What the server said was wrong: its detail, or the first message it gave for a field (a comment
   * over the length it keeps, say), so the reader learns why instead of waiting for a retry. */
  function problem(data) {
    if (data && data.detail) return data.detail;
    for (var key in data || {}) {
      var said = data[key];
      if (Array.isArray(said) && typeof said[0] === "string") return said[0];
    }
    return t("save_failed");
  }
  function fetchWaveform(url) {
    return fetch(url, { credentials: "include" }).then(function (r) {
      if (!r.ok) throw new Error("waveform " + r.status);
      return r.arrayBuffer();
    });
  }

  /* --- Drawing ---------------------------------------------------------------------------------- */
  var SETTLE_MS = 300;
  function whenIdle(fn) {
    if (window.requestIdleCallback) window.requestIdleCallback(fn, { timeout: 1000 }); else setTimeout(fn, 0);
  }
  /* Resolves once the browser has had a frame to paint what is drawn: a task queued from an animation
   * frame's callbacks runs after that frame's paint (in a Chromium trace the frame right after the drawing
   * painted the strips, and the callbacks came with the next one). After 100 ms without a frame (a hidden
   * tab has none), at once. */
  function afterPaint() {
    return new Promise(function (resolve) {
      var late = setTimeout(resolve, 100);
      requestAnimationFrame(function () { setTimeout(function () { clearTimeout(late); resolve(); }, 0); });
    });
  }
  function drawn(ms) {
    gd.dataset.drawnMs = String(Math.round(ms));
    gd.dataset.drawnAt = String(performance.now()); // read by bench/reader_page.py
    // The first exam's strips are drawn before its context has arrived (openFirst): marked once it has.
    if (state.ctx) marked();
    offscreen.update();
  }
  /* The exam on screen is drawn and its context applied: what tests, the bench and the earlier ECG wait for. */
  function marked() {
    var id = state.ctx.assignment.id;
    gd.dataset.drawn = String(id);
    document.dispatchEvent(new CustomEvent("ecg:drawn", { detail: id }));
    priors.draw(); // after every redraw of the strips (view, filters, width): the earlier ECG follows
  }

  /* --- Serial comparison: an earlier ECG of the patient, when the batch shows them (ecg/priors.js) -- */
  var priors = window.EcgPriors.create({ viewer: viewer, gd: gd, $: $, t: t, fetchWaveform: fetchWaveform,
    label: function (lead) { return medianLabel(lead); } });
  /* --- A magnified sheet's edges: what lies out of view, and a column at a key (ecg/offscreen.js) --- */
  var offscreen = window.EcgOffscreen.create({ viewer: viewer, $: $, t: t, label: function (lead) { return medianLabel(lead); } });
  /* --- Where a finding is: a statement's qualifiers, chosen after it (ecg/qualifiers.js) ------------ */
  var qualifiers = window.EcgQualifiers.create({ $: $, t: t, state: state, changed: changed, readOnly: readOnly });

  /* --- Statements ------------------------------------------------------------------------------- */
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
    var found = P.conflicts(chosenInOrder(), state.list.kinds, state.ctx.taxonomy.exclusive_sets);
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
  function showMessage(text, kind) {
    var m = $("message");
    m.textContent = text;
    m.hidden = !text;
    m.dataset.kind = text ? kind || "info" : "";
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
    changed();
    if (chosen) qualifiers.offer(code); // where the finding is, when the statement asks
  }
  function toggleUncertain(code) {
    if (!code || readOnly()) return;
    var s = state.selected[code];
    if (!s) state.selected[code] = { uncertain: true }; else s.uncertain = !s.uncertain;
    changed();
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
  function readOnly() {
    var ctx = state.ctx;
    if (ctx && !state.gone && state.amending) return false; // a submitted read opened for amendment
    return !ctx || state.gone || ctx.assignment.status === "submitted" || ctx.assignment.status === "skipped";
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
    if (batch) link.href = rootEl.dataset.nextUrl + "?batch=" + batch;
    $("gone").hidden = false;
  }

  /* --- Drafts, time on task, submit ------------------------------------------------------------- */
  function elapsed() {
    var clock = state.clock;
    return clock.base + (clock.visibleSince ? performance.now() - clock.visibleSince : 0);
  }
  function payload() {
    var selected = state.selected;
    return { labels: chosenInOrder().map(function (c) {
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
    renderSelection();
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
      return api(id + "/draft/", "PUT", body, keepalive).then(function (r) { return draftAnswered(r, id, saved, body); },
        function () { save.dirty = true; $("save-state").textContent = t("save_failed"); });
    }).catch(function () { save.dirty = true; }); // keep the chain alive for the next save
    return save.chain;
  }
  function closed(r) { return r.status === 409 && !!r.data.batch_closed; }
  function draftAnswered(r, id, saved, sent) {
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
      return open(id, null, true).then(function () { showStale(sent); });
    } else {
      state.save.dirty = true;
      showMessage(problem(r.data), "error");
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
  /* A submit refused here from the comment box (Ctrl+Enter) hands the keys back to the page: left in the
   * box, the "/" and statement the reader typed next to fix the read went into their comment. */
  function leaveComment() {
    if (document.activeElement === $("comment")) $("comment").blur();
  }
  function submit() {
    if (readOnly()) return;
    var clashes = checkConflicts();
    if (clashes.length) { leaveComment(); focusClash(clashes[0]); return; } // the message names every pair
    if (!chosenInOrder().length) { showMessage(t("choose_one"), "error"); leaveComment(); return; }
    if (state.amending) { leaveComment(); openAmend(); return; }
    var save = state.save, ctx = state.ctx;
    clearTimeout(save.timer);
    var id = ctx.assignment.id, body = payload(), nextId = ctx.next_assignment_id, read = state.annotation;
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
      return api(id + "/submit/", "POST", body);
    });
    save.chain = request.catch(function () {});
    if (optimistic) save.dirty = false; // this exam's state travels with the submit, not a later autosave
    var shown = optimistic ? open(nextId, true, false, undefined, true) : null;
    return request.then(function (r) { return submitAnswered(r, { id: id, nextId: nextId, shown: shown, kept: kept, back: back }); })
      .catch(function () { $("submit").disabled = false; showMessage(t("save_failed"), "error"); });
  }
  /* sent: the submitted assignment id, the next one expected, the optimistic open of it (or null) and
   * the choices to restore should the server refuse. */
  function submitAnswered(r, sent) {
    $("submit").disabled = readOnly();
    if (r.status === 404 || closed(r)) {
      // Said on the exam it is about, with the reader's choices as they were: the next exam, drawn at
      // once while the submit travelled, goes (its prefetch may have left with the batch too).
      var reason = closed(r) && r.data.detail;
      if (!sent.shown) { goneAway(reason); return; }
      return sent.shown.then(function () { return showAgain(sent.back); })
        .then(function () { state.selected = sent.kept.selected; $("comment").value = sent.kept.comment; renderSelection(); goneAway(reason); });
    }
    if (r.status !== 200) {
      var message = problem(r.data);
      if (!sent.shown) { showMessage(message, "error"); return; }
      return sent.shown.then(function () { return open(sent.id, true, true); })
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
      return apply(r.data.context);
    }
    return goNext(r.data.next_assignment_id);
  }
  /* The exam a refused submit was about, back on screen from what the page still holds of it (its context,
   * tracing and address), without asking the server, which no longer gives it to this reader. */
  function showAgain(back) {
    viewer.setExam(back.exam, back.leads);
    apply(back.ctx);
    history.replaceState({ id: back.ctx.assignment.id }, "", back.ctx.assignment.page_url);
    return viewer.draw();
  }
  function restore(kept, message) {
    state.selected = kept.selected;
    $("comment").value = kept.comment;
    renderCommentCount();
    renderSelection();
    state.save.dirty = true;
    showMessage(message, "error");
  }
  function goNext(nextId) {
    // The end of the queue: "Continue" on the batch, whose page says the batch is finished (views/reading.py).
    if (!nextId) { window.location.assign(state.ctx ? rootEl.dataset.nextUrl + "?batch=" + state.ctx.assignment.batch_id : HOME); return; }
    return open(nextId, true);
  }
  function skip(code, reason) {
    var id = state.ctx.assignment.id;
    clearTimeout(state.save.timer);
    return state.save.chain.then(function () {
      return api(id + "/skip/", "POST", { code: code, reason: reason }).then(function (r) {
        if (r.status === 404 || closed(r)) { goneAway(closed(r) && r.data.detail); return; }
        if (r.status !== 200) { showMessage(problem(r.data), "error"); return; }
        state.save.dirty = false;
        return goNext(r.data.next_assignment_id);
      });
    });
  }

  /* --- Opening an exam -------------------------------------------------------------------------- */
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
    renderCommentCount();
    state.clock.base = context.annotation.time_on_task_ms || 0;
    state.clock.visibleSince = document.visibilityState === "visible" ? performance.now() : null;
    if (!sameTaxonomy) buildStatements(); // the same batch has the same statements: keep the rows
    filter($("search").value);
    renderSelection();
    renderContext();
    renderSuggestion();
    // The last exam's model outputs go at once; this one's are asked for once the page is idle (drawn).
    state.explanations = null;
    renderExplanations(false);
    whenIdle(function () { loadExplanations(context); });
    // Two-stage: the panel arrives with the revision's context, under the strips, which keep their scale.
    renderMedian(context);
    renderReadState();
    $("comment").disabled = readOnly();
    $("submit").disabled = readOnly();
    $("skip").disabled = !canSkip();
    $("skip").title = !readOnly() && state.annotation.blind ? t("skip_after_blind") : "";
  }
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
    $("read-only-next").href = rootEl.dataset.nextUrl + "?batch=" + a.batch_id;
    rootEl.classList.toggle("read-only", readOnly());
  }
  /* A submitted read may be amended while its exam is open (Amend…, then a reason); a read a coordinator
   * returned says why. What the server allows comes with the context (correction). */
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
    renderSelection();
  }
  function openAmend() {
    $("amend-reason").value = "";
    $("amend-dialog").showModal();
    $("amend-reason").focus();
  }
  function amend(reason) {
    var id = state.ctx.assignment.id, body = payload();
    body.reason = reason;
    $("submit").disabled = true;
    return api(id + "/amend/", "POST", body).then(function (r) {
      $("submit").disabled = false;
      if (r.status === 404 || closed(r)) { goneAway(closed(r) && r.data.detail); return; }
      if (r.status !== 200) { showMessage(problem(r.data), "error"); return; }
      state.save.dirty = false;
      apply(r.data.context);
      showMessage(t("amended", { revision: r.data.revision }), "info");
    }, function () { $("submit").disabled = false; showMessage(t("save_failed"), "error"); });
  }
  // Two-stage: once the blind read is stored it counts; skipping now would withdraw it (the server refuses).
  function canSkip() { return !readOnly() && !state.annotation.blind; }
  function renderContext() {
    var e = state.ctx.exam, a = state.ctx.assignment;
    // The words of the printout's header (reading/_exam_context.html): when, age, sex, length.
    $("exam-context").textContent = [
      e.acquired_at ? t("context_acquired", { when: window.PageLocale.stamp(e.acquired_at, rootEl.dataset.timeZone) })
        : t("context_not_acquired"),
      e.age == null ? t("context_no_age") : t("context_age", { age: e.age }),
      { F: t("female"), M: t("male") }[e.sex] || t("sex_unknown"),
      // A cart's rate as it prints it: a Welch Allyn file stores 599.88 Hz for its 600 Hz.
      t("context_recording", { seconds: window.EcgViewer.number(e.n_samples / e.sampling_rate, 1),
        fs: window.EcgViewer.number(e.sampling_rate, 0) }),
    ].join(" · ");
    $("print-link").href = a.page_url + "print/";  // the exam on screen, which changes without a reload
    renderDeviceMeasurements(e.device_measurements);
    $("progress").textContent = t("progress", { batch: a.batch, position: a.position, total: a.queue.total, open: a.queue.open });
    $("stage").textContent = state.annotation.stage === "revised" && a.suggestion_mode === "two_stage" ? t("stage_revised") : "";
  }
  /* The recording cart's own measurements, one line as a cart's printout header has them, in a batch
   * designed to show them (null otherwise); rows the file did not give are left out. */
  var DEVICE_ROWS = [ // key, label key, unit
    ["heart_rate_bpm", "m_rate", "bpm"], ["atrial_rate_bpm", "m_atrial_rate", "bpm"], ["rr_ms", "m_rr", "ms"],
    ["pr_ms", "m_pr", "ms"], ["qrs_ms", "m_qrs", "ms"], ["qt_ms", "m_qt", "ms"], ["qtc_ms", "m_qtc_device", "ms"],
    ["qtc_bazett_ms", "m_qtc_bazett", "ms"], ["qtc_fridericia_ms", "m_qtc_fridericia", "ms"],
    ["p_axis_deg", "m_p_axis", "°"], ["qrs_axis_deg", "m_qrs_axis", "°"], ["t_axis_deg", "m_t_axis", "°"],
  ];
  function renderDeviceMeasurements(m) {
    var box = $("device-measurements");
    box.hidden = m == null;
    if (m == null) { box.textContent = ""; return; }
    var parts = DEVICE_ROWS.filter(function (row) { return typeof m[row[0]] === "number"; }).map(function (row) {
      var v = m[row[0]], text = window.EcgViewer.number(v, v % 1 === 0 ? 0 : 1);
      return t(row[1]) + " " + text + (row[2] === "°" ? "°" : " " + row[2]);
    });
    box.textContent = t("device_title") + ": " + (parts.length ? parts.join(" · ") : t("device_none"));
  }
  function measurementsLine(m) {
    var dash = function (v) { return v == null ? "–" : Math.round(v); };
    var p = document.createElement("p");
    p.className = "suggestion-measurements";
    p.textContent = t("measurements", {
      rate: dash(m.heart_rate_bpm), pr: dash(m.pr_ms), qrs: dash(m.qrs_ms), qt: dash(m.qt_ms),
      qtc: dash(m.qtc_bazett_ms), axis: dash(m.qrs_axis_deg)
    });
    return p;
  }
  /* Why a rule suggested the statement, under it: the measured finding, then the criterion and where it
   * is published. The server sends it with the score, so only where and when the score is shown. */
  function rationaleLines(rationale) {
    var box = document.createElement("div");
    box.className = "rationale";
    [["rationale-finding", t("rationale_finding", { finding: rationale.finding })],
      ["rationale-criterion", t("rationale_criterion", { criterion: rationale.criterion, source: rationale.source })]
    ].forEach(function (line) {
      var p = document.createElement("p");
      p.className = line[0];
      p.textContent = line[1];
      box.appendChild(p);
    });
    return box;
  }
  // Suggested statements (score at or above the provider's threshold) first, then the next highest.
  function scoreList(scores) {
    var ul = document.createElement("ul");
    var suggested = scores.filter(function (item) { return item.suggested; });
    var rest = scores.filter(function (item) { return !item.suggested; });
    suggested.concat(rest.slice(0, Math.max(0, 6 - suggested.length))).forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.code + " · " + item.name + " · " + Math.round(item.score * 100) + "%";
      if (item.suggested) { li.className = "suggested"; li.textContent += " · " + t("suggested"); }
      if (item.suggested && item.rationale) li.appendChild(rationaleLines(item.rationale));
      ul.appendChild(li);
    });
    if (!suggested.length) {
      var none = document.createElement("li");
      none.textContent = t("nothing_suggested");
      ul.insertBefore(none, ul.firstChild);
    }
    return ul;
  }
  function renderSuggestion() {
    var box = $("suggestion"), s = state.ctx.suggestion, blind = state.annotation.blind;
    box.hidden = !s;
    box.textContent = "";
    if (!s) return;
    var h = document.createElement("h3");
    h.textContent = t("suggestion", { provider: s.title || s.provider, version: s.version });
    box.appendChild(h);
    if (Object.keys(s.measurements || {}).length) box.appendChild(measurementsLine(s.measurements));
    box.appendChild(scoreList(s.scores));
    if (blind) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = t("your_blind_read", { codes: blind.labels.map(function (l) { return l.code + (l.uncertain ? "?" : ""); }).join(", ") || "–" });
      box.appendChild(p);
    }
  }
  /* --- Model explanations: scalar outputs, and relevance bands under the strips. The server sends
   * each only as the batch's suggestion mode allows (bands only once this read is submitted); the page
   * draws whatever came, and nothing in hidden batches, where it does not even ask. */
  function loadExplanations(context) {
    if (context.assignment.suggestion_mode === "hidden") return;
    var id = context.assignment.id;
    api(id + "/explanations/").then(function (r) {
      if (r.status !== 200 || !state.ctx || state.ctx.assignment.id !== id) return;
      state.explanations = r.data;
      renderExplanations();
    });
  }
  /* redraw: false when the strips are about to be drawn anyway (with state.band). */
  function renderExplanations(redraw) {
    var found = state.explanations || {}, list = $("model-scalars"), select = $("relevance-class");
    var number = window.EcgViewer.number;
    list.textContent = "";
    (found.scalars || []).forEach(function (s) {
      var li = document.createElement("li");
      li.textContent = t(s.sd == null ? "scalar" : "scalar_sd", { name: s.name, provider: s.title || s.provider, unit: s.unit,
        value: s.value == null ? "–" : number(s.value, 1), sd: s.sd == null ? "" : number(s.sd, 1) });
      list.appendChild(li);
    });
    list.hidden = !list.children.length;
    var bands = found.bands || [];
    select.textContent = "";
    bands.forEach(function (b, i) {
      select.add(new Option(t("band_option", { code: b.code, name: b.name, method: t("method_" + b.method) }), String(i)));
    });
    $("relevance").hidden = !bands.length;
    state.band = bands[0] || null;
    if (redraw !== false) viewer.showCaliper(); // lays the band (or none) over the strips with the calipers
  }
  /* The median beat and measurements under the strips (static/js/ecg/median.js), when the server sent
   * them. Under, never beside: the strips' millimetre is the same with the panel and without it, so its
   * coming or going redraws nothing. later: as in EcgMedian.render, to draw the beats once the strips are
   * drawn. */
  function renderMedian(context, later) {
    var box = $("median-panel");
    if (state.medianFor === context) return;
    state.medianFor = context;
    if (context.pending) {
      box.textContent = ""; // its suggestion is on its way: the panel keeps its place, empty
      return;
    }
    // A suggestion the reader may see brings its model's beat and numbers; otherwise (a blind read) the
    // batch's setting decides which measurements of the signal show, never a diagnosis.
    if (context.median) window.EcgMedian.render(box, context.median, t, medianLabel, later);
    else window.EcgMedian.renderMeasurements(box, context.measurements, t, medianLabel, later);
  }
  /* Before the first exam's context: in a batch that shows the median beat the panel takes its place under
   * the strips now, empty, so what follows it does not move when the context fills it (renderMedian). */
  function medianLabel(lead) { return window.EcgPlot.leadLabel(lead, viewer.view.leadNames); }
  function reserveMedian(room) {
    var box = $("median-panel");
    box.textContent = "";
    box.hidden = !room;
  }
  function prefetchNext() {
    var ctx = state.ctx, nextId = ctx.next_assignment_id, mode = ctx.assignment.suggestion_mode;
    if (!nextId || state.prefetched[nextId]) return;
    // The big part, the waveform, is fetched now while the reader works.
    state.prefetched[nextId] = fetchWaveform(API + nextId + "/waveform/").catch(function () { delete state.prefetched[nextId]; });
    // The context comes without any suggestion: a suggestion is fetched (and recorded as shown) only when
    // its exam opens. In hidden batches that is the whole context; in shown ones the exam is drawn from it
    // and its suggestion follows (suggestionArrived). Two-stage reads open from the server's answer.
    if (mode === "hidden" || mode === "shown") {
      // The exam after the prefetched one must not be this one, which is about to be submitted.
      state.prefetchedContext[nextId] = api(nextId + "/?prefetch=1&from=" + ctx.assignment.id).then(function (r) {
        if (r.status === 200) r.data.pending = mode === "shown";
        return r;
      });
    }
  }
  /* The suggestion, median beat and model outputs of an exam opened from its prefetched context, from the
   * context fetched as it opened (which records the suggestion as shown). */
  function suggestionArrived(id, request) {
    return request.then(function (r) {
      var ctx = state.ctx;
      if (r.status !== 200 || !ctx || ctx.assignment.id !== id || !ctx.pending) return;
      ctx.pending = false;
      ctx.suggestion = r.data.suggestion;
      ctx.median = r.data.median;
      state.medianFor = null;
      renderSuggestion();
      renderMedian(ctx);
    });
  }
  /* ahead: opened while the submit of the exam on screen travels; an exam no longer the reader's (its
   * prefetch answered 404 after a coordinator moved it) then resolves false and leaves the submit's answer
   * to say what comes next, rather than leaving for the home page. */
  function open(id, push, keepView, preferences, ahead) {
    var waveform = state.prefetched[id] || fetchWaveform(API + id + "/waveform/");
    var context = (!keepView && state.prefetchedContext[id]) || api(id + "/");
    delete state.prefetched[id];
    delete state.prefetchedContext[id];
    return context.then(function (r) {
      if (r.status !== 200 && ahead) return false;
      if (r.status !== 200) { window.location.assign(HOME); return; }
      // Asked for now, while the tracing is drawn from the prefetched context.
      var full = r.data.pending ? api(id + "/") : null;
      return Promise.all([waveform, preferences]).then(function (got) { return show(id, r.data, got[0], push, keepView); })
        .then(function () { if (full) return suggestionArrived(id, full); });
    });
  }
  /* stripsDrawn: the first exam's strips are on screen already, drawn from the page's sheet (openFirst). */
  function show(id, context, buffer, push, keepView, stripsDrawn) {
    var exam = context.exam, beats = null;
    // Its beats are drawn right after the strips, in the same task (both show at once; the first exam's
    // strips, drawn before its context, went earlier): the reader looks at the strips first.
    renderMedian(context, function (draw) { beats = draw; });
    var drawBeats = function () { if (beats) beats(); beats = null; };
    priors.arrange(context.priors || [], context, context.assignment.id); // so does an earlier ECG beside them
    if (!stripsDrawn) viewer.setExam(exam, P.decode(buffer, exam.lead_names.length, exam.n_samples, exam.gain_uv));
    if (!keepView) showMessage("");
    // After the draw: the address (pushState costs a tenth of a switch in Chromium, measured), and the
    // next exam, needed seconds from now at the earliest, once this one has settled, so that its
    // requests never queue on the server ahead of this page's (or a reload's) own.
    var ready = function () {
      state.appliedAt = performance.now(); // on screen now: the reader's second starts here
      drawBeats();
      if (push) history.pushState({ id: id }, "", context.assignment.page_url);
      viewer.showCaliper();
      setTimeout(function () { whenIdle(prefetchNext); }, SETTLE_MS);
    };
    if (!state.ctx) {
      // First exam of the page: the reader looks at the tracing first, so it is drawn and put on screen
      // before the 70-odd statement rows are built (a frame later, before any key press). Chained straight
      // on, both would reach the screen together after one long task whenever the context came first.
      // The exam is marked drawn (data-drawn, what tests and the bench wait for) once its context is applied.
      var strips = stripsDrawn ? Promise.resolve() : viewer.draw();
      return strips.then(afterPaint).then(function () { apply(context); marked(); ready(); });
    }
    apply(context);
    return viewer.draw().then(ready);
  }

  /* --- Keyboard --------------------------------------------------------------------------------- */
  function typingIn(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.tagName === "SELECT");
  }
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
  /* Submitting opens the next exam (or a two-stage read's revision) in place: a second Enter pressed out
   * of habit, or a key that bounced, must not submit what the reader has not looked at (the next exam's
   * saved draft, the revision unchanged). Within a second of a submit, or of what came after it appearing
   * (however long it took), a key submits only a read changed since it opened; the button is never held
   * back, nor is the first exam of the page. */
  var LOOK_FIRST_MS = 1000;
  function justArrived() {
    if (state.touched || state.submittedAt === -Infinity) return false;
    var now = performance.now();
    return now - state.submittedAt < LOOK_FIRST_MS || now - state.appliedAt < LOOK_FIRST_MS;
  }
  function submitByKey() {
    if (justArrived()) {
      showMessage(t("just_opened"), "info");
      return;
    }
    submit();
  }
  function searchKey(e, box) {
    var focus = state.list.focusIndex;
    if (e.key === "ArrowDown") { e.preventDefault(); setFocus(focus + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); setFocus(focus - 1); }
    else if (e.key === "Enter") {
      e.preventDefault();
      var c = focused();
      if (c) toggle(c.code);
      if (!qualifiers.isOpen()) box.select(); // the chooser, when it opened, has the keys now
    }
    else if (e.key === "Escape") { e.preventDefault(); leaveSearch(box); }
  }
  function onFocused(action) { return function () { var c = focused(); if (c) action(c.code); }; }
  var PAGE_KEYS = {
    "/": function () { $("search").focus(); $("search").select(); },
    ArrowDown: function () { setFocus(state.list.focusIndex + 1); },
    ArrowUp: function () { setFocus(state.list.focusIndex - 1); },
    " ": onFocused(toggle),
    u: onFocused(toggleUncertain),
    n: function () { toggle(state.list.normalCode); },
    Enter: submitByKey,
    s: openSkip,
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
    p: priors.cycle,
    ",": function () { return offscreen.step(-1); },
    ".": function () { return offscreen.step(1); },
    Escape: function () {
      if (viewer.caliper.on) viewer.toggleCalipers(false);
      else { $("search").value = ""; filter("", focusedCode()); }
    },
  };
  PAGE_KEYS.j = PAGE_KEYS.ArrowDown;
  PAGE_KEYS.k = PAGE_KEYS.ArrowUp;
  /* Leaving the search keeps the focus on the statement highlighted there (the one just chosen), so the
   * next key (u, Space) acts on it and not on the top of the list. */
  function leaveSearch(box) {
    var keep = focusedCode();
    box.value = "";
    filter("", keep);
    box.blur();
  }
  function openSkip() {
    // Said, not silently ignored: the reader pressed s expecting the dialog.
    if (!readOnly() && state.annotation.blind) { showMessage(t("skip_after_blind"), "info"); return; }
    if (!canSkip()) return;
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

  /* --- Wiring ----------------------------------------------------------------------------------- */
  function on(id, type, handler) { $(id).addEventListener(type, handler); }
  function wireStatements() {
    on("statements", "click", function (e) {
      var row = e.target.closest(".stmt");
      if (!row) return;
      setFocus(visibleStatements().indexOf(state.list.byCode[row.dataset.code]));
      if (e.target.classList.contains("unc")) toggleUncertain(row.dataset.code); else toggle(row.dataset.code);
    });
    on("search", "input", function () { filter(this.value); });
    on("comment", "input", function () { if (!readOnly()) changed(); });
    on("submit", "click", submit);
    on("skip", "click", openSkip);
    on("amend", "click", startAmend);
    on("amend-form", "submit", function (e) {
      e.preventDefault();
      var reason = $("amend-reason").value.trim();
      if (!reason) return;
      $("amend-dialog").close();
      amend(reason);
    });
    on("amend-cancel", "click", function () { $("amend-dialog").close(); });
    // The printout draws the rhythm strip's lead the reader has on screen (the other view choices are
    // saved preferences the print page reads itself).
    on("print-link", "click", function () {
      var lead = viewer.view.rhythmLead;
      this.href = state.ctx.assignment.page_url + "print/" + (lead && lead !== "II" ? "?rhythm=" + encodeURIComponent(lead) : "");
    });
    on("help-toggle", "click", function () { $("help").showModal(); });
    on("help-close", "click", function () { $("help").close(); });
    on("skip-codes", "change", function () { if (skipCodeChanged()) $("skip-reason").focus(); });
    on("skip-dialog", "keydown", skipDialogKey);
    on("skip-form", "submit", function (e) {
      e.preventDefault();
      var chosen = document.querySelector("#skip-codes input:checked");
      var reason = $("skip-reason").value.trim();
      if (!chosen || (chosen.value === "other" && !reason)) return;
      $("skip-dialog").close();
      skip(chosen.value, chosen.value === "other" ? reason : "");
    });
    on("skip-cancel", "click", function () { $("skip-dialog").close(); });
    // The viewer redraws the strips with the new names (its own listener); the median beats are
    // relabelled in place, from the choice itself whichever listener runs first.
    on("lead-names", "change", function () {
      var style = this.value;
      ["median-panel", "serial-overlay"].forEach(function (id) {
        window.EcgMedian.relabel($(id), function (lead) { return window.EcgPlot.leadLabel(lead, style); });
      });
    });
    priors.wire();
    on("relevance-class", "change", function () {
      state.band = ((state.explanations || {}).bands || [])[Number(this.value)] || null;
      viewer.showCaliper();
      this.blur();
    });
  }
  function wireWindow() {
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", function () { focusSource.pointedAt = performance.now(); }, true);
    document.addEventListener("focusin", noteFocus);
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
    window.addEventListener("popstate", function (e) { if (e.state && e.state.id) open(e.state.id, false); });
  }

  wireStatements();
  viewer.wire();
  offscreen.wire();
  wireWindow();
  /* What the first exam's strips are drawn from (its geometry and the view preferences) comes in the page
   * (views/reading.py), unless this is a copy the browser kept for back or forward, which may be stale: then
   * it is asked for. The page never carries the reading context: that comes from the API on every load
   * (preloaded from the page's head), also when the browser reuses a page it kept. */
  function embedded(id) {
    var navigation = performance.getEntriesByType("navigation")[0], el = $(id);
    if (!el || (navigation && navigation.type === "back_forward")) return null;
    return JSON.parse(el.textContent);
  }
  /* The first exam: its strips drawn as soon as its samples are in, from the sheet, while its context is
   * on its way; the context (statements, read, suggestion, median beat, earlier ECGs, next exam) fills the
   * rest once it is in. */
  function openFirst(id, sheet, preferences) {
    var exam = sheet.exam, waveform = state.prefetched[id] || fetchWaveform(API + id + "/waveform/");
    delete state.prefetched[id];
    reserveMedian(sheet.median_room);
    var strips = Promise.all([waveform, preferences]).then(function (got) {
      viewer.setExam(exam, P.decode(got[0], exam.lead_names.length, exam.n_samples, exam.gain_uv));
      return viewer.draw();
    });
    var context = api(id + "/"); // preloaded from the page's head: the same request
    return Promise.all([context, strips]).then(function (got) {
      if (got[0].status === 404) { leftQueueBeforeOpening(); return; }
      if (got[0].status !== 200) { window.location.assign(HOME); return; }
      return show(id, got[0].data, null, false, false, true);
    });
  }
  /* A page the browser kept, of an exam that has left the reader's queue since (moved to another reader,
   * its batch closed): its strips, drawn from the kept page before the context said so, are taken away,
   * and the reader is told, as when it leaves while open. */
  function leftQueueBeforeOpening() {
    Plotly.purge(gd);
    gd.hidden = true;
    goneAway();
  }
  // An opaque reference (never the database id), compared and sent back as a string.
  var firstId = rootEl.dataset.assignment, sheet = embedded("reading-sheet");
  // The first waveform, already being read since the page's head (pages/reading-waveform.js).
  var preloaded = window.ReadingWaveform;
  if (preloaded && preloaded.url === API + firstId + "/waveform/") {
    state.prefetched[firstId] = preloaded.samples.catch(function () { return fetchWaveform(preloaded.url); });
  }
  var opened = sheet && sheet.assignment === firstId
    ? openFirst(firstId, sheet, viewer.usePreferences(sheet.preferences))
    : open(firstId, false, false, viewer.loadPreferences());
  // Marked once the first exam is drawn: history's calls are slow enough to delay the first draw.
  opened.then(function () { if (!history.state) history.replaceState({ id: firstId }, "", window.location.href); });
  opened.catch(function (error) {
    showMessage(t("load_failed") + " " + error.message, "error");
  });
})();
