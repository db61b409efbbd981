"""Whether a submitted read may still be corrected, and what its reader is told about a correction.

A read is corrected while its batch is open and nobody has started adjudicating its exam: once an
adjudicator has opened the case (AdjudicationView) or signed a decision on it (Adjudication), they have
weighed the reads as they were, and a changed read would pull the ground from under the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from annotations.models import Adjudication, AdjudicationView, Annotation, AnnotationRevision, Assignment

# The revisions that change what counts as the read; draft saves in between do not.
RECORD_KINDS = (
    AnnotationRevision.Kind.SUBMIT,
    AnnotationRevision.Kind.AMEND,
    AnnotationRevision.Kind.RETURNED,
)


def adjudication_started(batch_id: int, exam_id: int) -> bool:
    opened = AdjudicationView.objects.filter(batch_id=batch_id, exam_id=exam_id)
    decided = Adjudication.objects.filter(batch_id=batch_id, exam_id=exam_id)
    return opened.exists() or decided.exists()


def adjudication_refusal(batch_id: int, exam_id: int) -> str | None:
    """The refusal of a correction on an exam whose adjudication has started; None while none has."""
    if not adjudication_started(batch_id, exam_id):
        return None
    return _(
        "an adjudicator has started on this exam, so its reads can no longer be amended or returned; "
        "tell the batch's coordinator what you would change"
    )


def _last_record(annotation: Annotation) -> AnnotationRevision | None:
    return (
        AnnotationRevision.objects.filter(annotation=annotation, kind__in=RECORD_KINDS)
        .order_by("-revision")
        .first()
    )


@dataclass(frozen=True, slots=True)
class ReturnedRead:
    reason: str  # the coordinator's words
    at: datetime


@dataclass(frozen=True, slots=True)
class Correction:
    """What annotations.api.reading.CorrectionSerializer answers."""

    amendable: bool
    refusal: str | None
    returned: ReturnedRead | None


def reading_correction(assignment: Assignment, annotation: Annotation | None) -> Correction:
    """For the reader page: may the reader amend this read now (and if not, why), and was it returned to
    them (by whom is not said: the reason is what they need)."""
    returned = None
    if assignment.status == Assignment.Status.IN_PROGRESS and annotation is not None:
        last = _last_record(annotation)
        if last is not None and last.kind == AnnotationRevision.Kind.RETURNED:
            returned = ReturnedRead(reason=last.reason, at=last.recorded_at)
    refusal = None
    if assignment.status == Assignment.Status.SUBMITTED:
        refusal = adjudication_refusal(assignment.batch_id, assignment.exam_id)
    return Correction(
        amendable=assignment.status == Assignment.Status.SUBMITTED and refusal is None,
        refusal=refusal,
        returned=returned,
    )


def returned_reason_subquery() -> Subquery:
    """For a query of assignments: the reason of the last recorded revision of the current read, which is
    not empty exactly when that revision returned the read to its reader (an amendment's reason never is
    last on an open slot: amending needs a submitted read, and a return or a submit follows it)."""
    last = AnnotationRevision.objects.filter(
        annotation__assignment=OuterRef("pk"), annotation__is_current=True, kind__in=RECORD_KINDS
    ).order_by("-revision")
    return Subquery(last.values("reason")[:1])
