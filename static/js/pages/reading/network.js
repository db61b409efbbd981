/* The reader page's requests: the reading API of the page's own assignments, and their waveforms. */

/* page: {API (the reading API's base), CSRF, t}. */
export function createNetwork(page) {
  var API = page.API, CSRF = page.CSRF, t = page.t;

  function api(path, method, body, keepalive) {
    return fetch(API + path, {
      method: method || "GET",
      credentials: "include", // same origin only; "include" matches the page's preload hints
      keepalive: !!keepalive,
      headers: Object.assign({ Accept: "application/json" }, body ? { "Content-Type": "application/json", "X-CSRFToken": CSRF } : {}),
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }
  /* What the server said was wrong: its detail, or the first message it gave for a field (a comment
   * over the length it keeps, say), so the reader learns why instead of waiting for a retry. */
  function problem(data) {
    if (data && data.detail) return data.detail;
    for (var key in data || {}) {
      var said = data[key];
      if (Array.isArray(said) && typeof said[0] === "string") return said[0];
    }
    return t("save_failed");
  }
  function fetchWaveform(url) {
    return fetch(url, { credentials: "include" }).then(function (r) {
      if (!r.ok) throw new Error("waveform " + r.status);
      return r.arrayBuffer();
    });
  }
  /* A write answered 409 because the exam's batch was closed (its words say when, and what was kept). */
  function closed(r) { return r.status === 409 && !!r.data.batch_closed; }
  function waveformUrl(id) { return API + id + "/waveform/"; }

  return { api: api, problem: problem, fetchWaveform: fetchWaveform, closed: closed, waveformUrl: waveformUrl };
}
