"""In Chromium: the batch dashboard's per-exam table filters and pages, the reads-per-day axis reads
whole days (and says "no reads yet" on an empty batch), and "add readers" offers newcomers only."""

from __future__ import annotations

import re

import pytest

from annotations.services.reading import LabelInput, annotation_submit
from tests.browser import screenshot_path
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import queue
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_batch(tnmg, readers, coordinator, exams=3):
    return batch_for(
        tnmg,
        coordinator,
        readers,
        [make_exam(seed=i) for i in range(exams)],
        name="Dashboard",
        readers_per_exam=2,
        seed=2,
    )


def tick_labels(page) -> list[str]:
    return [t for t in page.locator("#reads-per-day .xtick text").all_text_contents() if t.strip()]


def test_the_dashboard_lists_exams_filters_pages_and_charts_whole_days(
    live_server, page, ana, bruno, diego, tnmg
):
    UserFactory(username="carol", roles=["reader"])
    batch = make_batch(tnmg, [ana, bruno], diego, exams=3)
    first = queue(batch, ana)[0]
    annotation_submit(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/?exam_page_size=2")
    page.wait_for_selector("#refreshed-at:not(:empty)")
    page.wait_for_selector("#reads-per-day .xtick text")
    labels = tick_labels(page)
    assert labels and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in labels), labels
    assert page.is_hidden("#no-reads")
    assert page.locator("#exam-status tbody tr").count() == 2
    assert page.locator("select[name=readers] option").all_inner_texts() == ["carol"]
    page.screenshot(path=screenshot_path("dashboard-exam-table"), full_page=True)
    page.click("#exam-next")
    page.wait_for_selector("#exam-first")
    assert page.locator("#exam-status tbody tr").count() == 1
    page.select_option("#exam-status-filter", "reading")
    page.click("#exam-filter button[type=submit]")
    page.wait_for_url(re.compile(r"exam_status=reading"))
    states = page.locator("#exam-status tbody tr").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states and set(states) == {"reading"}


def test_an_empty_batch_says_no_reads_yet_instead_of_a_year_2000_axis(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = make_batch(tnmg, [ana, bruno], diego, exams=2)
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.wait_for_selector("#refreshed-at:not(:empty)")
    assert page.is_visible("#no-reads") and "No reads yet" in page.inner_text("#no-reads")
    assert not any("2000" in t for t in tick_labels(page))
    assert page.is_hidden("#reads-per-day")
    page.screenshot(path=screenshot_path("dashboard-empty-chart"), full_page=True)


def test_the_dashboard_draws_its_figures_from_the_page_without_asking_for_them_again(
    live_server, page, ana, bruno, diego, tnmg
):
    """The page carries the progress it rendered: the chart and reader table are drawn from it, and
    progress.json (the same figures, computed again: ~1 s at 100k exams) is asked for a minute later."""
    batch = make_batch(tnmg, [ana, bruno], diego, exams=3)
    annotation_submit(actor=ana, assignment=queue(batch, ana)[0], labels=[LabelInput("SB")], revision=0)
    log_in(page, live_server, "diego")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "progress.json" in request.url else None)
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.wait_for_selector("#refreshed-at:not(:empty)")
    page.wait_for_selector("#reads-per-day .xtick text")
    assert page.locator("#reader-progress tbody tr").count() == 2
    page.wait_for_timeout(500)
    assert asked == []


def test_the_dashboard_fills_in_the_suggestions_count_by_itself_and_follows_it(
    live_server, page, ana, bruno, diego, tnmg
):
    """The suggestions are counted in a request of their own (a third of the dashboard's time at 100 k
    exams), fetched once the page is up and again while some are waiting."""
    from annotations.lib.providers.measurements.provider import MeasurementProvider
    from annotations.models import BatchExam
    from annotations.services.suggestions import suggestion_compute

    batch = make_batch(tnmg, [ana, bruno], diego, exams=2)
    first, second = (
        BatchExam.objects.filter(batch=batch).order_by("exam_id").values_list("exam_id", flat=True)
    )
    suggestion_compute(first, MeasurementProvider())
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.wait_for_selector("#suggestions .suggestion-progress")
    assert "1 of 2 exams computed, 0 failed, 1 waiting." in page.inner_text("#suggestions")
    assert page.get_attribute("#suggestions progress.suggestion-bar", "value") == "1"
    page.screenshot(path=screenshot_path("dashboard-suggestions"), full_page=True)
    suggestion_compute(second, MeasurementProvider())
    page.evaluate("() => import('/static/js/pages/batches.js').then(m => m.refreshSuggestions())")
    page.wait_for_function(
        "() => document.querySelector('#suggestions').innerText.includes('2 of 2 exams computed')"
    )


def test_closing_a_batch_asks_first_and_a_refusal_keeps_it_running(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = make_batch(tnmg, [ana, bruno], diego)
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click("#close-batch")
    page.wait_for_timeout(300)
    batch.refresh_from_db()
    assert batch.status == "active"
    assert "0 of 6 reads are done" in asked[0] and "cannot be reopened" in asked[0]
    page.once("dialog", lambda dialog: answer(dialog, True))
    with page.expect_navigation():
        page.click("#close-batch")
    batch.refresh_from_db()
    assert batch.status == "closed" and "Batch closed." in page.inner_text("main")
