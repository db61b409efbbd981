/* What the reader page says of the exam on screen above its strips: when it was acquired, the patient's
 * age and sex, its length, the recording cart's measurements where the batch shows them, the reader's
 * place in the queue, and the printout of it. */
import { stamp } from "../../ecg/locale.js";
import { number } from "../../ecg/viewer.js";

/* The recording cart's own measurements, one line as a cart's printout header has them, in a batch
 * designed to show them (null otherwise); rows the file did not give are left out. */
var DEVICE_ROWS = [ // key, label key, unit
  ["heart_rate_bpm", "m_rate", "bpm"], ["atrial_rate_bpm", "m_atrial_rate", "bpm"], ["rr_ms", "m_rr", "ms"],
  ["pr_ms", "m_pr", "ms"], ["qrs_ms", "m_qrs", "ms"], ["qt_ms", "m_qt", "ms"], ["qtc_ms", "m_qtc_device", "ms"],
  ["qtc_bazett_ms", "m_qtc_bazett", "ms"], ["qtc_fridericia_ms", "m_qtc_fridericia", "ms"],
  ["p_axis_deg", "m_p_axis", "°"], ["qrs_axis_deg", "m_qrs_axis", "°"], ["t_axis_deg", "m_t_axis", "°"],
];

export function createExamContext(page) {
  var $ = page.$, t = page.t, state = page.state;

  function renderContext() {
    var e = state.ctx.exam, a = state.ctx.assignment;
    // The words of the printout's header (reading/_exam_context.html): when, age, sex, length.
    $("exam-context").textContent = [
      e.acquired_at ? t("context_acquired", { when: stamp(e.acquired_at, page.rootEl.dataset.timeZone) })
        : t("context_not_acquired"),
      e.age == null ? t("context_no_age") : t("context_age", { age: e.age }),
      { F: t("female"), M: t("male") }[e.sex] || t("sex_unknown"),
      // A cart's rate as it prints it: a Welch Allyn file stores 599.88 Hz for its 600 Hz.
      t("context_recording", { seconds: number(e.n_samples / e.sampling_rate, 1), fs: number(e.sampling_rate, 0) }),
    ].join(" · ");
    $("print-link").href = a.page_url + "print/";  // the exam on screen, which changes without a reload
    renderDeviceMeasurements(e.device_measurements);
    $("progress").textContent = t("progress", { batch: a.batch, position: a.position, total: a.queue.total, open: a.queue.open });
    $("stage").textContent = state.annotation.stage === "revised" && a.suggestion_mode === "two_stage" ? t("stage_revised") : "";
  }
  function renderDeviceMeasurements(m) {
    var box = $("device-measurements");
    box.hidden = m == null;
    if (m == null) { box.textContent = ""; return; }
    var parts = DEVICE_ROWS.filter(function (row) { return typeof m[row[0]] === "number"; }).map(function (row) {
      var v = m[row[0]], text = number(v, v % 1 === 0 ? 0 : 1);
      return t(row[1]) + " " + text + (row[2] === "°" ? "°" : " " + row[2]);
    });
    box.textContent = t("device_title") + ": " + (parts.length ? parts.join(" · ") : t("device_none"));
  }

  function wire() {
    // The printout draws the rhythm strip's lead the reader has on screen (the other view choices are
    // saved preferences the print page reads itself).
    page.on("print-link", "click", function () {
      var lead = page.viewer.view.rhythmLead;
      this.href = state.ctx.assignment.page_url + "print/" + (lead && lead !== "II" ? "?rhythm=" + encodeURIComponent(lead) : "");
    });
  }

  return { renderContext: renderContext, wire: wire };
}
