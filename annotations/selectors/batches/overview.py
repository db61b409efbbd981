"""Batch overviews for coordinators."""

from __future__ import annotations

from django.db.models import F, Func, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from annotations.errors import Forbidden
from annotations.models import Assignment, BatchExam, ReviewBatch
from annotations.roles import Role, has_role


def _count(model, **filters) -> Subquery:
    """A per-batch row count as a correlated subquery: counting two child tables in one join multiplies
    their rows (100k exams x 300k reads is 3e10 rows for one batch), and the page never answered."""
    rows = model.objects.filter(batch=OuterRef("pk"), **filters).order_by().values("batch")
    return Subquery(rows.annotate(n=Func(F("pk"), function="COUNT")).values("n"), output_field=IntegerField())


def batch_overview(user) -> QuerySet[ReviewBatch]:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    return (
        ReviewBatch.objects.select_related("taxonomy")
        .annotate(
            exam_count=Coalesce(_count(BatchExam), 0),
            read_count=Coalesce(_count(Assignment), 0),
            reads_done=Coalesce(_count(Assignment, status=Assignment.Status.SUBMITTED), 0),
        )
        .order_by("-created_at")
    )


def batch_exam_count(batch: ReviewBatch) -> int:
    """How many exams the batch holds now."""
    return BatchExam.objects.filter(batch=batch).count()
