// Batch progress dashboard: redraws the reads-per-day chart and the reader table every minute from the
// JSON the page's data-progress-url names (static/js/ecg/poll.js). No inline script: the CSP forbids it.
import * as L from "../ecg/locale.js";
import { poll } from "../ecg/poll.js";
import * as Plotly from "../ecg/plotly.js";

function followProgress() {
  var section = document.getElementById("progress");
  if (!section) return;
  var url = section.dataset.progressUrl;
  var REFRESH_MS = 60 * 1000;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    return td;
  }

  // Times as the server's pages write them, in the server's time zone (data-time-zone), not in the
  // browser's zone; numbers with the page's decimal mark (static/js/ecg/locale.js).
  var zone = section.dataset.timeZone || "UTC";
  function stamp(iso) {
    return L.stamp(iso, zone);
  }

  function seconds(value) {
    return value === null ? null : L.decimal(value.toFixed(1));
  }

  function drawTable(readers) {
    var body = document.querySelector("#reader-progress tbody");
    body.replaceChildren();
    readers.forEach(function (r) {
      var row = document.createElement("tr"), name = cell(r.username);
      if (r.left) {
        var mark = document.createElement("span");
        mark.className = "muted reader-left";
        mark.textContent = document.getElementById("reader-progress").dataset.left;
        name.append(" ", mark);
      }
      row.append(
        name, cell(r.done + " / " + r.total), cell(r.skipped), cell(r.remaining), cell(r.drafts),
        cell(seconds(r.median_seconds)),
        cell(r.q1_seconds === null ? null : seconds(r.q1_seconds) + "–" + seconds(r.q3_seconds)),
        cell(r.gold_read ? r.gold_exact + " / " + r.gold_read : null),
        cell(stamp(r.last_activity))
      );
      body.append(row);
    });
  }

  // The form that hands one skipped exam on to one of the readers who may read it. It posts like the
  // page's own forms (a CSRF token copied from one of them); the server checks every rule again.
  function handOnForm(table, skip) {
    var d = table.dataset, token = document.querySelector("input[name=csrfmiddlewaretoken]");
    var form = document.createElement("form");
    form.method = "post";
    form.className = "hand-on";
    form.action = d.handOnUrl.replace(/\/0\/hand-on\/$/, "/" + skip.assignment_id + "/hand-on/");
    if (token) form.append(token.cloneNode());
    var select = document.createElement("select");
    select.name = "reader";
    select.required = true; // nobody chosen beforehand: one click must not hand it to whoever sorts first
    select.setAttribute("aria-label", table.querySelector("th").textContent);
    var choose = new Option(d.choose, "", true, true);
    choose.disabled = true;
    select.add(choose);
    skip.candidates.forEach(function (c) { select.add(new Option(c.username, String(c.id))); });
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = d.handOnLabel;
    form.append(select, " ", button);
    return form;
  }

  // What can be done with one skipped exam: who it went to, nothing (batch closed, no reader left), or the form.
  function skipAction(table, skip) {
    var d = table.dataset, action = document.createElement("td");
    if (skip.handed_to) {
      action.textContent = d.handedTemplate.replace("{reader}", skip.handed_to);
    } else if (d.closed) {
      action.textContent = "—";
    } else if (!skip.candidates.length) {
      action.className = "muted";
      action.textContent = d.noCandidate;
    } else {
      action.append(handOnForm(table, skip));
    }
    return action;
  }

  // Skipped exams, each with what can be done with it.
  function drawSkips(skips) {
    var table = document.getElementById("skips");
    if (!table) return;
    // Not while the coordinator is choosing a reader in one of its forms: the next tick redraws it.
    if (table.contains(document.activeElement)) return;
    var body = table.querySelector("tbody");
    body.replaceChildren();
    if (!skips.length) {
      var none = document.createElement("tr"), td = cell(table.dataset.none);
      none.className = "none"; td.colSpan = 5; td.className = "muted";
      none.append(td);
      body.append(none);
      return;
    }
    skips.forEach(function (s) {
      var row = document.createElement("tr");
      row.dataset.assignment = String(s.assignment_id);
      var reason = cell(s.reason);
      reason.className = "skip-reason";
      row.append(cell(s.reader), cell(s.exam), reason,
        cell(stamp(s.skipped_at)), skipAction(table, s));
      body.append(row);
    });
  }

  // The skips per listed reason, labelled by the server in the coordinator's language.
  function drawSkipCounts(counts) {
    var table = document.getElementById("skip-counts");
    if (!table) return;
    var body = table.querySelector("tbody");
    body.replaceChildren();
    counts.forEach(function (c) {
      var row = document.createElement("tr"), n = cell(c.count);
      row.dataset.code = c.code;
      n.className = "count";
      row.append(cell(c.label), n);
      body.append(row);
    });
  }

  // Whole days only: the dates are days, so the axis ticks one per day (never hours around midnight),
  // and a batch with no read yet says so instead of an empty axis Plotly would spread over 2000.
  var DAY_MS = 24 * 60 * 60 * 1000;

  function drawChart(days) {
    var chart = document.getElementById("reads-per-day");
    var empty = document.getElementById("no-reads");
    if (!days.length) {
      if (empty) empty.hidden = false;
      chart.hidden = true;
      if (chart.data) Plotly.purge(chart);
      return;
    }
    if (empty) empty.hidden = true;
    chart.hidden = false;
    var trace = {
      type: "bar",
      x: days.map(function (d) { return d[0]; }),
      y: days.map(function (d) { return d[1]; }),
      width: DAY_MS * 0.8,  // a day wide: Plotly gives a lone bar on a date axis a width of 1 ms
      marker: { color: "#b4232a" },
    };
    var first = Date.parse(days[0][0]), last = Date.parse(days[days.length - 1][0]);
    var step = Math.max(1, Math.ceil((last - first) / DAY_MS / 10));  // at most about ten labels
    var layout = {
      height: 260, margin: { l: 40, r: 10, t: 10, b: 40 },
      separators: L.separators,
      xaxis: { type: "date", tickformat: L.portuguese ? "%d/%m/%Y" : "%Y-%m-%d", hoverformat: L.portuguese ? "%d/%m/%Y" : "%Y-%m-%d", dtick: step * DAY_MS,
        tick0: first, range: [first - DAY_MS / 2, last + DAY_MS / 2], automargin: true },
      // Whole reads only: a day of one read drew ticks at 0.2, 0.4...
      yaxis: { title: { text: document.getElementById("reads-per-day").dataset.axis || "reads" }, rangemode: "tozero",
        tick0: 0, dtick: Math.max(1, Math.ceil(Math.max.apply(null, days.map(function (d) { return d[1]; })) / 5)) },
    };
    Plotly.react(document.getElementById("reads-per-day"), [trace], layout, { displayModeBar: false, responsive: true });
  }

  function draw(data) {
    var c = data.coverage;
    var coverage = document.getElementById("coverage");
    var template = coverage.dataset.template || "{done} of {total} exams fully read; {reads} of {all} reads done; {skipped} skipped.";
    var values = { done: c.exams_complete, total: c.exams, reads: c.reads_done, all: c.reads, skipped: c.skipped };
    coverage.textContent = template.replace(/\{(\w+)\}/g, function (m, key) {
      return key in values ? String(values[key]) : m;
    });
    drawTable(data.readers);
    drawSkips(data.skips || []);
    drawSkipCounts(data.skip_counts || []);
    drawChart(data.reads_per_day);
    document.getElementById("refreshed-at").textContent = L.clock(new Date(), zone);
  }

  // First from the figures the page was rendered with (asking progress.json at once computed them all
  // again: a second of a 100k-exam batch), then every minute; a failed request keeps the last figures
  // and the next tick tries again.
  draw(JSON.parse(document.getElementById("progress-data").textContent));
  poll(url, { everyMs: REFRESH_MS, delayMs: REFRESH_MS, onData: draw });
}
followProgress();

