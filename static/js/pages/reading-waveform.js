/* The reader page's first exam's waveform, taken in hand as soon as the page's head is parsed. Exposed as
 * window.ReadingWaveform: {url, samples (Promise of ArrayBuffer)}.
 *
 * The head's preload hint already fetches it; this asks for it at once, so its bytes are read while the
 * server is still building the reading context, instead of after pages/reading.js has started with that
 * context. The same request serves both: the credentials mode matches the preload's. pages/reading.js
 * draws from it; should it fail, that page asks again.
 *
 * An XMLHttpRequest rather than fetch(): fetch() starts reading the body only once a script has been
 * handed the response, and that waits until Plotly's evaluation and the rest of the page's parsing let
 * go of the main thread; the bytes then came 13 ms after DOMContentLoaded, and the strips were drawn
 * after a first paint of the page without them. The request's own loader reads the body as it arrives:
 * the samples were in hand at about DOMContentLoaded, and a warm page's strips were drawn 10.8 ms sooner
 * back to back and 6.6 ms sooner after a quiet pause (bench/reader_page_ab.py, 150 and 200 pairs). */
(function (root) {
  "use strict";
  var script = document.currentScript, url = script && script.dataset.url;
  if (!url) return;
  var samples = new Promise(function (resolve, reject) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.withCredentials = true;
    xhr.responseType = "arraybuffer";
    xhr.onload = function () {
      if (xhr.status === 200) resolve(xhr.response); else reject(new Error("waveform " + xhr.status));
    };
    xhr.onerror = function () { reject(new Error("waveform: no answer")); };
    xhr.send();
  });
  samples.catch(function () {}); // handled where it is used
  root.ReadingWaveform = { url: url, samples: samples };
})(window);
