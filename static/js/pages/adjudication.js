/* The adjudication page's ECG: the reader's calibrated sheet with the reader's tools (layouts, rhythm lead,
 * speed, gain, lead names, filters, calipers, zoom; static/js/ecg/viewer.js), drawn from the same waveform
 * wire format, in the user's preferred view, with the median beat panel beside it where the exam has a
 * suggestion (static/js/ecg/median.js, as on the reader page), and the patient's earlier ECGs where the
 * batch offered them to its readers (static/js/ecg/priors.js). Nothing here knows who read it. */
import * as P from "../ecg/paper.js";
import * as Plot from "../ecg/plot.js";
import * as Plotly from "../ecg/plotly.js";
import * as Median from "../ecg/median.js";
import * as Priors from "../ecg/priors.js";
import { translator } from "../ecg/locale.js";
import * as Viewer from "../ecg/viewer.js";

function showCaseEcg() {
  var gd = document.getElementById("adjudication-ecg"), pane = document.getElementById("adjudication-viewer");
  if (!gd || !pane || !Plotly.available()) return;
  var $ = function (id) { return document.getElementById(id); };
  var t = translator("strings");
  var exam = { sampling_rate: parseFloat(gd.dataset.samplingRate), n_samples: parseInt(gd.dataset.samples, 10),
    gain_uv: parseFloat(gd.dataset.gainUv), lead_names: gd.dataset.leads.split(",") };
  // Plotly's zoom tips stay on here: this page has no help dialog that explains the zoom.
  var priors = null;
  var viewer = Viewer.create({ gd: gd, $: $, t: t, preferencesUrl: pane.dataset.preferencesUrl,
    csrf: pane.dataset.csrf, config: { showTips: true },
    onDrawn: function () { if (priors) priors.draw(); } }); // the earlier ECG follows every redraw
  function fetchWaveform(url) {
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("waveform " + r.status); return r.arrayBuffer(); });
  }
  var offered = $("case-priors") ? JSON.parse($("case-priors").textContent) : [];
  if (offered.length) {
    priors = Priors.create({ viewer: viewer, gd: gd, $: $, t: t, fetchWaveform: fetchWaveform });
    priors.arrange(offered, offered, "case");
    priors.wire();
  }

  function typingIn(el) {
    var choice = el && el.tagName === "INPUT" && (el.type === "radio" || el.type === "checkbox");
    return el && !choice && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.tagName === "SELECT");
  }
  function onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || typingIn(e.target)) return;
    if (e.key === "Escape" && viewer.caliper.on) { viewer.toggleCalipers(false); return; }
    if (e.key === "p" && priors) { e.preventDefault(); priors.cycle(); return; }
    if (!Object.prototype.hasOwnProperty.call(viewer.keys, e.key)) return;
    if (viewer.keys[e.key](e) === false) return; // not for the calipers now: the browser's own (scrolling)
    e.preventDefault();
  }

  var waveform = fetchWaveform(gd.dataset.waveformUrl);
  Promise.all([waveform, viewer.loadPreferences()])
    .then(function (got) {
      viewer.setExam(exam, P.decode(got[0], exam.lead_names.length, exam.n_samples, exam.gain_uv));
      viewer.wire();
      // Before the strips: the panel takes its width beside them, so they are drawn once, at their width.
      var median = $("case-median"), box = $("median-panel");
      if (median && box) {
        Median.render(box, JSON.parse(median.textContent), t, function (lead) {
          return Plot.leadLabel(lead, viewer.view.leadNames);
        });
      }
      document.addEventListener("keydown", onKey);
      return viewer.draw();
    })
    .then(function () { gd.dataset.drawn = "1"; })
    .catch(function (error) {
      var text = gd.dataset.loadFailed || "The ECG could not be loaded ({error}).";
      gd.textContent = text.replace("{error}", error.message);
    });
}
showCaseEcg();
