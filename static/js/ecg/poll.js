/* Polling a JSON progress endpoint, shared by the pages that follow a job (imports, releases) or refresh
 * a dashboard (batches). The module exports poll(). The URL always comes from a data- attribute: no inline
 * script anywhere, the CSP forbids it.
 *
 * poll(url, {onData, everyMs, retryMs, delayMs}) fetches url (after delayMs, when given), hands the JSON to
 * onData and asks again everyMs later, until onData returns true. A failed request (network error, an
 * answer that is not 2xx or not JSON) or an onData that throws is tried again retryMs later: the page
 * keeps what it last showed meanwhile. */
function poll(url, options) {
  var retryMs = options.retryMs || options.everyMs;
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) { return options.onData(data); })
      .then(function (finished) { if (!finished) setTimeout(tick, options.everyMs); },
        function () { setTimeout(tick, retryMs); });
  }
  if (options.delayMs) setTimeout(tick, options.delayMs);
  else tick();
}

export { poll };
