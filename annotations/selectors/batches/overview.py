"""Batch overviews for coordinators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q

from annotations.errors import Forbidden
from annotations.models import Adjudication, Assignment, BatchExam, DisputedLabel, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.batches.closures import closed_without_read

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model, QuerySet


def batch_overview(user: User, *, newest: int | None = None) -> list[ReviewBatch]:
    """The batches, newest first (the `newest` of them when given), each with `exam_count`, `read_count`
    (its slots), `reads_done` (those submitted), `reads_skipped` (set aside by their reader: a slot handed
    on stays, beside the new one, so a batch read in full shows its skips) and `exams_disputed` (exams
    with a disputed class no adjudicator has decided yet: what the adjudication queue holds of the batch).

    Each child table is counted once for all the batches shown, grouped by batch, and never joined to
    the other: one join of exams and reads multiplies their rows (100k exams x 300k reads). A count per
    batch in a correlated subquery was planned as a scan of the whole slots table for every batch once
    one batch held most of it: 0.5 s for seven batches at CODE-II size, and more with every batch."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    batches = ReviewBatch.objects.select_related("taxonomy").order_by("-created_at", "-id")
    shown = list(batches[:newest] if newest is not None else batches)
    ids = [batch.pk for batch in shown]
    exams = dict(_per_batch(BatchExam, ids).annotate(n=Count("pk")).values_list("batch_id", "n"))
    reads = {
        row["batch_id"]: row
        for row in _per_batch(Assignment, ids).annotate(
            all=Count(
                "pk", filter=~closed_without_read()
            ),  # the dashboard's count of reads: nobody's slots out
            done=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
            skipped=Count("pk", filter=Q(status=Assignment.Status.SKIPPED) & ~closed_without_read()),
        )
    }
    disputed = _exams_disputed(ids)
    for batch in shown:
        counted = reads.get(batch.pk, {})
        batch.exam_count = exams.get(batch.pk, 0)
        batch.read_count = counted.get("all", 0)
        batch.reads_done = counted.get("done", 0)
        batch.reads_skipped = counted.get("skipped", 0)
        batch.exams_disputed = disputed.get(batch.pk, 0)
    return shown


def _exams_disputed(batch_ids: list[int]) -> dict[int, int]:
    decided = Adjudication.objects.filter(
        batch_id=OuterRef("batch_id"),
        exam_id=OuterRef("exam_id"),
        diagnostic_class_id=OuterRef("diagnostic_class_id"),
    )
    open_disputes = _per_batch(DisputedLabel, batch_ids).filter(~Exists(decided))
    return dict(open_disputes.annotate(n=Count("exam_id", distinct=True)).values_list("batch_id", "n"))


def _per_batch(model: type[Model], batch_ids: list[int]) -> QuerySet[Any, dict[str, Any]]:
    return model._default_manager.filter(batch_id__in=batch_ids).order_by().values("batch_id")


def batch_exam_count(batch: ReviewBatch) -> int:
    """How many exams the batch holds now."""
    return BatchExam.objects.filter(batch=batch).count()
