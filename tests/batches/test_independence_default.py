"""One person, one independent read per exam, by default: every new batch keeps each reader away from the
exams they read, skipped after opening or saw the suggestion of in any batch (a copy of the waveform under
another dataset counting as the exam), on every path that hands out reads, unless a coordinator turns it off
and says why. Through the coordinator's API; the readers' history is made as their reading makes it."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam, ReviewBatch, Suggestion, SuggestionExposure
from annotations.services.batches.lifecycle import batch_close
from annotations.services.reading import annotation_save_draft, assignment_skip
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db
API = "/api/v1/batches/"
KNOWN = {"read_before": 2, "skipped_after_opening": 1, "saw_suggestion": 1, "saw_dispute": 0}


def _shown(reader, slot) -> None:
    """The reader opened the slot in a batch that shows suggestions, and was shown the model's."""
    suggestion = Suggestion.objects.create(exam=slot.exam, provider="demo-model", provider_version="1")
    SuggestionExposure.objects.create(
        assignment=slot, suggestion=suggestion, reader=reader, stage="revised", mode="shown"
    )


def _history(reader, diego, tnmg, read_exams, skipped_exams, suggested_exams, name="Earlier"):
    """`reader` read, skipped after opening (a draft saved, then a skip) and was shown the suggestion of
    (never saving) those exams in a batch of their own, closed since."""
    everything = [*read_exams, *skipped_exams, *suggested_exams]
    earlier = batch_for(tnmg, diego, [reader], everything, name=name, suggestion_mode="shown")
    for exam in read_exams:
        read(reader, Assignment.objects.get(batch=earlier, exam=exam), ["SR"])
    for exam in skipped_exams:
        slot = Assignment.objects.get(batch=earlier, exam=exam)
        annotation_save_draft(actor=reader, assignment=slot, labels=[], revision=0)
        assignment_skip(actor=reader, assignment=slot, reason="noisy")
    for exam in suggested_exams:
        _shown(reader, Assignment.objects.get(batch=earlier, exam=exam))
    batch_close(batch=earlier, actor=diego)
    return earlier


@pytest.fixture
def ivan(db):
    return UserFactory(username="ivan", roles=["reader"])


@pytest.fixture
def known(ana, diego, tnmg):
    """Dataset "syn": 4 exams ana knows (read, read as a copy under dataset "old", skipped after opening,
    saw the suggestion of) and 4 she never saw."""
    syn, old = DatasetFactory(name="syn"), DatasetFactory(name="old")
    was_read, skipped, suggested = (
        ExamFactory(dataset=syn),
        ExamFactory(dataset=syn),
        ExamFactory(dataset=syn),
    )
    first = ExamFactory(dataset=old)
    copy = ExamFactory(dataset=syn, copy_of=first, waveform_sha256=first.waveform_sha256)
    fresh = ExamFactory.create_batch(4, dataset=syn)
    _history(ana, diego, tnmg, [was_read, first], [skipped], [suggested])
    return {"known": [was_read, copy, skipped, suggested], "fresh": fresh}


def _spec(tnmg, readers, k, datasets=("syn",), **extra) -> dict:
    return {
        "name": "Fresh",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": k,
        "criteria": {"datasets": list(datasets)},
        **extra,
    }


def _holds(batch_id, reader, exams) -> set[int]:
    ids = [e.pk for e in exams]
    return set(
        Assignment.objects.filter(batch_id=batch_id, reader=reader, exam_id__in=ids).values_list(
            "exam_id", flat=True
        )
    )


def _ana_row(kept_back: dict) -> dict:
    return next(row for row in kept_back["by_reader"] if row["reader"] == "ana")


