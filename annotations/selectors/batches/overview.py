"""Batch overviews for coordinators."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from annotations.errors import Forbidden
from annotations.models import Assignment, BatchExam, ReviewBatch
from annotations.roles import Role, has_role


def batch_overview(user) -> QuerySet[ReviewBatch]:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    return (
        ReviewBatch.objects.select_related("taxonomy")
        .annotate(
            exam_count=Count("batch_exams", distinct=True),
            read_count=Count("assignments", distinct=True),
            reads_done=Count(
                "assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED), distinct=True
            ),
        )
        .order_by("-created_at")
    )


def batch_exam_count(batch: ReviewBatch) -> int:
    """How many exams the batch holds now."""
    return BatchExam.objects.filter(batch=batch).count()
