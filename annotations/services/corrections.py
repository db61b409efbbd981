"""Corrections of submitted reads that keep the record: a reader amends their own read, a coordinator
returns one to its reader.

Neither rewrites history. An amendment is a new revision of the current read (in a two-stage batch the
revised one; the blind read is never touched) with its reason; a return puts the current read back in
draft for its reader, as a revision of its own with the coordinator's reason, and the reader submits it
again as usual. Every earlier revision stays in AnnotationRevision, and so in the release's
read_history.csv. Both are refused while the batch is closed or once adjudication has started on the exam
(selectors.reading.corrections), each in one transaction with its audit row; agreement and consensus are
recomputed after commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Invalid, NotFound
from annotations.models import Annotation, AnnotationRevision, Assignment, ReviewBatch
from annotations.selectors.reading.assignments import assignment_for_reader_locked
from annotations.selectors.reading.corrections import adjudication_refusal
from annotations.services.agreement.compute import agreement_recompute_request
from annotations.services.audit import audit_record
from annotations.services.batches.escalation import batch_exam_escalate_if_disputed
from annotations.services.reading import (
    MAX_COMMENT,
    LabelInput,
    StaleRevision,
    _check_submittable,
    _earlier_labels_removed,
    _resolve_labels,
    _snapshot_rows,
)

MAX_REASON = 1000


class CorrectionRefused(Conflict):
    """The read's state forbids the correction (not submitted, closed batch, adjudication started)."""


def _reason(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(what)
    return reason[:MAX_REASON]


def _refuse_if_adjudicating(slot: Assignment) -> None:
    refusal = adjudication_refusal(slot.batch_id, slot.exam_id)
    if refusal:
        raise CorrectionRefused(refusal)


def _lock_batch(batch_id: int) -> ReviewBatch:
    # The lock adjudication decisions take (services.adjudication._case_lock): a decision and a
    # correction of the same batch never interleave, so "adjudication has started" is read as it stands.
    return ReviewBatch.objects.select_for_update().get(pk=batch_id)


def _recompute_after_commit(slot: Assignment) -> None:
    batch_id = slot.batch_id
    transaction.on_commit(lambda: agreement_recompute_request(batch_id))


def annotation_amend(
    *,
    actor,
    assignment: Assignment | int,
    labels: Sequence[LabelInput],
    reason: str | None,
    revision: int,
    comment: str | None = None,
) -> Annotation:
    """Amend the reader's own submitted read: a new revision with its reason, checked as a submit is.

    404 for a read that is not the caller's; 409 in a closed batch (BatchClosed), for a read not
    submitted, once adjudication has started on the exam, and from a stale revision; 400 without a
    reason or for statements a submit would refuse."""
    reason = _reason(reason, _("say why you amend this read"))
    assignment_id = assignment if isinstance(assignment, int) else assignment.pk
    with transaction.atomic():
        slot = assignment_for_reader_locked(actor, assignment_id)  # 404, or 409 for a closed batch
        if slot.status != Assignment.Status.SUBMITTED:
            raise CorrectionRefused(_("only a submitted read can be amended; this one is still open"))
        _lock_batch(slot.batch_id)
        _refuse_if_adjudicating(slot)
        current = slot.annotations.select_for_update().get(is_current=True)
        if current.revision != revision:
            raise StaleRevision(current.revision)
        resolved = _resolve_labels(slot, labels)
        _check_submittable(slot, resolved)
        before = {"revision": current.revision, "labels": _codes_of(current), "comment": current.comment}
        now = timezone.now()
        if comment is not None:
            current.comment = comment[:MAX_COMMENT]
        # submitted_at moves: the read counting now was submitted now, and agreement's staleness check
        # (selectors.agreement.summary) sees the batch's reads moved on. The first time stays in the trail.
        current.revision, current.updated_at, current.submitted_at = current.revision + 1, now, now
        current.save(update_fields=["comment", "revision", "updated_at", "submitted_at"])
        _earlier_labels_removed(current)
        _snapshot_rows(current, resolved, actor, kind=AnnotationRevision.Kind.AMEND, reason=reason)
        after = {
            "revision": current.revision,
            "stage": current.stage,
            "labels": [c.code for c, *_rest in resolved],
            "reason": reason,
        }
        audit_record(actor=actor, action="annotation.amend", target=current, before=before, after=after)
        if slot.read_round == 1:
            batch_exam_escalate_if_disputed(batch=slot.batch, exam_id=slot.exam_id, actor=actor)
        _recompute_after_commit(slot)
    return current


def _codes_of(annotation: Annotation) -> list[str]:
    return list(annotation.labels.values_list("diagnostic_class__code", flat=True).order_by("pk"))


def _slot_to_return(batch: ReviewBatch, reader_id: int, exam_id: int, read_round: int) -> Assignment:
    slot = (
        Assignment.objects.select_for_update()
        .filter(batch=batch, reader_id=reader_id, exam_id=exam_id, read_round=read_round)
        .first()
    )
    if slot is None:
        raise NotFound(_("this reader holds no read of this exam in this batch"))
    if slot.status != Assignment.Status.SUBMITTED:
        raise CorrectionRefused(
            _("only a submitted read can be returned; this one is %(status)s")
            % {"status": slot.get_status_display().lower()}
        )
    return slot


def assignment_return(
    *, actor, batch: ReviewBatch, reader_id: int, exam_id: int, reason: str | None, read_round: int = 1
) -> Assignment:
    """A coordinator sends a submitted read back to its reader, with the reason the reader will see. The
    read becomes their draft again (its statements kept); it no longer counts until they submit it. In a
    two-stage batch the revised read reopens and the blind read stays stored and submitted."""
    reason = _reason(reason, _("say why the read goes back to its reader"))
    with transaction.atomic():
        locked = _lock_batch(batch.pk)
        if locked.status != ReviewBatch.Status.ACTIVE:
            raise CorrectionRefused(_("the batch is not open: its reads can no longer be returned"))
        slot = _slot_to_return(locked, reader_id, exam_id, read_round)
        _refuse_if_adjudicating(slot)
        current = slot.annotations.select_for_update().get(is_current=True)
        last = current.revisions.order_by("-revision").first()
        now = timezone.now()
        before = {"status": current.status, "revision": current.revision}
        current.status, current.submitted_at = Annotation.Status.DRAFT, None
        current.revision, current.updated_at = current.revision + 1, now
        current.save(update_fields=["status", "submitted_at", "revision", "updated_at"])
        AnnotationRevision.objects.create(
            annotation=current,
            revision=current.revision,
            status=current.status,
            labels=last.labels if last is not None else [],
            comment=current.comment,
            time_on_task_ms=current.time_on_task_ms,
            recorded_at=now,
            recorded_by=actor,
            kind=AnnotationRevision.Kind.RETURNED,
            reason=reason,
        )
        slot.status, slot.submitted_at, slot.time_on_task_ms = Assignment.Status.IN_PROGRESS, None, None
        slot.save(update_fields=["status", "submitted_at", "time_on_task_ms"])
        after = {
            "status": current.status,
            "revision": current.revision,
            "reason": reason,
            "assignment": slot.pk,
        }
        audit_record(actor=actor, action="annotation.return", target=current, before=before, after=after)
        _recompute_after_commit(slot)
    return slot
