"""What a reader may see of their own work. Every query here is filtered by the requesting user."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Max, Q

from annotations.models import Assignment, ReviewBatch


@dataclass(frozen=True)
class DraftEntry:
    assignment_id: int
    position: int  # 1-based place in the reader's own queue
    updated_at: object


@dataclass(frozen=True)
class WorklistEntry:
    batch_id: int
    batch_name: str
    due_date: object
    total: int
    done: int
    drafts: int
    draft_entries: tuple[DraftEntry, ...] = field(default=())

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
    drafts_by_batch = _reader_drafts_by_batch(user)
    return [
        WorklistEntry(
            batch_id=row["batch_id"],
            batch_name=row["batch__name"],
            due_date=row["batch__due_date"],
            total=row["total"],
            done=row["done"],
            drafts=row["drafts"],
            draft_entries=tuple(drafts_by_batch.get(row["batch_id"], ())),
        )
        for row in rows
    ]


def _reader_drafts_by_batch(user) -> dict[int, list[DraftEntry]]:
    """The reader's own saved drafts, so the home page can reopen them."""
    rows = (
        Assignment.objects.filter(
            reader=user, batch__status=ReviewBatch.Status.ACTIVE, status=Assignment.Status.IN_PROGRESS
        )
        .annotate(updated_at=Max("annotations__updated_at"))
        .values("id", "batch_id", "position", "updated_at")
        .order_by("batch_id", "position")
    )
    grouped: dict[int, list[DraftEntry]] = {}
    for row in rows:
        grouped.setdefault(row["batch_id"], []).append(
            DraftEntry(assignment_id=row["id"], position=row["position"] + 1, updated_at=row["updated_at"])
        )
    return grouped
