"""Skip reasons are a coded list (unreadable tracing, wrong patient or lead placement, not 12 leads,
duplicate, other with the reader's words): the reading API takes the code and refuses what is not on the
list, the database refuses it too, the reader and the coordinator read the reasons in their language,
and the dashboard counts them per batch. Through the API and the pages, with the Django test client."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotations.models import Assignment, AuditEvent, ReviewBatch
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = pytest.mark.django_db
READING = "/api/v1/reading/assignments"


def skip(client, assignment, **body):
    return client.post(f"{READING}/{ref(assignment)}/skip/", body, content_type="application/json")


@pytest.fixture
def study(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    return batch, queue(batch, ana)


@pytest.mark.parametrize("code", ["unreadable", "wrong_patient", "not_12_leads", "duplicate"])
def test_a_reader_skips_with_a_listed_code_and_no_words(client_for, study, ana, code):
    _, (first, *_) = study
    response = skip(client_for(ana), first, code=code)
    assert response.status_code == 200, response.content
    first.refresh_from_db()
    assert (first.status, first.skip_code, first.skip_reason) == ("skipped", code, "")
    event = AuditEvent.objects.get(action="assignment.skip")
    assert event.after["code"] == code and event.after["reason"] == ""


def test_other_keeps_the_readers_words_and_a_reason_alone_is_other(client_for, study, ana):
    _, (first, second, _) = study
    client = client_for(ana)
    assert skip(client, first, code="other", reason="  Paced rhythm, no spikes seen ").status_code == 200
    # A client that sends its reason alone, as before the list, is understood: "other" with its words.
    assert skip(client, second, reason="Outside my expertise").status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.skip_code, first.skip_reason) == ("other", "Paced rhythm, no spikes seen")
    assert (second.skip_code, second.skip_reason) == ("other", "Outside my expertise")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"code": "noisy"}, "code"),
        ({"code": "system", "reason": "closed"}, "code"),  # the system's own code is no reader's
        ({"code": "other"}, "reason"),
        ({"code": "other", "reason": "   "}, "reason"),
        ({}, "reason"),
        ({"code": "unreadable", "reason": "and very noisy"}, "reason"),
        ({"code": "other", "reason": "x" * 301}, "reason"),
    ],
)
def test_an_unknown_code_or_missing_other_words_answer_400_and_change_nothing(
    client_for, study, ana, body, field
):
    _, (first, *_) = study
    response = skip(client_for(ana), first, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    first.refresh_from_db()
    assert (first.status, first.skip_code, first.skip_reason) == ("pending", "", "")
    assert not AuditEvent.objects.filter(action="assignment.skip").exists()


def test_a_bad_code_on_another_readers_exam_answers_404_not_400(client_for, study, bruno):
    _, (first, *_) = study
    assert skip(client_for(bruno), first, code="noisy").status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "skipped", "skip_code": "noisy", "skip_reason": ""},
        {"status": "skipped", "skip_code": "", "skip_reason": "x"},
        {"status": "skipped", "skip_code": "other", "skip_reason": ""},
        {"status": "skipped", "skip_code": "unreadable", "skip_reason": "and noisy"},
        {"status": "skipped", "skip_code": "system", "skip_reason": "closed"},  # not marked a closure
        {"status": "pending", "skip_code": "unreadable", "skip_reason": ""},
    ],
)
def test_the_database_refuses_a_skip_off_the_list(study, fields):
    _, (first, *_) = study
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=first.pk).update(**fields)


def test_a_retest_withdrawn_by_a_skip_is_the_systems_closure_with_its_own_code(client_for, ana, diego, tnmg):
    batch = batch_for(
        tnmg, diego, [ana], [make_exam(seed=i) for i in range(20)], name="Retest", seed=3, retest_fraction=0.2
    )
    retest = Assignment.objects.filter(batch=batch, reader=ana, read_round=2).first()
    first = Assignment.objects.get(batch=batch, reader=ana, exam=retest.exam, read_round=1)
    assert skip(client_for(ana), first, code="duplicate").status_code == 200
    retest.refresh_from_db()
    assert (retest.status, retest.skip_code, retest.closed_by_system) == ("skipped", "system", True)
    assert "first read was skipped" in retest.skip_reason


def test_the_reader_reads_a_listed_reason_in_their_language(client_for, study, ana):
    _, (first, *_) = study
    client = client_for(ana)
    skip(client, first, code="unreadable")
    client.cookies["django_language"] = "pt-br"
    context = client.get(f"{READING}/{ref(first)}/", HTTP_ACCEPT_LANGUAGE="pt-br").json()
    assert context["assignment"]["skip_code"] == "unreadable"
    assert context["assignment"]["skip_reason"] == "Traçado ilegível"


def test_the_dashboard_counts_skips_per_code_in_the_viewers_language(client_for, ana, bruno, diego, tnmg):
    carol = UserFactory(username="carol", roles=["reader"])
    batch = shared_batch(readers=[ana, bruno, carol], coordinator=diego, taxonomy=tnmg, exams=3)
    other = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    a, b, c = queue(batch, ana)
    assert skip(client_for(ana), a, code="unreadable").status_code == 200
    assert skip(client_for(ana), b, code="unreadable").status_code == 200
    assert skip(client_for(ana), c, code="other", reason="Paced").status_code == 200
    assert skip(client_for(bruno), queue(batch, bruno)[0], code="duplicate").status_code == 200
    assert skip(client_for(ana), queue(other, ana)[0], code="unreadable").status_code == 200  # elsewhere
    coordinator = client_for(diego)
    counts = coordinator.get(f"/api/v1/batches/{batch.pk}/progress/").json()["skip_counts"]
    assert [(row["code"], row["label"], row["count"]) for row in counts] == [
        ("unreadable", "Tracing unreadable", 2),
        ("wrong_patient", "Wrong patient or lead placement suspected", 0),
        ("not_12_leads", "Not a 12-lead ECG", 0),
        ("duplicate", "Duplicate exam", 1),
        ("other", "Other (say why)", 1),
    ]
    coordinator.cookies["django_language"] = "pt-br"
    page = coordinator.get(f"/batches/{batch.pk}/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    table = page.split('id="skip-counts"', 1)[1].split("</table>", 1)[0]
    assert "Traçado ilegível" in table and "Tracing unreadable" not in table
    listed = page.split('id="skips"', 1)[1].split("</table>", 1)[0]
    assert "Traçado ilegível" in listed and "Paced" in listed


def test_the_systems_closures_are_nobodys_skip_and_not_counted(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    slot = queue(batch, ana)[0]
    Assignment.objects.filter(pk=slot.pk).update(
        status="skipped", skip_code="system", skip_reason="withdrawn", closed_by_system=True
    )
    counts = client_for(diego).get(f"/api/v1/batches/{batch.pk}/progress/").json()["skip_counts"]
    assert sum(row["count"] for row in counts) == 0
    assert "system" not in {row["code"] for row in counts}
    assert batch.status == ReviewBatch.Status.ACTIVE
