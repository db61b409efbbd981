/* The page's first exam, as fast as the page can draw it: its strips as soon as its samples are in (the
 * waveform taken in hand from the page's head, pages/reading-waveform.js), from the sheet the page carries,
 * while its context is on its way; the context (statements, read, suggestion, median beat, earlier ECGs,
 * next exam) fills the rest once it is in. */
import * as P from "../../ecg/paper.js";
import * as Plotly from "../../ecg/plotly.js";

export function createFirstExam(page) {
  var $ = page.$, t = page.t, state = page.state, network = page.network;

  /* What the first exam's strips are drawn from (its geometry and the view preferences) comes in the page
   * (views/reading.py), unless this is a copy the browser kept for back or forward, which may be stale: then
   * it is asked for. The page never carries the reading context: that comes from the API on every load
   * (preloaded from the page's head), also when the browser reuses a page it kept. */
  function embedded(id) {
    var navigation = performance.getEntriesByType("navigation")[0], el = $(id);
    if (!el || (navigation && navigation.type === "back_forward")) return null;
    return JSON.parse(el.textContent);
  }
  function openFirst(id, sheet, preferences) {
    var exam = sheet.exam, viewer = page.viewer;
    var waveform = state.prefetched[id] || network.fetchWaveform(network.waveformUrl(id));
    delete state.prefetched[id];
    page.suggestion.reserveMedian(sheet.median_room);
    var strips = Promise.all([waveform, preferences]).then(function (got) {
      viewer.setExam(exam, P.decode(got[0], exam.lead_names.length, exam.n_samples, exam.gain_uv));
      return viewer.draw();
    });
    var context = network.api(id + "/"); // preloaded from the page's head: the same request
    return Promise.all([context, strips]).then(function (got) {
      if (got[0].status === 404) { leftQueueBeforeOpening(); return; }
      if (got[0].status !== 200) { window.location.assign(page.HOME); return; }
      return page.opening.show(id, got[0].data, null, false, false, true);
    });
  }
  /* A page the browser kept, of an exam that has left the reader's queue since (moved to another reader,
   * its batch closed): its strips, drawn from the kept page before the context said so, are taken away,
   * and the reader is told, as when it leaves while open. */
  function leftQueueBeforeOpening() {
    Plotly.purge(page.gd);
    page.gd.hidden = true;
    page.drafts.goneAway();
  }
  /* preloaded: {url, samples} from pages/reading-waveform.js, or null. */
  function start(preloaded) {
    var viewer = page.viewer;
    // An opaque reference (never the database id), compared and sent back as a string.
    var firstId = page.rootEl.dataset.assignment, sheet = embedded("reading-sheet");
    // The first waveform, already being read since the page's head.
    if (preloaded && preloaded.url === network.waveformUrl(firstId)) {
      state.prefetched[firstId] = preloaded.samples.catch(function () { return network.fetchWaveform(preloaded.url); });
    }
    var opened = sheet && sheet.assignment === firstId
      ? openFirst(firstId, sheet, viewer.usePreferences(sheet.preferences))
      : page.opening.open(firstId, false, false, viewer.loadPreferences());
    // Marked once the first exam is drawn: history's calls are slow enough to delay the first draw.
    opened.then(function () { if (!history.state) history.replaceState({ id: firstId }, "", window.location.href); });
    opened.catch(function (error) {
      page.showMessage(t("load_failed") + " " + error.message, "error");
    });
    return opened;
  }

  return { start: start };
}
