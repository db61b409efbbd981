"""What a reader may see of their own work. Every query here is filtered by the requesting user."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from annotations.models import Assignment, ReviewBatch


@dataclass(frozen=True)
class WorklistEntry:
    batch_id: int
    batch_name: str
    due_date: object
    total: int
    done: int
    drafts: int

    @property
    def remaining(self) -> int:
        return self.total - self.done


def reader_worklist(user) -> list[WorklistEntry]:
    """The reader's active batches with their own progress; nothing about other readers."""
    done = Q(status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED])
    rows = (
        Assignment.objects.filter(reader=user, batch__status=ReviewBatch.Status.ACTIVE)
        .values("batch_id", "batch__name", "batch__due_date")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=done),
            drafts=Count("id", filter=Q(status=Assignment.Status.IN_PROGRESS)),
        )
        .order_by("batch__due_date", "batch_id")
    )
    return [
        WorklistEntry(
            batch_id=row["batch_id"],
            batch_name=row["batch__name"],
            due_date=row["batch__due_date"],
            total=row["total"],
            done=row["done"],
            drafts=row["drafts"],
        )
        for row in rows
    ]
