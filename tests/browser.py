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


def screenshot_path(name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return OUTPUT / f"{name}-{worker}.png"


# A JS function of a figure's element: the strips it draws, [{name, x, y}], every sample of each, as
# EcgPlot.strips gives them. The sheet is one trace whose strips are separated by a gap (NaN), named in the
# trace's meta; the trace holds only the vertices of each strip's line in view. The function throws where
# the pieces and their gaps do not tile the trace exactly, or where a vertex is not one of its strip's
# samples (in order), so that no test reads a strip from samples other than those drawn.
STRIPS_OF = (
    "((gd) => { const t = gd.data[0], all = window.EcgPlot.strips(gd); let next = 0;"
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
