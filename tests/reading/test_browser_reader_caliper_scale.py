"""Calipers placed on a beat stay on it when the reader changes the paper speed or gain, as they would on
a cart: the points are samples of a lead, whatever the scale they are drawn at. A new layout or rhythm lead
moves the strips, and the points go."""

from __future__ import annotations

import pytest

from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import click_rhythm_strip, figure, log_in, shared_batch, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _interval(page) -> str | None:
    return page.locator("#caliper-readout").get_attribute("data-interval-ms")


def test_calipers_keep_their_beat_through_a_speed_and_a_gain_change(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(
        shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, heart_rate=75), ana
    )[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("c")
    click_rhythm_strip(page, 0.2)
    click_rhythm_strip(page, 0.3)
    measured = _interval(page)
    assert measured
    for control, value in (("#speed", "50"), ("#gain", "20")):
        page.select_option(control, value)
        page.wait_for_function(f"() => document.querySelector('{control}').value === '{value}'")
        page.wait_for_timeout(300)
        assert _interval(page) == measured, control
        assert figure(page, "return gd.layout.shapes.filter(s => s.name === 'caliper').length;") >= 2
    page.screenshot(path=screenshot_path("reader-calipers-kept-50mm-20mm"))
    page.select_option("#layout", "6x2")
    page.wait_for_timeout(300)
    assert not _interval(page)


def test_turning_the_calipers_on_does_not_move_the_tracing(live_server, page, ana, bruno, diego, tnmg):
    """The readout line above the tracing appeared with the calipers and pushed the paper down 20 px
    under the reader's pointer; its room is kept whether it shows or not."""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    before = page.locator("#ecg").bounding_box()["y"]
    page.keyboard.press("c")
    page.wait_for_function(
        "() => document.getElementById('caliper-toggle').getAttribute('aria-pressed') === 'true'"
    )
    assert page.locator("#ecg").bounding_box()["y"] == before
