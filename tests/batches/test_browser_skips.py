"""In Chromium: the dashboard lists skips and hands one on, a submitted read reopens read-only as
submitted, and a reader's "My reads" page opens their own reads."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from annotations.models import Assignment
from annotations.services.reading import LabelInput, annotation_submit, assignment_skip
from tests.browser import screenshot_path
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submit(reader, assignment, *codes):
    annotation_submit(actor=reader, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=0)


def test_the_dashboard_lists_skips_with_reasons_and_hands_one_on(
    live_server, page, ana, bruno, diego, tnmg, settings
):
    settings.TIME_ZONE = "America/Sao_Paulo"  # a server zone other than the browser's (UTC here)
    carol = UserFactory(username="carol", roles=["reader"])
    exams = [make_exam(seed=i) for i in range(4)]
    batch = batch_for(tnmg, diego, [ana, bruno, carol], exams, name="Skips", readers_per_exam=2)
    carols = set(Assignment.objects.filter(batch=batch, reader=carol).values_list("exam_id", flat=True))
    anas = queue(batch, ana)
    skipped = next(a for a in anas if a.exam_id not in carols)
    submit(ana, next(a for a in anas if a.pk != skipped.pk), "SB")
    assignment_skip(actor=ana, assignment=skipped, reason="Baseline <wander> too strong")
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.wait_for_selector("#refreshed-at:not(:empty)")  # the JSON refresh has redrawn the figures
    assert "1 of 8 reads done; 1 skipped." in page.inner_text("#coverage")
    row = page.locator(f"#skips tr[data-assignment='{skipped.pk}']")
    assert "Baseline <wander> too strong" in row.inner_text() and "ana" in row.inner_text()
    # No reader is chosen beforehand: one click on "Hand on" must not hand the exam to whoever sorts first.
    assert row.locator("select option").all_inner_texts() == ["Choose a reader", "carol"]
    assert row.locator("select").input_value() == ""
    page.screenshot(path=screenshot_path("dashboard-skips"), full_page=True)
    # Times as every other page writes them (YYYY-MM-DD HH:MM, the server's TIME_ZONE), never the
    # browser's own locale (11/25/2026, 7:10:11 AM in an American Chromium).
    skipped.refresh_from_db()
    written = timezone.localtime(skipped.skipped_at).strftime("%Y-%m-%d %H:%M")
    assert row.locator("td").nth(3).inner_text() == written
    anas_row = page.locator("#reader-progress tbody tr", has_text="ana")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", anas_row.locator("td").last.inner_text())
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", page.inner_text("#refreshed-at"))
    row.locator("button[type=submit]").click()  # nobody chosen: the browser asks, nothing is sent
    assert not Assignment.objects.filter(batch=batch, reader=carol, replaces=skipped).exists()
    row.locator("select").select_option(label="carol")
    row.locator("button[type=submit]").click()
    page.wait_for_selector(".messages, .message, [role=status]", timeout=10000)
    assert "handed to carol" in page.locator(f"#skips tr[data-assignment='{skipped.pk}']").inner_text()
    assert Assignment.objects.filter(batch=batch, reader=carol, replaces=skipped, status="pending").exists()


def test_a_reopened_submitted_read_shows_as_submitted_and_read_only(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first, _ = queue(batch, ana)
    submit(ana, first, "SB")
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_function("() => document.getElementById('save-state').textContent !== ''")
    assert page.inner_text("#save-state") == "Submitted"
    assert "read-only" in page.inner_text("#read-state").lower()
    assert page.is_disabled("#submit") and page.is_disabled("#skip") and page.is_disabled("#comment")
    page.click("#statements .stmt[data-code='AF']")
    page.keyboard.press("s")  # no skip dialog for a submitted read
    assert page.inner_text("#chosen") == "SB"
    assert not page.is_visible("#skip-dialog")
    page.screenshot(path=screenshot_path("reader-submitted-read-only"), full_page=True)


def test_my_reads_lists_the_readers_own_reads_and_opens_them(live_server, page, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    first, second, _ = queue(batch, ana)
    submit(ana, first, "SB")
    assignment_skip(actor=ana, assignment=second, reason="Wrong patient")
    submit(bruno, queue(batch, bruno)[0], "WPW")
    log_in(page, live_server, "ana")
    page.click("#worklist a.my-reads")
    page.wait_for_selector("#my-reads")
    rows = page.locator("#my-reads tbody tr")
    assert rows.count() == 2
    assert "Submitted" in rows.nth(0).inner_text() and "SB" in rows.nth(0).inner_text()
    assert "Skipped" in rows.nth(1).inner_text() and "Wrong patient" in rows.nth(1).inner_text()
    assert "WPW" not in page.inner_text("main")
    page.screenshot(path=screenshot_path("my-reads"), full_page=True)
    rows.nth(0).locator("a.open-read").click()
    wait_drawn(page, first)
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Submitted'")
    assert page.inner_text("#chosen") == "SB"
