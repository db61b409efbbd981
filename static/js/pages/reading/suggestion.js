/* The reader page's model outputs, each shown only as the batch's suggestion mode allows (the server sends
 * nothing else): the suggestion panel (scores, with the rule's rationale, and the model's measurements),
 * scalar outputs and relevance bands under the strips, and the median beat panel (static/js/ecg/median.js). */
import * as Median from "../../ecg/median.js";
import { number } from "../../ecg/viewer.js";
import { whenIdle } from "./page.js";

export function createSuggestion(page) {
  var $ = page.$, t = page.t, state = page.state;

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
   * draws whatever came, and nothing in hidden batches, where it does not even ask. The last exam's go at
   * once; this one's are asked for once the page is idle (drawn). */
  function explain(context) {
    state.explanations = null;
    renderExplanations(false);
    whenIdle(function () { loadExplanations(context); });
  }
  function loadExplanations(context) {
    if (context.assignment.suggestion_mode === "hidden") return;
    var id = context.assignment.id;
    page.network.api(id + "/explanations/").then(function (r) {
      if (r.status !== 200 || !state.ctx || state.ctx.assignment.id !== id) return;
      state.explanations = r.data;
      renderExplanations();
    });
  }
  /* redraw: false when the strips are about to be drawn anyway (with state.band). */
  function renderExplanations(redraw) {
    var found = state.explanations || {}, list = $("model-scalars"), select = $("relevance-class");
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
    if (redraw !== false) page.viewer.showCaliper(); // lays the band (or none) over the strips with the calipers
  }
  /* The median beat and measurements under the strips (static/js/ecg/median.js), when the server sent
   * them. Under, never beside: the strips' millimetre is the same with the panel and without it, so its
   * coming or going redraws nothing. later: as in ecg/median.js's render, to draw the beats once the strips
   * are drawn. */
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
    var label = page.sheet.medianLabel;
    if (context.median) Median.render(box, context.median, t, label, later);
    else Median.renderMeasurements(box, context.measurements, t, label, later);
  }
  /* Before the first exam's context: in a batch that shows the median beat the panel takes its place under
   * the strips now, empty, so what follows it does not move when the context fills it (renderMedian). */
  function reserveMedian(room) {
    var box = $("median-panel");
    box.textContent = "";
    box.hidden = !room;
  }

  function wire() {
    page.on("relevance-class", "change", function () {
      state.band = ((state.explanations || {}).bands || [])[Number(this.value)] || null;
      page.viewer.showCaliper();
      this.blur();
    });
  }

  return { renderSuggestion: renderSuggestion, explain: explain, renderMedian: renderMedian,
    reserveMedian: reserveMedian, wire: wire };
}
