/* The reader page's ECG: the calibrated sheet with its tools (static/js/ecg/viewer.js), the relevance band
 * of the class chosen under it, an earlier ECG of the patient beside or beneath it where the batch shows
 * them (ecg/priors.js), and the bands that say what of a magnified sheet lies out of view (ecg/offscreen.js). */
import * as Median from "../../ecg/median.js";
import * as Offscreen from "../../ecg/offscreen.js";
import * as Plot from "../../ecg/plot.js";
import * as Priors from "../../ecg/priors.js";
import * as Relevance from "../../ecg/relevance.js";
import * as Viewer from "../../ecg/viewer.js";

export function createSheet(page) {
  var $ = page.$, t = page.t, state = page.state, gd = page.gd;
  var viewer = Viewer.create({ gd: gd, $: $, t: t, preferencesUrl: page.rootEl.dataset.preferencesUrl, csrf: page.CSRF,
    onDrawn: drawn, extraShapes: function (sheet) { return Relevance.shapes(sheet, state.band); } });
  var priors = Priors.create({ viewer: viewer, gd: gd, $: $, t: t, fetchWaveform: page.network.fetchWaveform,
    label: medianLabel });
  var offscreen = Offscreen.create({ viewer: viewer, $: $, t: t, label: medianLabel });

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
  /* A lead's name as the strips write it now (I or DI), for the median beats and the edges' bands. */
  function medianLabel(lead) { return Plot.leadLabel(lead, viewer.view.leadNames); }

  function wire() {
    // The viewer redraws the strips with the new names (its own listener); the median beats are
    // relabelled in place, from the choice itself whichever listener runs first.
    page.on("lead-names", "change", function () {
      var style = this.value;
      ["median-panel", "serial-overlay"].forEach(function (id) {
        Median.relabel($(id), function (lead) { return Plot.leadLabel(lead, style); });
      });
    });
    priors.wire();
    viewer.wire();
    offscreen.wire();
  }

  return { viewer: viewer, priors: priors, offscreen: offscreen, marked: marked, medianLabel: medianLabel, wire: wire };
}
