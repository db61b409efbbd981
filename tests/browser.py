"""Playwright driving Debian's Chromium, headless; screenshots land in var/test-output/."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parent.parent / "var" / "test-output"

# The page scripts are ES modules and set no window global: a test that reads what static/js/ecg/plot.js
# drew (STRIPS_OF) reaches the page's own instance of that module by importing its URL, which the browser
# answers with the one module the page's own imports get too. Run before every page of the suite's browser
# contexts (SuiteBrowser): only on a page that loads Plotly, so that no other page fetches anything more,
# and as soon as the parser meets Plotly's script tag (before the page's modules, which run once the page
# is parsed), so that the module is in hand before any figure is drawn.
PLOT_FOR_TESTS = """
if (location.protocol.startsWith("http")) {
  const watch = new MutationObserver(() => {
    if (!document.querySelector('script[src*="/vendor/plotly/"]')) return;
    watch.disconnect();
    import("/static/js/ecg/plot.js").then(m => { window.ecgPlotForTests = m; }, () => {});
  });
  watch.observe(document, { childList: true, subtree: true });
  // Parsed without Plotly's tag: nothing to wait for, and the page's own DOM work is not watched.
  document.addEventListener("DOMContentLoaded", () => watch.disconnect(), { once: true });
}
"""


class SuiteBrowser:
    """The suite's Chromium: every context it opens runs PLOT_FOR_TESTS on its pages."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def __getattr__(self, name: str):
        return getattr(self._browser, name)

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.add_init_script(script=PLOT_FOR_TESTS)
        return context


def screenshot_path(name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return OUTPUT / f"{name}-{worker}.png"


# A JS function of a figure's element: the strips it draws, [{name, x, y}], every sample of each, as
# strips() of static/js/ecg/plot.js gives them (PLOT_FOR_TESTS). The sheet is one trace whose strips are
# separated by a gap (NaN), named in the trace's meta; the trace holds only the vertices of each strip's
# line in view. The function throws where the pieces and their gaps do not tile the trace exactly, or
# where a vertex is not one of its strip's samples (in order), so that no test reads a strip from samples
# other than those drawn.
STRIPS_OF = (
    "((gd) => { const plot = window.ecgPlotForTests;"
    " if (!plot) throw new Error('ecg/plot.js not in hand: a page of SuiteBrowser, with Plotly?');"
    " const t = gd.data[0], all = plot.strips(gd); let next = 0;"
    " if (gd.data.length !== 1 || t.meta.strips.length !== all.length) throw new Error('strips do not tile');"
    " t.meta.strips.forEach((s, k) => {"
    "  const full = all[k], last = full.x.length - 1; let j = 0;"
    "  if (s.start !== next || !Number.isNaN(t.x[s.start + s.n]) || s.name !== full.name)"
    "   throw new Error('strips do not tile');"
    "  next = s.start + s.n + 1;"
    "  for (let i = s.start; i < s.start + s.n; i++) {"
    "   while (j <= last && full.x[j] !== t.x[i]) j++;"
    "   if (j > last || full.y[j] !== t.y[i]) throw new Error(s.name + ': a vertex is no sample');"
    "  }"
    " });"
    " if (next !== t.x.length) throw new Error('strips do not tile');"
    " return all; })"
)


def strips_js(element_id: str) -> str:
    """A JS expression: the strips drawn in the figure of that element id (see STRIPS_OF)."""
    return f"{STRIPS_OF}(document.getElementById({element_id!r}))"
