"""In Chromium, the coordinator's designer: independent reads are on from the start (the box ticked and
explained), the preview says how many exams are kept back from whom and why, and unticking the box
without a reason is refused."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, ReviewBatch
from tests.batches.test_batch_escalation import read
from tests.browser import screenshot_path
from tests.factories import DatasetFactory, ExamFactory, batch_for
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _design(page, live_server, tnmg, readers) -> None:
    page.goto(f"{live_server.url}/batches/new/")
    page.fill("#id_name", "Independent")
    page.select_option("#id_taxonomy", str(tnmg.pk))
    for reader in readers:
        page.check(f"input[name=readers][value='{reader.pk}']")
    page.fill("#id_readers_per_exam", "1")
    page.check("input[name=datasets][value=demo]")


def test_the_designer_keeps_known_exams_back_by_default_and_says_how_many(
    live_server, page, ana, bruno, diego, tnmg
):
    exams = ExamFactory.create_batch(4, dataset=DatasetFactory(name="demo"))
    earlier = batch_for(tnmg, diego, [ana], exams[:3], name="Earlier")
    for slot in Assignment.objects.filter(batch=earlier):
        read(ana, slot, ["SR"])
    log_in(page, live_server, "diego")
    _design(page, live_server, tnmg, [ana, bruno])
    box = page.locator("#id_exclude_seen")
    assert box.is_checked(), "independent reads are not on from the start"
    assert "one independent read per exam" in page.inner_text("#field-exclude_seen")
    page.click("button[name=action][value=preview]")
    page.wait_for_selector("#plan-kept-back", timeout=5000)
    assert "3 chosen exams are kept back" in page.inner_text("#kept-back-total")
    row = page.locator("#plan-kept-back tr[data-reader=ana]")
    assert row.locator(".kept").inner_text() == "3" and row.locator(".read-before").inner_text() == "3"
    page.screenshot(path=screenshot_path("designer-independence-kept-back"), full_page=True)

    page.uncheck("#id_exclude_seen")
    page.click("button[name=action][value=create]")
    page.wait_for_selector("#design-errors, .errorlist, .error", timeout=5000)
    assert "say why" in page.inner_text("body")
    assert not ReviewBatch.objects.filter(name="Independent").exists()

    page.check("#id_exclude_seen")
    page.click("button[name=action][value=preview]")
    page.wait_for_selector("#plan-kept-back", timeout=5000)
    page.click("button[name=action][value=create]")
    page.wait_for_selector("#independence", timeout=5000)
    assert page.locator("#independence-state").get_attribute("data-independent") == "1"
    assert "kept back" in page.inner_text("#independence")
    page.screenshot(path=screenshot_path("batch-independence"), full_page=True)
    batch = ReviewBatch.objects.get(name="Independent")
    assert not Assignment.objects.filter(batch=batch, reader=ana, exam__in=exams[:3]).exists()
