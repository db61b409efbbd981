"""An Enter pressed twice submits one exam, never also the next one.

Submitting opens the next exam in place; a reader's habitual second Enter (or a key bounce) then landed on
an exam they had not looked at, and submitted its saved draft unseen. A submit by keyboard is not taken in
the first second of an exam on screen; the page says so, and a later Enter submits as always.
"""

from __future__ import annotations

import pytest

from annotations.models import Annotation, Assignment
from annotations.services.reading import LabelInput, annotation_save_draft
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import choose, chosen, log_in, shared_batch, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_second_enter_does_not_submit_the_next_exams_draft_unseen(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first, second = queue(batch, ana)
    annotation_save_draft(actor=ana, assignment=second, labels=[LabelInput("LAFB")], revision=0)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    choose(page, "bradicardia")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    wait_drawn(page, second)
    page.keyboard.press("Enter")  # the reflex second press, as the next exam appears
    page.wait_for_function("() => document.getElementById('message').textContent.length > 0")
    assert "just opened" in page.locator("#message").inner_text().lower()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Assignment.Status.SUBMITTED, Assignment.Status.IN_PROGRESS)
    assert chosen(page) == "LAFB"
    page.wait_for_timeout(1500)
    page.keyboard.press("Enter")  # looked at: now it goes, and the queue is done
    page.wait_for_url(lambda url: "/read/" not in url)
    second.refresh_from_db()
    assert second.status == Assignment.Status.SUBMITTED
    (label,) = second.annotations.get(status=Annotation.Status.SUBMITTED).labels.all()
    assert label.diagnostic_class.code == "LAFB"
