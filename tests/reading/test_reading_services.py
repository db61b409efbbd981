"""Reading services: drafts with optimistic revisions, submits, skips, two-stage and shown suggestions."""

import pytest

from annotations.errors import NotFound
from annotations.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    AuditEvent,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from annotations.selectors.reading.assignments import (
    BatchClosed,
    assignment_next_for_reader,
    assignment_next_id_for_reader,
)
from annotations.services.reading import (
    LabelInput,
    ReadClosed,
    ReadingError,
    StaleRevision,
    annotation_save_draft,
    annotation_submit,
    assignment_skip,
)
from tests.reading.helpers import queue, shared_batch

pytestmark = pytest.mark.django_db


def _suggest(exam, taxonomy, scores: dict[str, float]) -> Suggestion:
    suggestion = Suggestion.objects.create(exam=exam, provider="demo-model", provider_version="1")
    for code, score in scores.items():
        SuggestionScore.objects.create(
            suggestion=suggestion, diagnostic_class=taxonomy.classes.get(code=code), score=score
        )
    return suggestion


def test_each_draft_save_bumps_the_revision_and_appends_a_snapshot(ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    saved = annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    saved = annotation_save_draft(
        actor=ana, assignment=first, labels=[LabelInput("SB", uncertain=True)], comment="P waves?", revision=1
    )
    assert saved.revision == 2
    assert list(AnnotationRevision.objects.filter(annotation=saved).values_list("revision", "labels")) == [
        (1, [{"code": "SB", "uncertain": False}]),
        (2, [{"code": "SB", "uncertain": True}]),
    ]
    first.refresh_from_db()
    assert first.status == Assignment.Status.IN_PROGRESS
    assert AuditEvent.objects.filter(action="annotation.save_draft", actor=ana).count() == 2


def test_a_save_against_an_older_revision_is_refused_and_changes_nothing(ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("ST")], revision=1)
    with pytest.raises(StaleRevision) as refused:
        annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("AF")], revision=1)
    assert refused.value.current == 2
    current = Annotation.objects.get(assignment=first, is_current=True)
    assert [label.diagnostic_class.code for label in current.labels.all()] == ["ST"]


