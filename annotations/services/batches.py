"""Creating review batches and handing out their reads."""

from __future__ import annotations

import random
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from annotations.models import Assignment, BatchExam, Exam, ReviewBatch, Taxonomy
from annotations.roles import Role, has_role
from annotations.services.audit import audit_record
from annotations.services.taxonomy import taxonomy_freeze


class BatchDesignError(ValueError):
    """A batch that cannot be built as asked; the message says why."""


def _spread_reads(exam_ids: Sequence[int], reader_ids: Sequence[int], k: int, rng: random.Random):
    """Give each exam k distinct readers, always picking the least-loaded ones (loads within one)."""
    load = {reader: 0 for reader in reader_ids}
    plan: dict[int, list[int]] = {reader: [] for reader in reader_ids}
    for exam_id in exam_ids:
        order = sorted(reader_ids, key=lambda r: (load[r], rng.random()))
        for reader in order[:k]:
            load[reader] += 1
            plan[reader].append(exam_id)
    return plan


def batch_create(
    *,
    name: str,
    taxonomy: Taxonomy,
    exams: Sequence[Exam],
    readers: Sequence,
    readers_per_exam: int,
    actor,
    suggestion_mode: str = ReviewBatch.SuggestionMode.HIDDEN,
    seed: int = 0,
    start: bool = True,
) -> ReviewBatch:
    """Create a batch with k readers per exam, each reader's queue in its own seeded random order."""
    if not has_role(actor, Role.COORDINATOR):
        raise PermissionError("only coordinators create batches")
    if readers_per_exam < 1:
        raise BatchDesignError("readers per exam must be at least 1")
    if readers_per_exam > len(readers):
        raise BatchDesignError(
            f"{readers_per_exam} readers per exam were asked for but only {len(readers)} readers chosen"
        )
    not_readers = [r.get_username() for r in readers if not has_role(r, Role.READER)]
    if not_readers:
        raise BatchDesignError(f"not readers: {', '.join(not_readers)}")
    if not exams:
        raise BatchDesignError("a batch needs at least one exam")
    rng = random.Random(seed)
    exam_ids = [exam.pk for exam in exams]
    rng.shuffle(exam_ids)
    plan = _spread_reads(exam_ids, [r.pk for r in readers], readers_per_exam, rng)
    now = timezone.now()
    with transaction.atomic():
        taxonomy_freeze(taxonomy, actor=actor)
        batch = ReviewBatch.objects.create(
            name=name,
            taxonomy=taxonomy,
            readers_per_exam=readers_per_exam,
            suggestion_mode=suggestion_mode,
            seed=seed,
            created_by=actor,
            status=ReviewBatch.Status.ACTIVE if start else ReviewBatch.Status.DRAFT,
            started_at=now if start else None,
        )
        BatchExam.objects.bulk_create(
            BatchExam(batch=batch, exam_id=exam_id, target_reads=readers_per_exam) for exam_id in exam_ids
        )
        rows = []
        for reader_id, queue in plan.items():
            queue = list(queue)
            rng.shuffle(queue)
            rows.extend(
                Assignment(batch=batch, exam_id=exam_id, reader_id=reader_id, position=index)
                for index, exam_id in enumerate(queue)
            )
        Assignment.objects.bulk_create(rows)
        audit_record(
            actor=actor,
            action="batch.create",
            target=batch,
            after={
                "name": name,
                "taxonomy": f"{taxonomy.key} {taxonomy.version}",
                "exams": len(exam_ids),
                "readers": sorted(r.get_username() for r in readers),
                "k": readers_per_exam,
                "suggestion_mode": suggestion_mode,
                "seed": seed,
            },
        )
    return batch
