/* The vendored Plotly (static/vendor/plotly/plotly-basic.min.js), for the modules. It is a classic script,
 * loaded by the page before its modules run (module scripts are deferred), and it defines one global,
 * Plotly. The modules reach it here only, through the four functions of its public API they draw with, so
 * that no module reads a global of its own or Plotly's internals (gd._fullLayout and the like), and an
 * upgrade of Plotly has one place to look at. A figure's own public state (gd.data, gd.layout, gd.on) is
 * read where it is drawn. */

function plotly() {
  const found = globalThis.Plotly;
  if (!found) throw new Error("Plotly is not loaded: the page must load static/vendor/plotly before its modules");
  return found;
}

/* Whether the page loaded Plotly (a page without a figure does not). */
export function available() {
  return !!globalThis.Plotly;
}
export function react(gd, data, layout, config) {
  return plotly().react(gd, data, layout, config);
}
export function relayout(gd, update) {
  return plotly().relayout(gd, update);
}
export function restyle(gd, update, traces) {
  return plotly().restyle(gd, update, traces);
}
export function purge(gd) {
  return plotly().purge(gd);
}