def test_a_submit_with_exclusive_statements_is_refused_naming_both(ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    with pytest.raises(ReadingError, match=r"Normal ECG.*\(NORM\).*Right bundle branch block.*\(RBBB\)"):
        annotation_submit(
            actor=ana, assignment=first, labels=[LabelInput("NORM"), LabelInput("RBBB")], revision=0
        )
    with pytest.raises(ReadingError, match=r"Sinus bradycardia.*Sinus tachycardia"):
        annotation_submit(
            actor=ana, assignment=first, labels=[LabelInput("SB"), LabelInput("ST")], revision=0
        )
    assert not Annotation.objects.filter(assignment=first).exists()


def test_a_submitted_read_closes_the_assignment_and_refuses_later_saves(ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    result = annotation_submit(
        actor=ana, assignment=first, labels=[LabelInput("NORM"), LabelInput("Q_BASELINE")], revision=0
    )
    assert result.annotation.status == Annotation.Status.SUBMITTED
    assert result.annotation.stage == Annotation.Stage.BLIND
    assert result.assignment.status == Assignment.Status.SUBMITTED
    with pytest.raises(ReadClosed):
        annotation_save_draft(actor=ana, assignment=first, labels=[], revision=1)


def test_a_reader_cannot_write_to_another_readers_assignment_it_does_not_exist_for_them(
    ana, bruno, diego, tnmg
):
    anas = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    with pytest.raises(NotFound):  # 404
        annotation_save_draft(actor=bruno, assignment=anas, labels=[LabelInput("SB")], revision=0)
    with pytest.raises(NotFound):  # 404
        annotation_submit(actor=bruno, assignment=anas.pk, labels=[LabelInput("SB")], revision=0)
    assert not Annotation.objects.filter(assignment=anas).exists()


def test_skipping_needs_a_reason_and_moves_the_queue_on(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    first, second, _ = queue(batch, ana)
    assert assignment_next_for_reader(ana, batch_id=batch.pk) == first
    with pytest.raises(ReadingError, match="reason"):
        assignment_skip(actor=ana, assignment=first, reason="  ")
    assignment_skip(actor=ana, assignment=first, reason="Tracing unreadable")
    first.refresh_from_db()
    assert (first.status, first.skip_reason) == (Assignment.Status.SKIPPED, "Tracing unreadable")
    assert assignment_next_for_reader(ana, batch_id=batch.pk) == second


def test_the_next_exam_follows_the_readers_own_order_unread_before_drafts(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    first, second, third = queue(batch, ana)
    annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    assert assignment_next_for_reader(ana, batch_id=batch.pk) == second
    assert assignment_next_for_reader(ana, batch_id=batch.pk, after=second) == third
    for assignment in (second, third):
        annotation_submit(actor=ana, assignment=assignment, labels=[LabelInput("NORM")], revision=0)
    assert assignment_next_for_reader(ana, batch_id=batch.pk) == first  # the draft is still to finish
    assert assignment_next_for_reader(bruno, batch_id=batch.pk) == queue(batch, bruno)[0]


def test_the_next_id_leaves_out_the_exams_left_and_what_is_not_the_readers_to_read(ana, bruno, diego, tnmg):
    """The id alone, as "submit and next" and the prefetch ask for it: the same order as the assignment
    itself, across batches by due date, never a closed, left or inactive batch's exam, nothing for a
    non-reader."""
    later = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    sooner = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    ReviewBatch.objects.filter(pk=later.pk).update(due_date="2031-01-01")
    ReviewBatch.objects.filter(pk=sooner.pk).update(due_date="2030-01-01")
    first, second, third = queue(sooner, ana)
    assert assignment_next_id_for_reader(ana) == first.pk
    assert assignment_next_id_for_reader(ana, batch_id=later.pk) == queue(later, ana)[0].pk
    assert (
        assignment_next_id_for_reader(ana, batch_id=sooner.pk, after=first, skip_ids=(second.pk,)) == third.pk
    )
    annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    for assignment in (second, third):
        annotation_submit(actor=ana, assignment=assignment, labels=[LabelInput("NORM")], revision=0)
    # Unread exams of any batch come before the draft left in the sooner one.
    assert assignment_next_id_for_reader(ana) == queue(later, ana)[0].pk
    assert assignment_next_id_for_reader(ana, batch_id=sooner.pk) == first.pk
    assert assignment_next_id_for_reader(ana, batch_id=sooner.pk, after=first) is None
    ReviewBatch.objects.filter(pk=later.pk).update(status=ReviewBatch.Status.CLOSED)
    assert assignment_next_id_for_reader(ana, batch_id=later.pk) is None
    assert assignment_next_id_for_reader(ana) == first.pk
    assert assignment_next_id_for_reader(diego) is None  # a coordinator has no queue


def test_two_stage_stores_the_blind_read_before_the_suggestion_is_shown(ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg, {"AF": 0.91, "SB": 0.1})
    result = annotation_submit(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    blind = Annotation.objects.get(assignment=first, stage=Annotation.Stage.BLIND)
    exposure = SuggestionExposure.objects.get(assignment=first)
    assert blind.status == Annotation.Status.SUBMITTED and not blind.is_current
    assert blind.submitted_at <= exposure.shown_at
    assert (exposure.reader, exposure.stage, exposure.mode) == (ana, "revised", "two_stage")
    revised = result.annotation
    assert (revised.stage, revised.status, revised.is_current) == ("revised", "draft", True)
    assert revised.suggestion_shown_at == exposure.shown_at
    assert result.assignment.status == Assignment.Status.IN_PROGRESS

    annotation_submit(actor=ana, assignment=first, labels=[LabelInput("AF")], revision=revised.revision)
    first.refresh_from_db()
    assert first.status == Assignment.Status.SUBMITTED
    reads = {
        a.stage: [label.diagnostic_class.code for label in a.labels.all()] for a in first.annotations.all()
    }
    assert reads == {"blind": ["SB"], "revised": ["AF"]}


def test_two_stage_without_a_suggestion_is_an_ordinary_blind_read(ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    first = queue(batch, ana)[0]
    result = annotation_submit(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    assert result.suggestion_revealed is None
    assert result.assignment.status == Assignment.Status.SUBMITTED
    assert not SuggestionExposure.objects.exists()


def test_nothing_more_is_written_to_a_batch_once_it_is_closed(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = queue(batch, ana)[0]
    annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    ReviewBatch.objects.filter(pk=batch.pk).update(status=ReviewBatch.Status.CLOSED)
    # 409 naming the batch: the assignment is the reader's own, so they are told why (not a 404).
    with pytest.raises(BatchClosed, match="Reading study"):
        annotation_submit(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=1)
    assert Annotation.objects.get(assignment=first).status == Annotation.Status.DRAFT
