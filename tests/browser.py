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


# A JS function of a figure's element: the strips it draws, [{name, x, y}], read from Plotly's own data.
# The sheet is one trace whose strips are separated by a gap (NaN), named in the trace's meta; the function
# throws where the pieces and their gaps do not tile the trace exactly, so that no test reads a strip from
# the wrong samples.
STRIPS_OF = (
    "((gd) => { const t = gd.data[0], cut = Array.prototype.slice; let next = 0;"
    " const out = t.meta.strips.map(s => {"
    "  if (s.start !== next || !Number.isNaN(t.x[s.start + s.n])) throw new Error('strips do not tile');"
    "  next = s.start + s.n + 1;"
    "  const end = s.start + s.n;"
    "  return {name: s.name, x: cut.call(t.x, s.start, end), y: cut.call(t.y, s.start, end)};"
    " });"
    " if (next !== t.x.length || gd.data.length !== 1) throw new Error('strips do not tile');"
    " return out; })"
)


def strips_js(element_id: str) -> str:
    """A JS expression: the strips drawn in the figure of that element id (see STRIPS_OF)."""
    return f"{STRIPS_OF}(document.getElementById({element_id!r}))"
