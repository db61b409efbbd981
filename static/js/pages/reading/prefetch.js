/* The next exam of the reader's queue, fetched while the reader works on this one: its waveform always,
 * its context where the batch's suggestion mode allows (never its suggestion, which is fetched, and
 * recorded as shown, only when its exam opens). */

export function createPrefetch(page) {
  var state = page.state, network = page.network;

  function prefetchNext() {
    var ctx = state.ctx, nextId = ctx.next_assignment_id, mode = ctx.assignment.suggestion_mode;
    if (!nextId || state.prefetched[nextId]) return;
    // The big part, the waveform, is fetched now while the reader works.
    state.prefetched[nextId] = network.fetchWaveform(network.waveformUrl(nextId))
      .catch(function () { delete state.prefetched[nextId]; });
    // The context comes without any suggestion: a suggestion is fetched (and recorded as shown) only when
    // its exam opens. In hidden batches that is the whole context; in shown ones the exam is drawn from it
    // and its suggestion follows (suggestionArrived). Two-stage reads open from the server's answer.
    if (mode === "hidden" || mode === "shown") {
      // The exam after the prefetched one must not be this one, which is about to be submitted.
      state.prefetchedContext[nextId] = network.api(nextId + "/?prefetch=1&from=" + ctx.assignment.id).then(function (r) {
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
      page.suggestion.renderSuggestion();
      page.suggestion.renderMedian(ctx);
    });
  }

  return { prefetchNext: prefetchNext, suggestionArrived: suggestionArrived };
}
