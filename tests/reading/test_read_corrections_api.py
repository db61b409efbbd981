"""Corrections that keep the record, over the API: a reader amends their own submitted read, a coordinator
returns one to its reader; every earlier revision stays, and agreement follows."""

import pytest

from annotations.models import (
    Annotation,
    AnnotationLabel,
    AnnotationRevision,
    Assignment,
    AuditEvent,
    Consensus,
    DisputedLabel,
    ReviewBatch,
)
from annotations.selectors.agreement.summary import batches_with_stale_agreement
from annotations.services.adjudication import adjudication_view_record
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.batches.lifecycle import batch_close
from annotations.services.suggestions import suggestion_compute
from tests.reading.helpers import labels, queue, ref, shared_batch
from tests.suggestions.test_suggestions_service import FixedProvider

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
RETURNS = "/api/v1/batches/{}/returns/"


def _submit(client, assignment, *codes, comment=""):
    response = client.post(
        f"{API}/{ref(assignment)}/submit/",
        {"labels": labels(*codes), "comment": comment, "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response


def _amend(client, assignment, *codes, reason="pressed Enter too early", revision=1, **extra):
    body = {"labels": labels(*codes), "revision": revision, **extra}
    if reason is not None:
        body["reason"] = reason
    return client.post(f"{API}/{ref(assignment)}/amend/", body, content_type="application/json")


@pytest.fixture
def read_by_both(client_for, ana, bruno, diego, tnmg):
    """One exam both readers submitted as LBBB."""
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    anas, brunos = queue(batch, ana)[0], queue(batch, bruno)[0]
    _submit(client_for(bruno), brunos, "LBBB")
    _submit(client_for(ana), anas, "LBBB", comment="first look")
    return batch, anas, brunos


def _current(assignment) -> Annotation:
    return Annotation.objects.get(assignment=assignment, is_current=True)


def _codes(annotation: Annotation) -> set[str]:
    return set(
        AnnotationLabel.objects.filter(annotation=annotation).values_list("diagnostic_class__code", flat=True)
    )


def test_a_reader_amends_their_submitted_read_as_a_new_revision_that_keeps_the_first(
    client_for, ana, read_by_both
):
    _, anas, _ = read_by_both
    client = client_for(ana)
    answer = _amend(client, anas, "RBBB", comment="complete RBBB, not LBBB")
    assert answer.status_code == 200, answer.content
    assert answer.json()["revision"] == 2
    assert [x["code"] for x in answer.json()["context"]["annotation"]["labels"]] == ["RBBB"]

    read = _current(anas)
    assert (read.status, read.revision, read.comment) == ("submitted", 2, "complete RBBB, not LBBB")
    assert _codes(read) == {"RBBB"}
    trail = list(AnnotationRevision.objects.filter(annotation=read).order_by("revision"))
    assert [(r.kind, r.reason, [x["code"] for x in r.labels]) for r in trail] == [
        ("submit", "", ["LBBB"]),
        ("amend", "pressed Enter too early", ["RBBB"]),
    ]
    assert trail[0].comment == "first look"
    assert Assignment.objects.get(pk=anas.pk).status == "submitted"
    event = AuditEvent.objects.get(action="annotation.amend")
    assert event.after["reason"] == "pressed Enter too early"
    assert event.before["labels"] == ["LBBB"] and event.after["labels"] == ["RBBB"]
    # The page says what happened: the read can be amended again, and its revision shows.
    opened = client.get(f"{API}/{ref(anas)}/").json()
    assert opened["correction"]["amendable"] is True
    assert opened["annotation"]["revision"] == 2


def test_an_amendment_needs_a_reason_and_changes_nothing_without_one(client_for, ana, read_by_both):
    _, anas, _ = read_by_both
    client = client_for(ana)
    for reason in (None, "", "   "):
        answer = _amend(client, anas, "RBBB", reason=reason)
        assert answer.status_code == 400, answer.content
        assert "reason" in str(answer.json()).lower()
    assert _codes(_current(anas)) == {"LBBB"}
    assert AnnotationRevision.objects.filter(annotation__assignment=anas).count() == 1


def test_another_readers_read_is_not_found_and_left_alone(client_for, bruno, read_by_both, eve):
    _, anas, _ = read_by_both
    assert _amend(client_for(bruno), anas, "RBBB").status_code == 404
    assert _amend(client_for(eve), anas, "RBBB").status_code in (403, 404)
    assert _codes(_current(anas)) == {"LBBB"}


def test_a_draft_is_not_amended_it_is_saved(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    anas = queue(batch, ana)[0]
    answer = _amend(client_for(ana), anas, "RBBB", revision=0)
    assert answer.status_code == 409
    assert "submitted" in answer.json()["detail"]


def test_a_closed_batch_refuses_an_amendment_with_its_reason(client_for, ana, diego, read_by_both):
    batch, anas, _ = read_by_both
    batch_close(batch=batch, actor=diego)
    answer = _amend(client_for(ana), anas, "RBBB")
    assert answer.status_code == 409
    assert answer.json()["batch_closed"] is True
    assert "closed" in answer.json()["detail"]
    assert _codes(_current(anas)) == {"LBBB"}


def test_under_adjudication_an_amendment_is_refused_with_a_clear_message(
    client_for, ana, carla, read_by_both
):
    batch, anas, _ = read_by_both
    adjudication_view_record(actor=carla, batch=batch, exam_id=anas.exam_id)
    client = client_for(ana)
    answer = _amend(client, anas, "RBBB")
    assert answer.status_code == 409
    assert "adjudicat" in answer.json()["detail"]
    assert _codes(_current(anas)) == {"LBBB"}
    assert AnnotationRevision.objects.filter(annotation__assignment=anas).count() == 1
    assert not AuditEvent.objects.filter(action="annotation.amend").exists()
    opened = client.get(f"{API}/{ref(anas)}/").json()
    assert opened["correction"]["amendable"] is False
    assert "adjudicat" in opened["correction"]["refusal"]


def test_a_stale_revision_is_refused(client_for, ana, read_by_both):
    _, anas, _ = read_by_both
    client = client_for(ana)
    assert _amend(client, anas, "RBBB").status_code == 200
    stale = _amend(client, anas, "NORM", revision=1)
    assert stale.status_code == 409
    assert stale.json()["revision"] == 2
    assert _codes(_current(anas)) == {"RBBB"}


def test_exclusive_statements_are_refused_in_an_amendment_too(client_for, ana, read_by_both, tnmg):
    _, anas, _ = read_by_both
    exclusive = [s for s in tnmg.exclusive_sets if len(s) >= 2]
    if not exclusive:
        pytest.skip("the shipped taxonomy has no exclusive set")
    first, second = exclusive[0][:2]
    answer = _amend(client_for(ana), anas, first, second)
    assert answer.status_code == 400
    assert _codes(_current(anas)) == {"LBBB"}


def test_an_amendment_recomputes_agreement_and_the_consensus_changes(
    client_for, ana, read_by_both, django_capture_on_commit_callbacks
):
    batch, anas, _ = read_by_both
    batch_agreement_compute(batch.pk)
    agreed = Consensus.objects.get(batch=batch, exam=anas.exam, diagnostic_class__code="LBBB")
    assert (agreed.value, agreed.positive_votes) == (True, 2)
    assert batches_with_stale_agreement([batch.pk]) == []

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _amend(client_for(ana), anas, "RBBB").status_code == 200
    assert callbacks, "the amendment asks for a recomputation after commit"
    assert batches_with_stale_agreement([batch.pk]) == [batch.pk]
    batch_agreement_compute(batch.pk)
    # One reader for each now: both classes split, where both readers had agreed on LBBB.
    assert not Consensus.objects.filter(batch=batch, exam=anas.exam, diagnostic_class__code="LBBB").exists()
    split = DisputedLabel.objects.filter(batch=batch, exam=anas.exam)
    assert {(d.diagnostic_class.code, d.positive_votes, d.total_votes) for d in split} == {
        ("LBBB", 1, 2),
        ("RBBB", 1, 2),
    }


def test_in_a_two_stage_batch_an_amendment_changes_the_revised_read_only(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    anas = queue(batch, ana)[0]
    suggestion_compute(anas.exam_id, FixedProvider("1", {"SB": 0.9}))
    client = client_for(ana)
    blind = _submit(client, anas, "LBBB")
    assert blind.json()["done"] is False
    revision = blind.json()["context"]["annotation"]["revision"]
    revised = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("LBBB"), "revision": revision},
        content_type="application/json",
    )
    assert revised.status_code == 200
    answer = _amend(client, anas, "RBBB", revision=revision + 1)
    assert answer.status_code == 200, answer.content
    blind_read = Annotation.objects.get(assignment=anas, stage="blind")
    assert (blind_read.status, _codes(blind_read)) == ("submitted", {"LBBB"})
    assert _codes(Annotation.objects.get(assignment=anas, stage="revised")) == {"RBBB"}
    assert [x["code"] for x in answer.json()["context"]["annotation"]["blind"]["labels"]] == ["LBBB"]


# --- A coordinator returns a read to its reader ---------------------------------------------------------
def _return(client, batch, assignment, reason="please look at V1 again"):
    body = {"reader_id": assignment.reader_id, "exam_id": assignment.exam_id}
    if reason is not None:
        body["reason"] = reason
    return client.post(RETURNS.format(batch.pk), body, content_type="application/json")


def test_a_coordinator_returns_a_read_and_its_reader_sees_why(client_for, ana, diego, read_by_both):
    batch, anas, _ = read_by_both
    answer = _return(client_for(diego), batch, anas)
    assert answer.status_code == 200, answer.content
    slot = Assignment.objects.get(pk=anas.pk)
    assert (slot.status, slot.submitted_at, slot.time_on_task_ms) == ("in_progress", None, None)
    read = _current(anas)
    assert (read.status, read.revision, _codes(read)) == ("draft", 2, {"LBBB"})
    returned = AnnotationRevision.objects.get(annotation=read, revision=2)
    assert (returned.kind, returned.reason, returned.recorded_by_id) == (
        "returned",
        "please look at V1 again",
        diego.pk,
    )
    assert AuditEvent.objects.filter(action="annotation.return", actor=diego).exists()

    client = client_for(ana)
    opened = client.get(f"{API}/{ref(anas)}/").json()
    assert opened["assignment"]["status"] == "in_progress"
    assert opened["correction"]["returned"]["reason"] == "please look at V1 again"
    worklist = client.get("/").content.decode()
    assert "please look at V1 again" in worklist

    again = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("RBBB"), "revision": 2},
        content_type="application/json",
    )
    assert again.status_code == 200, again.content
    kinds = list(
        AnnotationRevision.objects.filter(annotation=read).order_by("revision").values_list("kind", flat=True)
    )
    assert kinds == ["submit", "returned", "submit"]
    assert client.get(f"{API}/{ref(anas)}/").json()["correction"]["returned"] is None


