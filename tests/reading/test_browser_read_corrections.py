"""In Chromium: a reader amends a submitted read from its read-only view (Amend…, a reason, the new
revision shown); a read a coordinator returned says why on the reader's worklist and page; once
adjudication has started the page offers no Amend and says why."""

from __future__ import annotations

import pytest

from annotations.models import Annotation, AnnotationRevision
from annotations.services.adjudication import adjudication_view_record
from annotations.services.batches.returns import assignment_return
from annotations.services.reading import LabelInput, annotation_submit
from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import chosen, log_in, shared_batch, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _submitted(batch, reader, code="LBBB"):
    first = queue(batch, reader)[0]
    annotation_submit(actor=reader, assignment=first, labels=[LabelInput(code)], revision=0)
    return first


def test_a_reader_amends_a_submitted_read_with_a_reason_and_sees_the_new_revision(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = _submitted(batch, ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert "read-only" in page.inner_text("#read-state")
    page.click("#amend")
    assert page.locator("#amend").is_hidden()
    assert "Amending" in page.inner_text("#read-state")
    # Change the read: LBBB out, RBBB in, by the list as a reader clicks it.
    page.click(".stmt[data-code='LBBB']")
    page.click(".stmt[data-code='RBBB']")
    page.click("#submit")
    page.wait_for_selector("#amend-dialog[open]")
    page.fill("#amend-reason", "pressed Enter too early: it is RBBB")
    with page.expect_response(lambda response: "/amend/" in response.url) as amended:
        page.click("#amend-send")
    assert amended.value.status == 200
    page.wait_for_function("() => document.getElementById('message').textContent.includes('revision')")
    assert "revision 2" in page.inner_text("#message")
    assert chosen(page).startswith("RBBB") or "RBBB" in chosen(page)
    assert "read-only" in page.inner_text("#read-state")  # submitted again, offered again
    assert page.locator("#amend").is_visible()
    page.screenshot(path=str(screenshot_path("reader-amended")))

    read = Annotation.objects.get(assignment=first, is_current=True)
    assert [label.diagnostic_class.code for label in read.labels.all()] == ["RBBB"]
    kinds = list(AnnotationRevision.objects.filter(annotation=read).values_list("kind", "reason"))
    assert kinds == [("submit", ""), ("amend", "pressed Enter too early: it is RBBB")]


def test_a_returned_read_says_why_on_the_worklist_and_the_page(live_server, page, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = _submitted(batch, ana)
    assignment_return(
        actor=diego, batch=batch, reader_id=ana.pk, exam_id=first.exam_id, reason="look at V1 again"
    )
    log_in(page, live_server, "ana")
    assert "returned to you: look at V1 again" in page.inner_text("#worklist")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert "returned this read to you: look at V1 again" in page.inner_text("#read-state")
    assert page.locator("#amend").is_hidden()
    assert page.locator("#submit").is_enabled()
    assert "LBBB" in chosen(page)


def test_under_adjudication_the_page_offers_no_amend_and_says_why(
    live_server, page, ana, bruno, carla, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = _submitted(batch, ana)
    adjudication_view_record(actor=carla, batch=batch, exam_id=first.exam_id)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert page.locator("#amend").is_hidden()
    assert "adjudicator has started" in page.inner_text("#read-state")


def test_a_coordinator_returns_a_read_from_the_dashboard_with_a_reason(
    live_server, page, ana, bruno, carla, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = _submitted(batch, ana)
    exam = f"{first.exam.dataset.name}/{first.exam.external_id}"
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.fill("#return-exam", exam)
    page.select_option("#return-reader", label="ana")
    page.fill("#return-reason", "the QRS is wide: look at V1 again")
    page.click("#return-read button[type=submit]")
    page.wait_for_selector("ul.messages li")
    assert "returned to its reader" in page.inner_text("ul.messages")
    page.screenshot(path=str(screenshot_path("dashboard-return")), full_page=True)
    first.refresh_from_db()
    assert first.status == "in_progress"
    returned = AnnotationRevision.objects.get(annotation__assignment=first, kind="returned")
    assert (returned.reason, returned.recorded_by_id) == ("the QRS is wide: look at V1 again", diego.pk)

    # Returned twice: refused, said on the page, nothing changed.
    page.fill("#return-exam", exam)
    page.select_option("#return-reader", label="ana")
    page.fill("#return-reason", "again")
    page.click("#return-read button[type=submit]")
    page.wait_for_selector("ul.messages li.error")
    assert "only a submitted read" in page.inner_text("ul.messages")
    assert AnnotationRevision.objects.filter(annotation__assignment=first, kind="returned").count() == 1
