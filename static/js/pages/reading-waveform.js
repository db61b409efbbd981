/* The reader page's first exam's waveform, taken in hand as soon as the page's head is parsed. The module
 * exports `preloaded`: {url, samples (Promise of ArrayBuffer)}, or null on a page without the waveform.
 *
 * The head's preload hint already fetches it; this asks for it at once, so its bytes are read while the
 * server is still building the reading context, instead of after pages/reading.js has started with that
 * context. The same request serves both: the credentials mode matches the preload's. pages/reading.js
 * draws from it (importing this module: the same one, run once, whose request is already on its way);
 * should it fail, that page asks again.
 *
 * The page loads it with <script type="module" async> in its head: with no imports, an async module runs as
 * soon as it has arrived, without waiting for the rest of the page to be parsed as deferred modules do.
 * A module has no document.currentScript, so it finds its own element by data-waveform-url.
 *
 * An XMLHttpRequest rather than fetch(): fetch() starts reading the body only once a script has been
 * handed the response, and that waits until Plotly's evaluation and the rest of the page's parsing let
 * go of the main thread; the bytes then came 13 ms after DOMContentLoaded, and the strips were drawn
 * after a first paint of the page without them. The request's own loader reads the body as it arrives:
 * the samples were in hand at about DOMContentLoaded, and a warm page's strips were drawn 10.8 ms sooner
 * back to back and 6.6 ms sooner after a quiet pause (bench/reader_page_ab.py, 150 and 200 pairs). */

function request(url) {
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
  return { url: url, samples: samples };
}

var script = document.querySelector("script[data-waveform-url]");
var url = script && script.dataset.waveformUrl;
export var preloaded = url ? request(url) : null;
