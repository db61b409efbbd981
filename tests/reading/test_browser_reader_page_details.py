"""What a reader is told on the reader page, in Chromium: the exam's acquisition date and time, the patient's
age and sex ("not recorded" where the exam has none), so that the interval to an earlier ECG can be judged;
a read-only exam offers Next; the end of the queue says the batch is finished."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.browser import screenshot_path
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import choose, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DATED = "Acquired 2021-05-06 14:30 · Age 58 · female · 10.0 s at 500 Hz"
UNDATED = "Acquisition date not recorded · Age not recorded · sex not recorded · 10.0 s at 500 Hz"


def _dated_and_undated(ana, diego, tnmg):
    dataset = DatasetFactory(name="details")
    dated = make_exam(dataset, age=58, sex="F", acquired_at=datetime(2021, 5, 6, 14, 30, tzinfo=UTC))
    undated = make_exam(dataset, seed=1, age=None, sex="U", acquired_at=None)
    batch = batch_for(tnmg, diego, [ana], [dated, undated], name="Details")
    expected = {dated.pk: DATED, undated.pk: UNDATED}
    return batch, [(a, expected[a.exam_id]) for a in queue(batch, ana)]


def _submit(page) -> None:
    choose(page, "sinus brady")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.click("#submit")
    assert submitted.value.status == 200, submitted.value.text()


def test_the_header_says_when_the_exam_was_acquired_and_the_patients_age_and_sex(
    live_server, page, ana, diego, tnmg
):
    _, reads = _dated_and_undated(ana, diego, tnmg)
    log_in(page, live_server, "ana")
    for assignment, header in reads:
        page.goto(f"{live_server.url}/read/{ref(assignment)}/")
        wait_drawn(page, assignment)
        page.wait_for_function("() => document.getElementById('exam-context').textContent !== ''")
        assert page.inner_text("#exam-context") == header
    page.screenshot(path=screenshot_path("reader-header-not-recorded"), full_page=False)
    # The printout says the same as the screen.
    page.goto(f"{live_server.url}/read/{ref(reads[0][0])}/print/")
    assert page.inner_text("#print-exam") == reads[0][1]
    # In Portuguese, the script writes the date as the Portuguese pages do.
    page.goto(f"{live_server.url}/")
    page.select_option("select[name=language]", "pt-br")
    page.click("form.language button[type=submit]")
    page.wait_for_selector("html[lang=pt-br]")
    dated = next(assignment for assignment, header in reads if header == DATED)
    page.goto(f"{live_server.url}/read/{ref(dated)}/")
    wait_drawn(page, dated)
    page.wait_for_function("() => document.getElementById('exam-context').textContent !== ''")
    assert (
        page.inner_text("#exam-context")
        == "Adquirido em 06/05/2021 14:30 · Idade 58 · feminino · 10,0 s a 500 Hz"
    )


def test_a_read_only_exam_offers_next_and_the_last_exam_says_the_batch_is_finished(
    live_server, page, ana, diego, tnmg
):
    _, reads = _dated_and_undated(ana, diego, tnmg)
    (first, _), (second, second_header) = reads
    log_in(page, live_server, "ana")
    page.click("#worklist a.continue")
    wait_drawn(page, first)
    assert not page.locator("#read-only-next").is_visible()
    _submit(page)
    wait_drawn(page, second)
    # Back to the submitted exam: read-only, with a way on to the exam still to read.
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_selector("#read-state:not([hidden])")
    assert page.locator("#read-only-next").is_visible()
    page.screenshot(path=screenshot_path("reader-read-only-next"), full_page=False)
    page.click("#read-only-next")
    wait_drawn(page, second)
    page.wait_for_function("() => document.getElementById('exam-context').textContent !== ''")
    assert page.inner_text("#exam-context") == second_header
    _submit(page)
    page.wait_for_url(f"{live_server.url}/")
    assert page.inner_text("ul.messages") == (
        "Batch “Details” finished: nothing left to read in your queue. Thank you!"
    )
    page.screenshot(path=screenshot_path("reader-batch-finished"), full_page=False)
    # Next on a read-only exam of a finished batch says the same.
    page.goto(f"{live_server.url}/read/{ref(second)}/")
    wait_drawn(page, second)
    page.click("#read-only-next")
    page.wait_for_url(f"{live_server.url}/")
    assert "Batch “Details” finished" in page.inner_text("ul.messages")
