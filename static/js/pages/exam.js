/* The coordinator's exam page: the ECG on the readers' calibrated sheet with the same tools (layouts,
 * rhythm lead, speed, gain, lead names, filters, calipers, zoom; static/js/ecg/viewer.js), from the
 * coordinator-only waveform download in the readers' wire format. */
import * as P from "../ecg/paper.js";
import * as Plotly from "../ecg/plotly.js";
import { translator } from "../ecg/locale.js";
import * as Viewer from "../ecg/viewer.js";

function showExam() {
  var gd = document.getElementById("exam-ecg"), pane = document.getElementById("exam-viewer");
  if (!gd || !pane || !Plotly.available()) return;
  var $ = function (id) { return document.getElementById(id); };
  var t = translator("strings");
  var exam = { sampling_rate: parseFloat(gd.dataset.samplingRate), n_samples: parseInt(gd.dataset.samples, 10),
    gain_uv: parseFloat(gd.dataset.gainUv), lead_names: gd.dataset.leads.split(",") };
  // preferencesUrl is absent for a coordinator who neither reads nor adjudicates: the standard view.
  var viewer = Viewer.create({ gd: gd, $: $, t: t, preferencesUrl: pane.dataset.preferencesUrl,
    csrf: pane.dataset.csrf, config: { showTips: true } });

  function typingIn(el) {
    var choice = el && el.tagName === "INPUT" && (el.type === "radio" || el.type === "checkbox");
    return el && !choice && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.tagName === "SELECT");
  }
  function onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || typingIn(e.target)) return;
    if (e.key === "Escape" && viewer.caliper.on) { viewer.toggleCalipers(false); return; }
    if (!Object.prototype.hasOwnProperty.call(viewer.keys, e.key)) return;
    if (viewer.keys[e.key](e) === false) return; // not for the calipers now: the browser's own (scrolling)
    e.preventDefault();
  }

  var waveform = fetch(gd.dataset.waveformUrl, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("waveform " + r.status); return r.arrayBuffer(); });
  Promise.all([waveform, viewer.loadPreferences()])
    .then(function (got) {
      viewer.setExam(exam, P.decode(got[0], exam.lead_names.length, exam.n_samples, exam.gain_uv));
      viewer.wire();
      document.addEventListener("keydown", onKey);
      return viewer.draw();
    })
    .then(function () { gd.dataset.drawn = "1"; })
    .catch(function (error) {
      var text = gd.dataset.loadFailed || "The ECG could not be loaded ({error}).";
      gd.textContent = text.replace("{error}", error.message);
    });
}
showExam();
