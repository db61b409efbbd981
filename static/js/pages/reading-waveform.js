/* The reader page's first exam's waveform, taken in hand as soon as the page's head is parsed. Exposed as
 * window.ReadingWaveform: {url, samples (Promise of ArrayBuffer)}.
 *
 * The head's preload hint already fetches it; this asks for it at once, so its bytes are read while the
 * server is still building the reading context, instead of after pages/reading.js has started with that
 * context. The same request serves both: the credentials mode matches the preload's. pages/reading.js
 * draws from it; should it fail, that page asks again. */
(function (root) {
  "use strict";
  var script = document.currentScript, url = script && script.dataset.url;
  if (!url) return;
  var samples = fetch(url, { credentials: "include" }).then(function (r) {
    if (!r.ok) throw new Error("waveform " + r.status);
    return r.arrayBuffer();
  });
  samples.catch(function () {}); // handled where it is used
  root.ReadingWaveform = { url: url, samples: samples };
})(window);
