"""Relevance bands on the reader page, in headless Chromium: in a two-stage batch nothing of the model is
on screen during the blind read; once it is submitted, the suggested class's band is drawn as a colour
strip under each lead, with a legend and a class selector, and the scalar outputs are listed."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch
from tests.browser import screenshot_path, strips_js
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn
from tests.reading.test_reading_explanations import _models

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAND_SHAPES = "(document.getElementById('ecg').layout.shapes || []).filter(s => s.name === 'relevance')"


def test_two_stage_draws_the_band_under_the_leads_only_after_the_blind_read(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    first = queue(batch, ana)[0]
    # AF suggested (0.9) with its band over 0-1 s; SB, RBBB, 1dAVb below threshold, bands elsewhere.
    _models(first.exam, tnmg, {"AF": 0.9, "SB": 0.4, "RBBB": 0.3, "1dAVb": 0.2})
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_load_state("networkidle")
    assert not page.locator("#relevance").is_visible()
    assert not page.locator("#model-scalars").is_visible()
    assert page.evaluate(BAND_SHAPES + ".length") == 0
    page.screenshot(path=screenshot_path("reader-relevance-before"))

    page.keyboard.press("/")
    page.keyboard.type("sinus brady")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")  # the blind read is submitted; the revision opens with the suggestion
    page.wait_for_selector("#relevance:not([hidden])")
    page.wait_for_function(BAND_SHAPES + ".length > 0")
    assert page.locator("#relevance-class option").all_inner_texts() == [
        "AF · Atrial fibrillation (the model's own map)"
    ]
    assert "potassium: 4.4 ± 0.3 mmol/L (potassium)" in page.inner_text("#model-scalars")
    shapes = page.evaluate(BAND_SHAPES)
    paths = " ".join(s["path"] for s in shapes)
    # The band is the first second: at 25 mm/s, 25 mm from a strip's start. In the 3x4 layout only the
    # first column's strips (I, II, III) and the rhythm strip show that second; the other columns start
    # at 2.5, 5 and 7.5 s and get nothing.
    rectangles = paths.split("M")[1:]
    assert len(rectangles) == 4
    sheet_x0 = page.evaluate(f"Math.min(...{strips_js('ecg')}.map(s => s.x[0]))")
    for rectangle in rectangles:
        x0, _, rest = rectangle.partition(",")
        x1 = rest.split("H")[1].split("V")[0]
        assert (float(x0), float(x1)) == (pytest.approx(sheet_x0), pytest.approx(sheet_x0 + 25.0))
    page.screenshot(path=screenshot_path("reader-relevance-after"))
    page.locator(".ecg-wrap").screenshot(path=screenshot_path("reader-relevance-strips"))