def test_a_return_needs_a_reason_a_submitted_read_and_an_open_exam(
    client_for, ana, carla, diego, read_by_both, bruno
):
    batch, anas, brunos = read_by_both
    client = client_for(diego)
    assert _return(client, batch, anas, reason=None).status_code == 400
    assert _return(client, batch, anas, reason=" ").status_code == 400
    assert _return(client_for(ana), batch, anas).status_code == 403
    client = client_for(diego)
    assert (
        client.post(
            RETURNS.format(batch.pk),
            {"reader_id": ana.pk, "exam_id": 10**9, "reason": "x"},
            content_type="application/json",
        ).status_code
        == 404
    )
    adjudication_view_record(actor=carla, batch=batch, exam_id=anas.exam_id)
    refused = _return(client, batch, brunos)
    assert refused.status_code == 409
    assert "adjudicat" in refused.json()["detail"]
    assert Assignment.objects.get(pk=brunos.pk).status == "submitted"
    assert _current(anas).status == "submitted"


def test_a_returned_read_is_not_returned_twice_and_a_closed_batch_refuses(client_for, diego, read_by_both):
    batch, anas, brunos = read_by_both
    client = client_for(diego)
    assert _return(client, batch, anas).status_code == 200
    twice = _return(client, batch, anas)
    assert twice.status_code == 409
    batch_close(batch=batch, actor=diego)
    closed = _return(client, batch, brunos)
    assert closed.status_code == 409
    assert Assignment.objects.get(pk=brunos.pk).status == "submitted"


def test_a_return_in_a_two_stage_batch_keeps_the_blind_read(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    anas = queue(batch, ana)[0]
    suggestion_compute(anas.exam_id, FixedProvider("1", {"SB": 0.9}))
    client = client_for(ana)
    revision = _submit(client, anas, "LBBB").json()["context"]["annotation"]["revision"]
    client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("NORM"), "revision": revision},
        content_type="application/json",
    )
    assert _return(client_for(diego), batch, anas).status_code == 200
    blind_read = Annotation.objects.get(assignment=anas, stage="blind")
    revised = Annotation.objects.get(assignment=anas, stage="revised")
    assert (blind_read.status, _codes(blind_read)) == ("submitted", {"LBBB"})
    assert (revised.status, revised.is_current, _codes(revised)) == ("draft", True, {"NORM"})
    opened = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    assert opened["annotation"]["stage"] == "revised"
    assert [x["code"] for x in opened["annotation"]["blind"]["labels"]] == ["LBBB"]
