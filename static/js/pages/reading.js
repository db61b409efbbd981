/* The reader page: calibrated 12-lead view (Plotly, SVG traces) and keyboard-fast, blind labeling.
 * Data comes from the reading API of the page's own assignment; nothing here knows of other readers. */
(function () {
  "use strict";
  var P = window.EcgPaper;
  var Search = window.StatementSearch;
  var rootEl = document.getElementById("reader");
  if (!rootEl) return;
  var $ = function (id) { return document.getElementById(id); };
  var API = rootEl.dataset.apiBase, PAGES = rootEl.dataset.pageBase, HOME = rootEl.dataset.homeUrl;
  var CSRF = rootEl.dataset.csrf;
  var S = {};
  document.getElementById("strings").content.querySelectorAll("[data-key]").forEach(function (el) { S[el.dataset.key] = el.textContent; });
  function t(key, values) {
    var text = S[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  var view = { layout: "3x4", speed: 25, gain: 10, rhythmLead: "II", baseline: false, notch: 0 };
  var exam = null, leadsRaw = null, leadsShown = null, sheet = null, ctx = null;
  var gd = $("ecg");
  var prefetched = {}; // assignment id -> Promise of ArrayBuffer (the next exam's waveform)
  var prefetchedContext = {}; // assignment id -> Promise of the next exam's context (hidden mode only)

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
  function fetchWaveform(url) {
    return fetch(url, { credentials: "include" }).then(function (r) {
      if (!r.ok) throw new Error("waveform " + r.status);
      return r.arrayBuffer();
    });
  }

  /* --- Drawing ---------------------------------------------------------------------------------- */
  function pxPerMm() {
    var width = Math.max(320, gd.parentElement.clientWidth);
    return width / sheet.width;
  }
  function traces() {
    var fs = exam.sampling_rate;
    return sheet.panels.map(function (panel) {
      var lead = exam.lead_names.indexOf(panel.lead), signal = leadsShown[lead];
      var n = panel.i1 - panel.i0, x = new Float32Array(n), y = new Float32Array(n);
      var step = sheet.speed / fs;
      for (var i = 0; i < n; i++) {
        x[i] = panel.x0 + i * step;
        y[i] = panel.yb + signal[panel.i0 + i] * sheet.gain;
      }
      return { type: "scatter", mode: "lines", x: x, y: y, name: panel.lead + (panel.rhythm ? " (rhythm)" : ""),
        meta: { lead: panel.lead, rhythm: panel.rhythm }, hoverinfo: "skip", showlegend: false,
        line: { color: "#111", width: 1, simplify: false } };
    });
  }
  function baseShapes() {
    var shapes = [
      { name: "grid-minor", type: "path", path: P.gridPath(sheet.width, sheet.height, 1, 5), layer: "below",
        line: { color: "#f6c9c9", width: 0.5 } },
      { name: "grid-major", type: "path", path: P.gridPath(sheet.width, sheet.height, 5, 0), layer: "below",
        line: { color: "#e58a8a", width: 1 } },
      { name: "calibration", type: "path", path: P.calibrationPath(sheet), line: { color: "#111", width: 1.2 } },
    ];
    var marks = sheet.panels.filter(function (p) { return !p.rhythm && p.x0 > sheet.margin; })
      .map(function (p) { return "M" + p.x0 + "," + (p.yb - 3) + "V" + (p.yb + 3); });
    if (marks.length) shapes.push({ name: "separators", type: "path", path: marks.join(""), line: { color: "#111", width: 1.2 } });
    return shapes;
  }
  function labels() {
    return sheet.panels.map(function (p) {
      return { x: p.x0 + 1, y: p.yb + sheet.rowHeight * 0.38, xref: "x", yref: "y", text: p.lead, showarrow: false,
        xanchor: "left", font: { size: 12, color: "#111" } };
    });
  }
  function figureLayout() {
    var k = pxPerMm();
    return {
      width: Math.round(sheet.width * k), height: Math.round(sheet.height * k),
      margin: { l: 0, r: 0, t: 0, b: 0, pad: 0 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
      showlegend: false, hovermode: false, dragmode: "zoom",
      xaxis: { range: [0, sheet.width], showgrid: false, zeroline: false, showticklabels: false, ticks: "" },
      // One pixel scale on both axes: squares stay square, also while zooming.
      yaxis: { range: [0, sheet.height], showgrid: false, zeroline: false, showticklabels: false, ticks: "",
        scaleanchor: "x", scaleratio: 1 },
      shapes: baseShapes().concat(caliperShapes()), annotations: labels(),
    };
  }
  var CONFIG = { displayModeBar: false, responsive: false, doubleClick: "reset", scrollZoom: false, showTips: false };
  function draw() {
    sheet = P.paper(view.layout, { speed: view.speed, gain: view.gain, samplingRate: exam.sampling_rate,
      nSamples: exam.n_samples, rhythmLead: view.rhythmLead });
    var started = performance.now();
    return Plotly.react(gd, traces(), figureLayout(), CONFIG).then(function () {
      gd.dataset.drawnMs = String(Math.round(performance.now() - started));
      gd.dataset.drawnAt = String(performance.now()); // read by bench/reader_page.py
      gd.dataset.drawn = String(ctx.assignment.id);
      document.dispatchEvent(new CustomEvent("ecg:drawn", { detail: ctx.assignment.id }));
    });
  }
  function refilter() {
    leadsShown = P.applyFilters(leadsRaw, exam.sampling_rate, { baseline: view.baseline, notch: view.notch });
    return draw();
  }
  function resetZoom() {
    Plotly.relayout(gd, { "xaxis.range": [0, sheet.width], "yaxis.range": [0, sheet.height] });
  }

  /* --- Calipers --------------------------------------------------------------------------------- */
  var caliper = { on: false, points: [], march: false };
  function panelAt(xmm, ymm) {
    var best = null;
    sheet.panels.forEach(function (p) {
      var right = p.x0 + (p.i1 - p.i0) * sheet.speed / exam.sampling_rate;
      if (xmm >= p.x0 - 0.5 && xmm <= right + 0.5 && Math.abs(ymm - p.yb) <= sheet.rowHeight / 2) best = p;
    });
    return best;
  }
  function caliperClick(event) {
    var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    var xmm = xa.p2l(event.clientX - box.left - xa._offset), ymm = ya.p2l(event.clientY - box.top - ya._offset);
    var panel = panelAt(xmm, ymm);
    if (!panel) return;
    // Snap to the nearest sample: intervals are then exact multiples of the sampling period.
    var fs = exam.sampling_rate;
    var index = Math.round((xmm - panel.x0) / sheet.speed * fs) + panel.i0;
    index = Math.max(panel.i0, Math.min(panel.i1 - 1, index));
    var point = { panel: panel, index: index, mv: (ymm - panel.yb) / sheet.gain };
    if (caliper.points.length >= 2) caliper.points = [];
    if (caliper.points.length === 1 && caliper.points[0].panel !== panel) caliper.points = [];
    caliper.points.push(point);
    caliper.march = false;
    showCaliper();
  }
  function sampleX(panel, index) { return panel.x0 + (index - panel.i0) * sheet.speed / exam.sampling_rate; }
  function caliperShapes() {
    if (!sheet || !caliper.points.length) return [];
    var shapes = [], p = caliper.points, half = sheet.rowHeight / 2, style = { color: "#1f5fbf", width: 1.5 };
    p.forEach(function (pt) {
      var x = sampleX(pt.panel, pt.index);
      shapes.push({ name: "caliper", type: "line", x0: x, x1: x, y0: pt.panel.yb - half, y1: pt.panel.yb + half, line: style });
    });
    if (p.length === 2) {
      var y = p[0].panel.yb + half * 0.8;
      shapes.push({ name: "caliper", type: "line", x0: sampleX(p[0].panel, p[0].index), x1: sampleX(p[1].panel, p[1].index), y0: y, y1: y, line: style });
      if (caliper.march) {
        var step = p[1].index - p[0].index, panel = p[0].panel;
        if (step !== 0) {
          for (var i = p[1].index + step; i >= panel.i0 && i < panel.i1; i += step) {
            var x = sampleX(panel, i);
            shapes.push({ name: "march", type: "line", x0: x, x1: x, y0: panel.yb - half, y1: panel.yb + half,
              line: { color: "#1f5fbf", width: 1, dash: "dot" } });
          }
        }
      }
    }
    return shapes;
  }
  function showCaliper() {
    var out = $("caliper-readout"), p = caliper.points;
    if (sheet) Plotly.relayout(gd, { shapes: baseShapes().concat(caliperShapes()) });
    if (p.length < 2) {
      out.textContent = caliper.on ? t("caliper_hint") : "";
      delete out.dataset.intervalMs;
      return;
    }
    var ms = Math.abs(p[1].index - p[0].index) * 1000 / exam.sampling_rate;
    var dv = p[1].mv - p[0].mv, bpm = ms > 0 ? 60000 / ms : 0;
    out.dataset.intervalMs = ms.toFixed(1);
    out.dataset.amplitudeMv = dv.toFixed(3);
    out.dataset.rateBpm = bpm.toFixed(1);
    out.textContent = t("caliper_readout", { ms: ms.toFixed(0), mv: dv.toFixed(2), bpm: bpm ? bpm.toFixed(0) : "–" });
  }
  function toggleCalipers(force) {
    caliper.on = typeof force === "boolean" ? force : !caliper.on;
    $("caliper-layer").hidden = !caliper.on;
    $("caliper-toggle").setAttribute("aria-pressed", String(caliper.on));
    $("caliper-readout").hidden = !caliper.on && caliper.points.length < 2;
    if (!caliper.on) caliper.points = [];
    showCaliper();
  }
  function marchOut() {
    if (caliper.points.length !== 2) return;
    caliper.march = !caliper.march;
    showCaliper();
  }

  /* --- Statements ------------------------------------------------------------------------------- */
  var statements = [], byCode = {}, kinds = {}, selected = {}, focusIndex = 0, normalCode = null;
  var searchIndex = [], ranked = null; // ranked: the search's matches, best first; null while it is empty
  var annotation = null, dirty = false, saveTimer = null, saving = Promise.resolve();
  var visibleSince = null, timeBase = 0;

  function buildStatements() {
    var list = $("statements");
    list.textContent = "";
    statements = []; byCode = {}; kinds = {};
    var sections = [["diagnostic", t("diagnoses")], ["quality", t("quality")]];
    sections.forEach(function (section) {
      var heading = document.createElement("h3");
      heading.className = "section";
      heading.textContent = section[1];
      list.appendChild(heading);
      ctx.taxonomy.groups.forEach(function (group) {
        var members = group.classes.filter(function (c) { return c.kind === section[0]; });
        if (!members.length) return;
        var g = document.createElement("div");
        g.className = "group";
        var h = document.createElement("h4");
        h.textContent = group.label;
        g.appendChild(h);
        members.forEach(function (c) {
          var row = document.createElement("div");
          row.className = "stmt";
          row.setAttribute("role", "option");
          row.dataset.code = c.code;
          row.id = "stmt-" + c.code;
          row.innerHTML = '<span class="box" aria-hidden="true"></span><span class="code"></span><span class="name"></span>' +
            '<button type="button" class="unc" tabindex="-1"></button>';
          row.querySelector(".code").textContent = c.code;
          row.querySelector(".name").textContent = c.label;
          row.querySelector(".unc").textContent = "?";
          row.querySelector(".unc").title = t("uncertain");
          row.title = [c.name, c.name_pt].concat(c.synonyms || []).filter(Boolean).join(" · ");
          g.appendChild(row);
          c.row = row; c.group = g;
          statements.push(c); byCode[c.code] = c; kinds[c.code] = c.kind;
        });
        list.appendChild(g);
      });
    });
    searchIndex = Search.index(statements);
    normalCode = null;
    ctx.taxonomy.exclusive_sets.forEach(function (set) {
      if (set.indexOf("*diagnostic*") >= 0 && !normalCode) normalCode = set.filter(function (c) { return c[0] !== "*"; })[0];
    });
  }
  function visibleStatements() { return ranked || statements; }
  function renderSelection() {
    statements.forEach(function (c) {
      var s = selected[c.code];
      c.row.classList.toggle("on", !!s);
      c.row.classList.toggle("uncertain", !!(s && s.uncertain));
      c.row.setAttribute("aria-selected", String(!!s));
    });
    var codes = chosenInOrder();
    $("chosen").textContent = codes.length ? codes.map(function (c) { return c + (selected[c].uncertain ? "?" : ""); }).join(", ") : t("none_chosen");
    checkConflicts();
  }
  function chosenInOrder() { return statements.filter(function (c) { return selected[c.code]; }).map(function (c) { return c.code; }); }
  function checkConflicts() {
    var found = P.conflicts(chosenInOrder(), kinds, ctx.taxonomy.exclusive_sets);
    if (found.length) {
      var a = byCode[found[0][0]], b = byCode[found[0][1]];
      showMessage(t("conflict", { a: a.label + " (" + a.code + ")", b: b.label + " (" + b.code + ")" }), "error");
    } else if ($("message").dataset.kind === "error") {
      showMessage("");
    }
    return found;
  }
  function showMessage(text, kind) {
    var m = $("message");
    m.textContent = text;
    m.hidden = !text;
    m.dataset.kind = text ? kind || "info" : "";
  }
  function setFocus(index) {
    var vis = visibleStatements();
    if (!vis.length) return;
    focusIndex = Math.max(0, Math.min(vis.length - 1, index));
    statements.forEach(function (c) { c.row.classList.remove("focus"); });
    vis[focusIndex].row.classList.add("focus");
    vis[focusIndex].row.scrollIntoView({ block: "nearest" });
    $("search").setAttribute("aria-activedescendant", vis[focusIndex].row.id);
  }
  function focused() { return visibleStatements()[focusIndex]; }
  function toggle(code) {
    if (!code || readOnly()) return;
    if (selected[code]) delete selected[code]; else selected[code] = { uncertain: false };
    changed();
  }
  function toggleUncertain(code) {
    if (!code || readOnly()) return;
    if (!selected[code]) selected[code] = { uncertain: true }; else selected[code].uncertain = !selected[code].uncertain;
    changed();
  }
  /* While searching, the list holds only the matching statements, best first (CSS order), without
   * groups, and the best one is highlighted: Enter chooses the highlighted one. keepCode (when given and
   * still listed) keeps the focus on that statement, e.g. the one just chosen when the search is left. */
  function filter(query, keepCode) {
    var searching = Search.fold(query) !== "";
    ranked = searching ? Search.rank(searchIndex, query).map(function (m) { return m.statement; }) : null;
    statements.forEach(function (c) { c.row.hidden = searching; c.row.style.order = ""; });
    (ranked || []).forEach(function (c, i) { c.row.hidden = false; c.row.style.order = String(i); });
    $("statements").classList.toggle("searching", searching);
    var none = $("no-match");
    none.hidden = !searching || ranked.length > 0;
    none.textContent = none.hidden ? "" : t("no_match", { query: query.trim() });
    var keep = keepCode ? visibleStatements().indexOf(byCode[keepCode]) : -1;
    statements.forEach(function (c) { c.row.classList.remove("focus"); });
    $("search").removeAttribute("aria-activedescendant");
    setFocus(keep >= 0 ? keep : 0);
  }
  function focusedCode() { var c = focused(); return c ? c.code : null; }
  function readOnly() { return !ctx || ctx.assignment.status === "submitted" || ctx.assignment.status === "skipped"; }

  /* --- Drafts, time on task, submit ------------------------------------------------------------- */
  function elapsed() { return timeBase + (visibleSince ? performance.now() - visibleSince : 0); }
  function payload() {
    return { labels: chosenInOrder().map(function (c) { return { code: c, uncertain: !!selected[c].uncertain }; }),
      comment: $("comment").value, time_on_task_ms: Math.round(elapsed()), revision: annotation.revision };
  }
  function changed() {
    renderSelection();
    dirty = true;
    $("save-state").textContent = t("unsaved");
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 700);
  }
  function saveDraft(keepalive) {
    clearTimeout(saveTimer);
    if (!dirty || readOnly()) return saving;
    var id = ctx.assignment.id;
    saving = saving.then(function () {
      if (!dirty || !ctx || ctx.assignment.id !== id) return;
      dirty = false;
      var saved = annotation; // this exam's read, even if the next exam is on screen by the answer
      return api(id + "/draft/", "PUT", payload(), keepalive).then(function (r) {
        if (r.status === 200) {
          saved.revision = r.data.revision;
          ctx.assignment.status = "in_progress";
          $("save-state").textContent = t("saved");
        } else if (r.status === 409) {
          showMessage(r.data.detail || t("stale"), "error");
          return open(id, null, true);
        } else {
          dirty = true;
          showMessage(r.data.detail || t("save_failed"), "error");
        }
      }, function () { dirty = true; $("save-state").textContent = t("save_failed"); });
    }).catch(function () { dirty = true; }); // keep the chain alive for the next save
    return saving;
  }
  function submit() {
    if (readOnly()) return;
    if (checkConflicts().length) return; // the message already names both statements
    if (!chosenInOrder().length) { showMessage(t("choose_one"), "error"); return; }
    clearTimeout(saveTimer);
    var id = ctx.assignment.id, body = payload(), nextId = ctx.next_assignment_id, read = annotation;
    // Outside two-stage reads the answer cannot change what comes next, and the checks the server
    // makes were already made here, so the prefetched next exam is drawn while the submit travels.
    // A refused submit brings the reader back to this exam with their choices intact.
    var optimistic = !!(nextId && prefetched[nextId] && ctx.assignment.suggestion_mode !== "two_stage");
    var kept = { selected: selected, comment: body.comment };
    $("submit").disabled = true;
    // The submit waits for any autosave of this read still travelling; that save moves the revision
    // on, so the submit carries the revision as it stands then, not as when the key was pressed.
    var request = saving.then(function () {
      body.revision = read.revision;
      return api(id + "/submit/", "POST", body);
    });
    saving = request.catch(function () {});
    if (optimistic) dirty = false; // this exam's state travels with the submit, not a later autosave
    var shown = optimistic ? open(nextId, true) : null;
    return request.then(function (r) {
      $("submit").disabled = readOnly();
      if (r.status !== 200) {
        var message = r.data.detail || t("save_failed");
        if (!optimistic) { showMessage(message, "error"); return; }
        return shown.then(function () { return open(id, true, true); }).then(function () { restore(kept, message); });
      }
      if (optimistic) {
        return r.data.next_assignment_id === nextId ? shown : shown.then(function () { return goNext(r.data.next_assignment_id); });
      }
      dirty = false;
      if (!r.data.done) { // two-stage: the blind read is stored; now the suggestion, and a revision
        showMessage(t("blind_stored"), "info");
        return apply(r.data.context);
      }
      return goNext(r.data.next_assignment_id);
    }).catch(function () { $("submit").disabled = false; showMessage(t("save_failed"), "error"); });
  }
  function restore(kept, message) {
    selected = kept.selected;
    $("comment").value = kept.comment;
    renderSelection();
    dirty = true;
    showMessage(message, "error");
  }
  function goNext(nextId) {
    if (!nextId) { window.location.assign(HOME); return; }
    return open(nextId, true);
  }
  function skip(reason) {
    var id = ctx.assignment.id;
    clearTimeout(saveTimer);
    return saving.then(function () {
      return api(id + "/skip/", "POST", { reason: reason }).then(function (r) {
        if (r.status !== 200) { showMessage(r.data.detail || t("save_failed"), "error"); return; }
        dirty = false;
        return goNext(r.data.next_assignment_id);
      });
    });
  }

  /* --- Opening an exam -------------------------------------------------------------------------- */
  function apply(context) {
    var sameTaxonomy = ctx && statements.length && ctx.assignment.batch_id === context.assignment.batch_id;
    ctx = context;
    annotation = context.annotation;
    selected = {};
    annotation.labels.forEach(function (l) { selected[l.code] = { uncertain: l.uncertain }; });
    $("comment").value = annotation.comment || "";
    timeBase = annotation.time_on_task_ms || 0;
    visibleSince = document.visibilityState === "visible" ? performance.now() : null;
    if (!sameTaxonomy) buildStatements(); // the same batch has the same statements: keep the rows
    filter($("search").value);
    renderSelection();
    renderContext();
    renderSuggestion();
    renderReadState();
    $("comment").disabled = readOnly();
    $("submit").disabled = readOnly();
    $("skip").disabled = !canSkip();
  }
  /* A submitted or skipped read reopens as what it is, read-only; never as a draft ("Draft saved"). */
  function renderReadState() {
    var status = ctx.assignment.status, box = $("read-state");
    $("save-state").textContent = status === "submitted" ? t("submitted_state")
      : status === "skipped" ? t("skipped_state") : annotation.revision ? t("saved") : "";
    box.textContent = status === "submitted" ? t("read_only_submitted")
      : status === "skipped" ? t("read_only_skipped", { reason: ctx.assignment.skip_reason || "–" }) : "";
    box.hidden = !box.textContent;
    rootEl.classList.toggle("read-only", readOnly());
  }
  // Two-stage: once the blind read is stored it counts; skipping now would withdraw it (the server refuses).
  function canSkip() { return !readOnly() && !annotation.blind; }
  function renderContext() {
    var e = ctx.exam, a = ctx.assignment, sex = { F: t("female"), M: t("male") }[e.sex] || t("sex_unknown");
    $("exam-context").textContent = t("exam_context", { age: e.age == null ? "–" : e.age, sex: sex,
      seconds: (e.n_samples / e.sampling_rate).toFixed(1), fs: e.sampling_rate });
    $("progress").textContent = t("progress", { batch: a.batch, position: a.position, total: a.queue.total, open: a.queue.open });
    $("stage").textContent = annotation.stage === "revised" && a.suggestion_mode === "two_stage" ? t("stage_revised") : "";
    var rhythm = $("rhythm-lead");
    if (!rhythm.options.length) {
      e.lead_names.slice(0, 12).forEach(function (name) { rhythm.add(new Option(name, name, false, name === view.rhythmLead)); });
    }
  }
  function renderSuggestion() {
    var box = $("suggestion"), s = ctx.suggestion;
    box.hidden = !s;
    box.textContent = "";
    if (!s) return;
    var h = document.createElement("h3");
    h.textContent = t("suggestion", { provider: s.provider, version: s.version });
    box.appendChild(h);
    var m = s.measurements || {};
    if (Object.keys(m).length) {
      var dash = function (v) { return v == null ? "–" : Math.round(v); };
      var mp = document.createElement("p");
      mp.className = "suggestion-measurements";
      mp.textContent = t("measurements", {
        rate: dash(m.heart_rate_bpm), pr: dash(m.pr_ms), qrs: dash(m.qrs_ms), qt: dash(m.qt_ms),
        qtc: dash(m.qtc_bazett_ms), axis: dash(m.qrs_axis_deg)
      });
      box.appendChild(mp);
    }
    // Suggested statements (score at or above the provider's threshold) first, then the next highest.
    var ul = document.createElement("ul");
    var suggested = s.scores.filter(function (item) { return item.suggested; });
    var rest = s.scores.filter(function (item) { return !item.suggested; });
    suggested.concat(rest.slice(0, Math.max(0, 6 - suggested.length))).forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.code + " · " + item.name + " · " + Math.round(item.score * 100) + "%";
      if (item.suggested) { li.className = "suggested"; li.textContent += " · " + t("suggested"); }
      ul.appendChild(li);
    });
    if (!suggested.length) {
      var none = document.createElement("li");
      none.textContent = t("nothing_suggested");
      ul.insertBefore(none, ul.firstChild);
    }
    box.appendChild(ul);
    if (annotation.blind) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = t("your_blind_read", { codes: annotation.blind.labels.map(function (l) { return l.code; }).join(", ") || "–" });
      box.appendChild(p);
    }
  }
  function prefetchNext() {
    var nextId = ctx.next_assignment_id;
    if (!nextId || prefetched[nextId]) return;
    // The next exam's context is fetched (and any suggestion recorded) only when it opens; the big
    // part, the waveform, is fetched now while the reader works.
    prefetched[nextId] = fetchWaveform(API + nextId + "/waveform/").catch(function () { delete prefetched[nextId]; });
    // Without suggestions nothing on the next page depends on when it opens: its context can wait ready.
    if (ctx.assignment.suggestion_mode === "hidden") {
      // The exam after the prefetched one must not be this one, which is about to be submitted.
      prefetchedContext[nextId] = api(nextId + "/?prefetch=1&from=" + ctx.assignment.id);
    }
  }
  function open(id, push, keepView) {
    var waveform = prefetched[id] || fetchWaveform(API + id + "/waveform/");
    var context = (!keepView && prefetchedContext[id]) || api(id + "/");
    delete prefetched[id];
    delete prefetchedContext[id];
    return context.then(function (r) {
      if (r.status !== 200) { window.location.assign(HOME); return; }
      var context = r.data;
      return waveform.then(function (buffer) {
        exam = context.exam;
        leadsRaw = P.decode(buffer, exam.lead_names.length, exam.n_samples, exam.gain_uv);
        leadsShown = P.applyFilters(leadsRaw, exam.sampling_rate, { baseline: view.baseline, notch: view.notch });
        caliper.points = [];
        if (!keepView) showMessage("");
        if (push) history.pushState({ id: id }, "", context.assignment.page_url);
        if (!ctx) {
          // First exam of the page: the reader looks at the tracing first, so draw it before building
          // the 70-odd statement rows (the panel is ready a few frames later, before any key press).
          ctx = context;
          annotation = context.annotation;
          return draw().then(function () { apply(context); showCaliper(); prefetchNext(); });
        }
        apply(context);
        return draw().then(function () { showCaliper(); prefetchNext(); });
      });
    });
  }

  /* --- Keyboard --------------------------------------------------------------------------------- */
  function typingIn(el) {
    return el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type !== "checkbox") || el.tagName === "SELECT");
  }
  function onKey(e) {
    if ($("help").open || $("skip-dialog").open) return; // dialogs handle their own keys (Esc closes)
    var target = e.target;
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submit(); return; }
    if (target === $("search")) {
      if (e.key === "ArrowDown") { e.preventDefault(); setFocus(focusIndex + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); setFocus(focusIndex - 1); }
      else if (e.key === "Enter") { e.preventDefault(); var c = focused(); if (c) toggle(c.code); target.select(); }
      else if (e.key === "Escape") { e.preventDefault(); leaveSearch(target); }
      return;
    }
    if (typingIn(target)) {
      if (e.key === "Escape") target.blur();
      return; // keys are letters while typing a comment
    }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var handled = true;
    switch (e.key) {
      case "/": $("search").focus(); $("search").select(); break;
      case "ArrowDown": case "j": setFocus(focusIndex + 1); break;
      case "ArrowUp": case "k": setFocus(focusIndex - 1); break;
      case " ": if (focused()) toggle(focused().code); break;
      case "u": if (focused()) toggleUncertain(focused().code); break;
      case "n": toggle(normalCode); break;
      case "Enter": submit(); break;
      case "s": openSkip(); break;
      case "?": $("help").showModal(); break;
      case "c": toggleCalipers(); break;
      case "m": marchOut(); break;
      case "r": resetZoom(); break;
      case "l": cycleLayout(); break;
      case "Escape":
        if (caliper.on) toggleCalipers(false);
        else { $("search").value = ""; filter("", focusedCode()); }
        break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }
  /* Leaving the search keeps the focus on the statement highlighted there (the one just chosen), so the
   * next key (u, Space) acts on it and not on the top of the list. */
  function leaveSearch(box) {
    var keep = focusedCode();
    box.value = "";
    filter("", keep);
    box.blur();
  }
  function cycleLayout() {
    var order = ["3x4", "6x2", "12x1"], next = order[(order.indexOf(view.layout) + 1) % order.length];
    $("layout").value = next;
    view.layout = next;
    caliper.points = [];
    draw();
  }
  function openSkip() {
    if (!canSkip()) return;
    $("skip-reason").value = "";
    $("skip-dialog").showModal();
    $("skip-reason").focus();
  }

  /* --- Wiring ----------------------------------------------------------------------------------- */
  document.addEventListener("keydown", onKey);
  $("statements").addEventListener("click", function (e) {
    var row = e.target.closest(".stmt");
    if (!row) return;
    var vis = visibleStatements();
    setFocus(vis.indexOf(byCode[row.dataset.code]));
    if (e.target.classList.contains("unc")) toggleUncertain(row.dataset.code); else toggle(row.dataset.code);
  });
  $("search").addEventListener("input", function () { filter(this.value); });
  $("comment").addEventListener("input", function () { if (!readOnly()) changed(); });
  $("submit").addEventListener("click", submit);
  $("skip").addEventListener("click", openSkip);
  $("help-toggle").addEventListener("click", function () { $("help").showModal(); });
  $("help-close").addEventListener("click", function () { $("help").close(); });
  $("skip-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var reason = $("skip-reason").value.trim();
    if (!reason) return;
    $("skip-dialog").close();
    skip(reason);
  });
  $("skip-cancel").addEventListener("click", function () { $("skip-dialog").close(); });
  $("caliper-toggle").addEventListener("click", function () { toggleCalipers(); });
  $("caliper-layer").addEventListener("click", caliperClick);
  $("march").addEventListener("click", marchOut);
  $("reset-zoom").addEventListener("click", resetZoom);
  $("layout").addEventListener("change", function () { view.layout = this.value; caliper.points = []; draw(); });
  $("rhythm-lead").addEventListener("change", function () { view.rhythmLead = this.value; caliper.points = []; draw(); });
  $("speed").addEventListener("change", function () { view.speed = parseFloat(this.value); caliper.points = []; draw(); });
  $("gain").addEventListener("change", function () { view.gain = parseFloat(this.value); caliper.points = []; draw(); });
  $("filter-baseline").addEventListener("change", function () { view.baseline = this.checked; refilter(); });
  $("filter-notch").addEventListener("change", function () { view.notch = parseFloat(this.value) || 0; refilter(); });
  // Lets a click in a toolbar select hand the keys back to the page once a choice is made.
  document.querySelectorAll(".toolbar select").forEach(function (s) { s.addEventListener("change", function () { s.blur(); }); });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (sheet) draw(); }, 150);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") visibleSince = performance.now();
    else {
      timeBase = elapsed(); visibleSince = null;
      if (dirty) saveDraft(true);
    }
  });
  window.addEventListener("pagehide", function () { if (dirty) saveDraft(true); });
  window.addEventListener("popstate", function (e) { if (e.state && e.state.id) open(e.state.id, false); });

  history.replaceState({ id: Number(rootEl.dataset.assignment) }, "", window.location.href);
  open(Number(rootEl.dataset.assignment), false).catch(function (error) {
    showMessage(t("load_failed") + " " + error.message, "error");
  });
})();