// The suggestions section: counted by a request of its own (views/batches.py), fetched once the page is
// up and every minute while some exams still wait for theirs. The module exports refreshSuggestions (a
// no-op on a page without the section), which tests call to ask at once rather than wait the minute.
function followSuggestions() {
  var section = document.getElementById("suggestions");
  if (!section || !section.dataset.fragmentUrl) return function () { return Promise.resolve(); };
  var body = document.getElementById("suggestions-body");
  var REFRESH_MS = 60 * 1000, timer = null;

  // Every bar full: nothing left to follow.
  function allComputed() {
    var bars = body.querySelectorAll("progress.suggestion-bar");
    return bars.length > 0 && Array.prototype.every.call(bars, function (bar) { return bar.value >= bar.max; });
  }

  function refresh() {
    window.clearTimeout(timer);
    return fetch(section.dataset.fragmentUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      // The server's own template, escaped there: the section as the page would have rendered it.
      .then(function (html) { body.innerHTML = html; section.dataset.loaded = "1"; })
      .catch(function () {}) // the last counts stay; the next tick asks again
      .then(function () { if (!allComputed()) timer = window.setTimeout(refresh, REFRESH_MS); });
  }

  refresh();
  return refresh;
}
export const refreshSuggestions = followSuggestions();

/* Closing a batch cannot be undone: the coordinator confirms it, told how many reads are still open. */
function confirmClose() {
  var form = document.getElementById("close-form");
  if (!form) return;
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}
confirmClose();
