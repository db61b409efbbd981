/* Numbers and times that a page's script writes, in the page's language, as the server's templates write
 * them (Django's formats: ecgreview/formats/en for English, Django's pt_BR for Portuguese): 0.75 and
 * 2026-11-27 22:58 in English, 0,75 and 27/11/2026 22:58 in Portuguese. The shared translator
 * and formats of every page module. */
var portuguese = (document.documentElement.lang || "").toLowerCase().indexOf("pt") === 0;
/* A number already written with a point ("0.75", "3.4", "1.2–4.7"), with the page's decimal mark. */
function decimal(text) {
  return portuguese ? String(text).replace(/(\d)\.(\d)/g, "$1,$2") : String(text);
}
/* A moment (ISO text) as the pages' short date and time, in the time zone given (the server's). */
function stamp(iso, zone) {
  if (!iso) return null;
  var parts = {};
  new Intl.DateTimeFormat("en-GB", { timeZone: zone || "UTC", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
  var day = portuguese ? [parts.day, parts.month, parts.year].join("/") : [parts.year, parts.month, parts.day].join("-");
  return day + " " + parts.hour + ":" + parts.minute;
}
/* A day (ISO text, YYYY-MM-DD) as the pages' short date: 2026-11-27, or 27/11/2026 in Portuguese. */
function day(iso) {
  return !iso ? null : portuguese ? String(iso).split("-").reverse().join("/") : String(iso);
}
/* The time of day of a moment (a Date) as HH:MM:SS, in the time zone given (the server's). */
function clock(moment, zone) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: zone || "UTC", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" }).format(moment);
}
/* The page's words for its script: a <template> (id "strings" by default) whose [data-key] elements the
 * server wrote in the user's language; t("key", {n: 3}) fills {n}. A key the page lacks reads as itself. */
function translator(templateId) {
  var strings = {}, holder = document.getElementById(templateId || "strings");
  if (holder) holder.content.querySelectorAll("[data-key]").forEach(function (el) { strings[el.dataset.key] = el.textContent; });
  return function t(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  };
}
// Every date and time a page's script writes goes through these (tests/cross/test_date_formats.py).
// Plotly's decimal mark and thousands separator (its layout.separators).
const separators = portuguese ? ",." : ".,";
export { portuguese, decimal, stamp, day, clock, translator, separators };
