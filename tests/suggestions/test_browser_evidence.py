"""In Chromium: a coordinator who opens the suggestion evidence before the worker has computed it sees
that it is being computed, and the page shows the figures by itself once the worker has them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.tasks.agreement import evidence_warm
from tests.browser import screenshot_path
from tests.reading.test_browser_reader import log_in
from tests.suggestions import test_evidence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
scored_batch = test_evidence.scored_batch  # the fixture: four exams with hand-computed figures


def test_the_evidence_page_shows_the_figures_once_the_worker_has_computed_them(
    live_server, page, diego, scored_batch
):
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{scored_batch.pk}/evidence/")
    notice = page.locator("#evidence-computing")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("The worker is computing these figures")
    assert page.locator("table.evidence").count() == 0
    page.screenshot(path=screenshot_path("evidence-computing"), full_page=True)
    evidence_warm(scored_batch.pk)  # the worker's task: the page's poll finds the figures and shows them
    expect(page.locator("table.evidence")).to_be_visible(timeout=15_000)
    expect(notice).to_have_count(0)
    sb = page.locator("table.evidence tr", has=page.locator("td[title]", has_text="SB"))
    expect(sb.locator("td").last).to_have_text("0.75")  # the hand-computed AUC (test_evidence.py)
    page.screenshot(path=screenshot_path("evidence-ready"), full_page=True)