def test_a_new_batch_keeps_by_default_every_exam_a_reader_knows_and_says_why(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    spec = _spec(tnmg, [ana, bruno, ivan], 2)
    preview = client.post(f"{API}preview/", spec, content_type="application/json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["kept_back"]["by_reason"] == KNOWN
    created = client.post(API, spec, content_type="application/json")
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    assert not _holds(batch_id, ana, known["known"]), "ana was handed exams she knew from another batch"
    kept = created.json()["kept_back"]
    assert kept["exams"] == 4 and kept["by_reason"] == KNOWN
    assert {k: v for k, v in _ana_row(kept).items() if k in KNOWN} == KNOWN
    batch = ReviewBatch.objects.get(pk=batch_id)
    assert batch.design["exclude_seen"] is True
    assert (
        AuditEvent.objects.filter(action="batch.create").latest("pk").after["kept_back"]["by_reason"] == KNOWN
    )
    page = client.get(f"/batches/{batch_id}/").content.decode()
    assert "Independent reads" in page and "kept back" in page


def test_turning_independence_off_without_a_reason_is_refused_and_creates_nothing(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    before = ReviewBatch.objects.count()
    for reason in ({}, {"independence_off_reason": "  "}):
        spec = _spec(tnmg, [ana, bruno, ivan], 3, exclude_seen=False, **reason)
        response = client.post(API, spec, content_type="application/json")
        assert response.status_code == 400, response.content
        assert "reason" in response.content.decode()
    assert ReviewBatch.objects.count() == before


def test_turning_independence_off_with_a_reason_is_recorded_and_lets_the_reader_reread(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    why = "test-retest study of the same readers a year later"
    spec = _spec(tnmg, [ana, bruno, ivan], 3, exclude_seen=False, independence_off_reason=why)
    response = client.post(API, spec, content_type="application/json")
    assert response.status_code == 201, response.content
    batch = ReviewBatch.objects.get(pk=response.json()["id"])
    assert _holds(batch.pk, ana, known["known"]) == {e.pk for e in known["known"]}
    assert batch.design["exclude_seen"] is False and batch.design["independence_off_reason"] == why
    assert (
        AuditEvent.objects.filter(action="batch.create").latest("pk").after["independence_off_reason"] == why
    )
    assert why in client.get(f"/batches/{batch.pk}/").content.decode()


def test_adding_exams_keeps_away_what_a_reader_read_after_the_batch_was_designed(
    ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    ExamFactory.create_batch(3, dataset=DatasetFactory(name="a"))
    later = ExamFactory.create_batch(3, dataset=DatasetFactory(name="l"))
    created = client.post(
        API, _spec(tnmg, [ana, bruno, ivan], 2, datasets=["a"]), content_type="application/json"
    )
    batch_id = created.json()["id"]
    _history(ana, diego, tnmg, later[:1], later[1:2], later[2:], name="Later")  # after the design
    response = client.post(
        f"{API}{batch_id}/exams/", {"criteria": {"datasets": ["l"]}}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert not _holds(batch_id, ana, later)
    expected = {"read_before": 1, "skipped_after_opening": 1, "saw_suggestion": 1, "saw_dispute": 0}
    assert response.json()["kept_back"]["by_reason"] == expected


def test_a_reader_added_later_is_handed_none_of_the_exams_they_know(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    created = client.post(API, _spec(tnmg, [bruno, ivan], 1), content_type="application/json")
    batch_id = created.json()["id"]
    response = client.post(
        f"{API}{batch_id}/readers/", {"reader_ids": [ana.pk]}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["moved"] > 0
    assert not _holds(batch_id, ana, known["known"])
    assert response.json()["kept_back"]["by_reason"] == KNOWN


def test_reassigning_keeps_the_exams_the_new_reader_knows_and_counts_them_by_reason(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    created = client.post(API, _spec(tnmg, [bruno, ivan], 2), content_type="application/json")
    batch_id = created.json()["id"]
    response = client.post(
        f"{API}{batch_id}/reassign/",
        {"from_reader_id": ivan.pk, "to_reader_id": ana.pk},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert not _holds(batch_id, ana, known["known"]), "reassigning handed ana exams she knew"
    body = response.json()
    assert body["kept_because_seen_elsewhere"] == 4 and body["moved"] == 4
    assert body["kept_back"]["by_reason"] == KNOWN


def test_an_escalation_never_brings_in_a_reader_who_read_the_exam_after_the_design(
    ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    exam = ExamFactory(dataset=DatasetFactory(name="one"))
    spec = _spec(tnmg, [ana, bruno, ivan], 2, datasets=["one"], escalation="add_reader")
    batch_id = client.post(API, spec, content_type="application/json").json()["id"]
    holders = list(Assignment.objects.filter(batch_id=batch_id).order_by("reader_id"))
    spare = ({ana, bruno, ivan} - {slot.reader for slot in holders}).pop()
    # The spare reader was shown the exam's suggestion in a batch made after this one, never saving.
    _history(spare, diego, tnmg, [], [], [exam], name="Later")
    read(holders[0].reader, holders[0], ["SB"])
    read(holders[1].reader, holders[1], ["SR"])
    assert not Assignment.objects.filter(batch_id=batch_id, reader=spare).exists()
    assert BatchExam.objects.get(batch_id=batch_id, exam=exam).needs_adjudication


def test_a_skipped_exam_is_not_handed_to_a_reader_who_saw_the_suggestion_of_its_copy(
    ana, bruno, diego, tnmg, client_for
):
    client = client_for(diego)
    first = ExamFactory(dataset=DatasetFactory(name="old"))
    copy = ExamFactory(
        dataset=DatasetFactory(name="new"), copy_of=first, waveform_sha256=first.waveform_sha256
    )
    batch_id = client.post(
        API, _spec(tnmg, [bruno], 1, datasets=["new"]), content_type="application/json"
    ).json()["id"]
    client.post(f"{API}{batch_id}/readers/", {"reader_ids": [ana.pk]}, content_type="application/json")
    slot = Assignment.objects.get(batch_id=batch_id, exam=copy)
    assignment_skip(actor=slot.reader, assignment=slot, reason="noisy")
    other = ana if slot.reader == bruno else bruno
    _history(other, diego, tnmg, [], [], [first], name="Later")
    response = client.post(
        f"{API}{batch_id}/skips/{slot.pk}/hand-on/", {"reader_id": other.pk}, content_type="application/json"
    )
    assert response.status_code == 409, response.content
    assert "suggestion" in response.content.decode()
    assert not Assignment.objects.filter(batch_id=batch_id, reader=other, exam=copy).exists()


def test_a_batch_made_before_independence_was_the_default_keeps_readers_away_too(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    """A batch whose design says nothing (made before the choice was recorded) is independent."""
    batch = batch_for(tnmg, diego, [bruno, ivan], known["known"] + known["fresh"], name="Old")
    batch.design.pop("exclude_seen", None)
    batch.save(update_fields=["design"])
    response = client_for(diego).post(
        f"{API}{batch.pk}/reassign/",
        {"from_reader_id": ivan.pk, "to_reader_id": ana.pk},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert not _holds(batch.pk, ana, known["known"])


def test_the_batch_page_says_what_adding_readers_and_exams_kept_back(
    known, ana, bruno, ivan, diego, tnmg, client_for
):
    client = client_for(diego)
    batch_id = client.post(API, _spec(tnmg, [bruno, ivan], 1), content_type="application/json").json()["id"]
    said = client.post(
        f"/batches/{batch_id}/add-readers/", {"readers": [ana.pk]}, follow=True
    ).content.decode()
    assert (
        "4 exams were kept back from ana: 2 read, or to read, elsewhere; 1 skipped after opening; 1 saw the "
        "suggestion." in said
    ), said
