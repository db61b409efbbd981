"""The recording cart's measurements on the reader page, in headless Chromium: one line under the
toolbar in a batch designed to show them (as a cart's printout header), in the reader's language; a
line saying the file gave none where it gave none; nothing at all in a batch that does not show them."""

from __future__ import annotations

import shutil

import pytest

from annotations.models import Exam
from tests.browser import screenshot_path
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CART = {
    "heart_rate_bpm": 61,
    "rr_ms": 982,
    "pr_ms": 161,
    "qrs_ms": 117,
    "qt_ms": 368,
    "qtc_ms": 370.5,
    "qrs_axis_deg": -52,
    "t_axis_deg": 57,
}


def _read(exam, ana, diego, tnmg, *, shown: bool, name: str):
    batch = batch_for(tnmg, diego, [ana], [exam], name=name, device_measurements_shown=shown)
    return queue(batch, ana)[0]


def _carted():
    exam = make_exam(DatasetFactory(name="carts"), "cart-1", heart_rate=61)
    Exam.objects.filter(pk=exam.pk).update(device_measurements=CART)
    return exam


def test_the_reader_sees_the_cart_s_measurements_under_the_toolbar(
    live_server, page, ana, diego, tnmg, tmp_path
):
    anas = _read(_carted(), ana, diego, tnmg, shown=True, name="Shown")
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    line = page.locator("#device-measurements")
    assert line.is_visible()
    text = line.inner_text()
    assert text.startswith("Recording cart:")
    for part in (
        "Heart rate 61 bpm",
        "RR 982 ms",
        "PR 161 ms",
        "QRS 117 ms",
        "QT 368 ms",
        "QTc (the device's formula) 370.5 ms",
        "QRS axis -52°",
        "T axis 57°",
    ):
        assert part in text
    assert "P axis" not in text  # what the file did not give is left out, not shown as a dash
    # Above the paper, never over it.
    assert (
        line.bounding_box()["y"] + line.bounding_box()["height"] <= page.locator("#ecg").bounding_box()["y"]
    )
    path = tmp_path / "reader-device-measurements.png"
    page.screenshot(path=path)
    shutil.copy(path, screenshot_path("reader-device-measurements"))


def test_an_exam_without_them_says_so_and_a_batch_that_does_not_show_them_shows_nothing(
    live_server, page, ana, diego, tnmg
):
    none_given = _read(make_exam(seed=3), ana, diego, tnmg, shown=True, name="Shown, none given")
    hidden = _read(_carted(), ana, diego, tnmg, shown=False, name="Hidden")
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(none_given)}/")
    wait_drawn(page, none_given)
    assert page.locator("#device-measurements").inner_text() == "Recording cart: the exam's file gave none."
    page.goto(f"{live_server.url}/read/{ref(hidden)}/")
    wait_drawn(page, hidden)
    assert not page.locator("#device-measurements").is_visible()
    assert "RR 982" not in page.content() and "Recording cart" not in page.inner_text("main")


def test_in_portuguese_the_line_uses_a_decimal_comma(live_server, browser, ana, diego, tnmg):
    anas = _read(_carted(), ana, diego, tnmg, shown=True, name="Mostrado")
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="pt-BR")
    page = context.new_page()
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    text = page.locator("#device-measurements").inner_text()
    assert "370,5 ms" in text and "Eletrocardiógrafo" in text
    page.wait_for_load_state("networkidle")
    context.close()
