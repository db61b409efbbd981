"""Coordinator pages on a phone (390 px wide): the page itself never scrolls sideways; a table wider than
the screen scrolls inside its card, so the header, the buttons and the text around it stay in view."""

from __future__ import annotations

import pytest

from annotations.models import Release
from tests.browser import screenshot_path
from tests.reading.helpers import shared_batch
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def test_coordinator_pages_fit_a_phone_and_their_tables_scroll_inside_their_cards(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    release = Release.objects.create(
        name="first", coordinator=diego, taxonomy=tnmg, software_version="t", status="done"
    )
    release.batches.add(batch)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "diego")
    for url in (
        f"/batches/{batch.pk}/",
        f"/releases/{release.pk}/",
        "/exams/",
        "/",
        "/batches/",
        "/imports/",
    ):
        page.goto(f"{live_server.url}{url}")
        assert page.evaluate(PAGE_WIDTH) <= 390, (url, page.evaluate(PAGE_WIDTH))
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    # The readers' table is wider than the phone: it scrolls within its card.
    table = page.locator("table").first
    assert page.evaluate(
        "t => t.closest('.card').scrollWidth > t.closest('.card').clientWidth", table.element_handle()
    )
    page.screenshot(path=screenshot_path("phone-batch-dashboard"))
