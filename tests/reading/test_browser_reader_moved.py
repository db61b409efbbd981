"""In Chromium: the exam a reader has open leaves their queue (a coordinator moves their unread exams to
another reader) before they submit. The page says so in words, saves nothing more, and offers to go on
with what is left of their queue; it said "no such assignment" and kept autosaving into the void."""

from __future__ import annotations

import pytest

from annotations.models import Annotation
from annotations.services.batches.queues import batch_reassign
from tests.browser import screenshot_path
from tests.factories import UserFactory
from tests.reading.helpers import queue, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_whose_open_exam_was_moved_is_told_and_goes_on(live_server, page, ana, bruno, diego, tnmg):
    carol = UserFactory(username="carol", roles=["reader"])
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{first.pk}/")
    wait_drawn(page, first)
    page.wait_for_load_state("networkidle")  # the next exam is prefetched: the submit will draw it at once
    batch_reassign(batch=batch, from_reader=ana, to_reader=carol, actor=diego)
    page.click("#stmt-SR")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gone:not([hidden])")
    assert "no longer in your queue" in page.inner_text("#gone")
    assert page.locator("#submit").is_disabled()
    page.screenshot(path=screenshot_path("reader-exam-moved"))
    page.wait_for_timeout(1500)  # an autosave would have left by now
    assert not Annotation.objects.filter(assignment__reader=ana).exists()
    page.click("#gone-next")
    page.wait_for_url(f"{live_server.url}/")  # nothing left to read: the reader's home
    assert "No exams are assigned to you" in page.inner_text("#worklist")
