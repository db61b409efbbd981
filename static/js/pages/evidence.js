// Suggestion evidence: while the worker computes the figures of the batch's current state, follow the
// evidence API (static/js/ecg/poll.js) and reload once they are in. No inline script (CSP): the URL
// comes from a data- attribute.
import { poll } from "../ecg/poll.js";

function follow(data) {
  if (data.state === "ready") { window.location.reload(); }
  return data.state === "ready";
}

const notice = document.getElementById("evidence-computing");
// Every two seconds; after a failed request, five.
if (notice) poll(notice.dataset.evidenceUrl, { delayMs: 1000, everyMs: 2000, retryMs: 5000, onData: follow });
