"""The median beat panel on the reader page, in headless Chromium: under the 12 leads in "shown" batches,
with the model's fiducial marks and its measurements table; absent in hidden batches."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch, Suggestion, SuggestionScore
from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MEASURED = {
    "heart_rate_bpm": 72.0,
    "pr_ms": 160.0,
    "qrs_ms": 90.0,
    "qt_ms": 380.0,
    "qtc_bazett_ms": 416.3,
    "qtc_fridericia_ms": 403.5,
    "p_axis_deg": 50.0,
    "qrs_axis_deg": 45.0,
    "t_axis_deg": 40.0,
}


def _suggest(exam, taxonomy) -> None:
    suggestion = Suggestion.objects.create(
        exam=exam, provider="openecg-codec", provider_version="6", measurements=MEASURED
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=taxonomy.classes.get(code="SB"), score=0.2
    )


def _open_shown(live_server, page, ana, bruno, diego, tnmg):
    """ana's first exam of a batch that shows suggestions, with a median beat, drawn."""
    shown = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(shown, ana)[0]
    _suggest(first.exam, tnmg)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    return first


def test_shown_mode_draws_the_median_beats_with_marks_and_the_table_under_the_strips(
    live_server, page, ana, bruno, diego, tnmg
):
    _open_shown(live_server, page, ana, bruno, diego, tnmg)
    panel = page.locator("#median-panel")
    assert panel.is_visible()
    assert page.locator("#median-panel polyline").count() == 12
    assert page.evaluate(
        "Array.from(document.querySelectorAll('#median-panel polyline')).every(p => p.getBBox().width > 40)"
    )
    assert page.locator("#median-panel line[data-mark]").count() == 12 * 4
    text = panel.inner_text()
    for expected in (
        "Median beat · openecg-codec",  # a key the project does not name: shown as it is
        "72 bpm",
        "160 ms",
        "90 ms",
        "380 ms",
        "416 ms",
        "50 / 45 / 40 °",
    ):
        assert expected in text, expected
    assert page.inner_text("#suggestion h3") == "Suggestion: openecg-codec (6)"
    strips, under = page.locator(".ecg-wrap").bounding_box(), panel.bounding_box()
    assert under["y"] >= strips["y"] + strips["height"] - 1  # under the strips, as a cart prints it
    # The strips take the pane's whole width, as without the panel: no horizontal scrolling.
    assert page.evaluate("(w => w.scrollWidth <= w.clientWidth + 1)(document.querySelector('.ecg-wrap'))")
    page.screenshot(path=screenshot_path("reader-median"), full_page=True)
    page.locator("#median-panel").screenshot(path=screenshot_path("reader-median-panel"))

    hidden = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    other = queue(hidden, ana)[0]
    _suggest(other.exam, tnmg)
    page.goto(f"{live_server.url}/read/{ref(other)}/")
    wait_drawn(page, other)
    assert not page.locator("#median-panel").is_visible()
    assert page.locator("#median-panel polyline").count() == 0


def test_the_strips_are_drawn_before_the_median_beats_and_the_panel_leaves_their_width_alone(
    live_server, page, ana, bruno, diego, tnmg
):
    """The reader looks at the strips first: the panel takes its place under them before they are drawn,
    and its twelve beats are drawn after them (once the context has brought them), in the place kept."""
    shown = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(shown, ana)[0]
    _suggest(first.exam, tnmg)
    page.add_init_script(
        "window.__atDraw = null; let P; Object.defineProperty(window, 'Plotly', { configurable: true,"
        " get() { return P; }, set(v) { P = v; const react = v.react; v.react = function (gd) {"
        "   if (gd.id === 'ecg' && !window.__atDraw) { const box = document.getElementById('median-panel');"
        "     window.__atDraw = { beats: box.querySelectorAll('polyline').length,"
        "       width: box.getBoundingClientRect().width, strips: gd.parentElement.clientWidth }; }"
        "   return react.apply(this, arguments); }; } });"
    )
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    at_draw = page.evaluate("window.__atDraw")
    assert at_draw["beats"] == 0  # the strips went first
    assert page.locator("#median-panel polyline").count() == 12  # and the beats are there once it is drawn
    now = page.evaluate(
        "({ width: document.getElementById('median-panel').getBoundingClientRect().width,"
        " strips: document.querySelector('.ecg-wrap').clientWidth })"
    )
    assert now["width"] == pytest.approx(at_draw["width"], abs=0.5)  # the panel's place did not change
    assert now["strips"] == at_draw["strips"]


def test_the_median_beats_take_the_lead_names_the_reader_switches_to(
    live_server, page, ana, bruno, diego, tnmg
):
    _open_shown(live_server, page, ana, bruno, diego, tnmg)
    names = "() => Array.from(document.querySelectorAll('#median-panel text')).map(t => t.textContent)"
    assert {"I", "II", "III"} <= set(page.evaluate(names))
    page.select_option("#lead-names", "DI")
    page.wait_for_function(f"() => ({names})().includes('DII')")
    shown_names = set(page.evaluate(names))
    assert {"DI", "DII", "DIII"} <= shown_names and not {"I", "II", "III"} & shown_names
