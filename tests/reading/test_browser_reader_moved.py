"""In Chromium: the exam a reader has open leaves their queue (a coordinator moves their unread exams to
another reader) before they submit. The page says so in words, saves nothing more, and offers to go on
with what is left of their queue; it said "no such assignment" and kept autosaving into the void."""

from __future__ import annotations

import pytest

from annotations.models import Annotation
from annotations.services.batches.queues import batch_reassign
from tests.browser import screenshot_path
from tests.factories import UserFactory
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _ana_reading_her_first_exam(live_server, page, ana, bruno, diego, tnmg):
    """ana with her first exam drawn, and a coordinator about to move her unread exams to carol."""
    carol = UserFactory(username="carol", roles=["reader"])
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    return first, lambda: batch_reassign(batch=batch, from_reader=ana, to_reader=carol, actor=diego)


def test_a_reader_whose_open_exam_was_moved_is_told_and_goes_on(live_server, page, ana, bruno, diego, tnmg):
    first, move = _ana_reading_her_first_exam(live_server, page, ana, bruno, diego, tnmg)
    page.wait_for_load_state("networkidle")  # the next exam is prefetched: the submit will draw it at once
    move()
    page.click("#stmt-SR")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gone:not([hidden])")
    assert "no longer in your queue" in page.inner_text("#gone")
    # Told on the exam the words are about, with the reader's choice on it: not on the next one, which
    # the page had drawn at once while the submit travelled.
    assert page.url.endswith(f"/read/{ref(first)}/")
    assert page.get_attribute("#stmt-SR", "aria-selected") == "true"
    assert page.locator("#submit").is_disabled()
    page.screenshot(path=screenshot_path("reader-exam-moved"))
    page.wait_for_timeout(1500)  # an autosave would have left by now
    assert not Annotation.objects.filter(assignment__reader=ana).exists()
    page.click("#gone-next")
    page.wait_for_url(f"{live_server.url}/")  # nothing left to read: the reader's home
    assert "No exams are assigned to you" in page.inner_text("#worklist")


def test_a_kept_page_of_an_exam_moved_to_another_reader_shows_no_tracing_and_says_so(
    live_server, page, ana, bruno, diego, tnmg
):
    """A page the browser kept draws its strips before its context comes; when the context then says the
    exam is no longer the reader's, the strips go and the reader is told, as when it leaves while open."""
    first, move = _ana_reading_her_first_exam(live_server, page, ana, bruno, diego, tnmg)
    move()
    page.goto(f"{live_server.url}/")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    page.wait_for_selector("#gone:not([hidden])")
    transfer = page.evaluate("performance.getEntriesByType('navigation')[0].transferSize")
    assert transfer == 0  # the kept page: the server was not asked for it
    assert "no longer in your queue" in page.inner_text("#gone")
    assert not page.is_visible("#ecg") and page.locator("#ecg .main-svg").count() == 0
    assert page.locator("#statements .stmt").count() == 0 and page.locator("#submit").is_disabled()
    page.screenshot(path=screenshot_path("reader-kept-page-moved"))
    page.click("#gone-next")
    page.wait_for_url(f"{live_server.url}/")  # nothing left to read: the reader's home


def test_a_reader_who_submits_into_a_batch_closed_meanwhile_is_told_so_on_that_exam(
    live_server, page, ana, bruno, diego, tnmg
):
    """The batch closes between the reader's last autosave and their submit: the page had drawn the next
    exam at once; the refusal brings the reader back to the exam they submitted, told why there."""
    from annotations.services.batches.lifecycle import batch_close

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_load_state("networkidle")  # the next exam is prefetched
    batch_close(batch=batch, actor=diego)
    page.click("#stmt-SR")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gone:not([hidden])")
    assert "was closed by its coordinator" in page.inner_text("#gone")
    assert page.url.endswith(f"/read/{ref(first)}/")
    assert page.get_attribute("#stmt-SR", "aria-selected") == "true" and page.locator("#submit").is_disabled()
    page.screenshot(path=screenshot_path("reader-submit-into-closed-batch"))


def test_a_reader_whose_batch_was_closed_while_reading_is_told_so_and_keeps_the_saved_draft(
    live_server, page, ana, bruno, diego, tnmg
):
    """The coordinator closes the batch while the reader has a saved draft open. The submit is refused,
    and the page says the batch was closed, by name, and that the saved draft is kept; not that the exam
    was perhaps moved to another reader."""
    from annotations.models import Annotation
    from annotations.services.batches.lifecycle import batch_close

    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.click("#stmt-SB")
    page.wait_for_function("document.getElementById('save-state').textContent.length > 0")
    page.wait_for_function("() => !/unsaved/i.test(document.getElementById('save-state').textContent)")
    page.wait_for_load_state("networkidle")
    batch_close(batch=batch, actor=diego)
    page.click("#stmt-AF")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gone:not([hidden])")
    told = page.inner_text("#gone")
    assert "was closed by its coordinator" in told and batch.name in told, told
    assert "moved it to another reader" not in told
    assert page.locator("#submit").is_disabled()
    page.screenshot(path=screenshot_path("reader-batch-closed"))
    page.wait_for_timeout(1500)  # an autosave would have left by now
    read = Annotation.objects.get(assignment=first)
    assert read.status == Annotation.Status.DRAFT
    assert [label.diagnostic_class.code for label in read.labels.all()] == ["SB"]
