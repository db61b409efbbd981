"""A coordinator returns a submitted read to its reader, with the reason the reader will see.

The read becomes its reader's draft again (statements kept) as a revision of its own, kind "returned",
with the coordinator's reason; the reader submits it again as usual. Every earlier revision stays in
AnnotationRevision, so in the release's read_history.csv. Refused while the batch is closed or once
adjudication has started on the exam, as a reader's amendment is (services.reading).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import NotFound
from annotations.models import Annotation, AnnotationRevision, Assignment, ReviewBatch
from annotations.services.audit import audit_record
from annotations.services.reading import (
    CorrectionRefused,
    correction_batch_lock,
    correction_reason,
    correction_recompute_after_commit,
    correction_refuse_if_adjudicating,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


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
    *,
    actor: User,
    batch: ReviewBatch,
    reader_id: int,
    exam_id: int,
    reason: str | None,
    read_round: int = 1,
) -> Assignment:
    """A coordinator sends a submitted read back to its reader, with the reason the reader will see. The
    read becomes their draft again (its statements kept); it no longer counts until they submit it. In a
    two-stage batch the revised read reopens and the blind read stays stored and submitted."""
    reason = correction_reason(reason, _("say why the read goes back to its reader"))
    with transaction.atomic():
        # The slot first, then the batch: the order a reader's amendment locks them in (services.reading).
        slot = _slot_to_return(batch, reader_id, exam_id, read_round)
        if correction_batch_lock(batch.pk).status != ReviewBatch.Status.ACTIVE:
            raise CorrectionRefused(_("the batch is not open: its reads can no longer be returned"))
        correction_refuse_if_adjudicating(slot)
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
        correction_recompute_after_commit(slot)
    return slot
