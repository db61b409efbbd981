"""Creating review batches and handing out their reads."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from annotations.design import DesignError, DesignRequest, design_batch
from annotations.models import Assignment, BatchExam, Exam, ReviewBatch, Taxonomy
from annotations.roles import Role, has_role
from annotations.services.audit import audit_record
from annotations.services.taxonomy import taxonomy_freeze


class BatchDesignError(ValueError):
    """A batch that cannot be built as asked; the message says why."""


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
    gold_exams: Sequence[Exam] = (),
    retest_fraction: float = 0.0,
    min_pair_overlap: int = 0,
) -> ReviewBatch:
    """Create a batch with k readers per exam, each reader's queue in its own seeded random order.

    The design (annotations.design) is computed first; goals it cannot meet are refused here with its
    explanation, so a coordinator never starts a batch whose agreement cannot be estimated as asked.
    """
    if not has_role(actor, Role.COORDINATOR):
        raise PermissionError("only coordinators create batches")
    not_readers = [r.get_username() for r in readers if not has_role(r, Role.READER)]
    if not_readers:
        raise BatchDesignError(f"not readers: {', '.join(not_readers)}")
    request = DesignRequest(
        exam_ids=[exam.pk for exam in exams],
        reader_ids=[reader.pk for reader in readers],
        readers_per_exam=readers_per_exam,
        seed=seed,
        gold_exam_ids=[exam.pk for exam in gold_exams],
        retest_fraction=retest_fraction,
        min_pair_overlap=min_pair_overlap,
    )
    try:
        design = design_batch(request)
    except DesignError as error:
        raise BatchDesignError(str(error)) from None
    if design.problems:
        raise BatchDesignError("; ".join(design.problems))
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
        gold = set(request.gold_exam_ids)
        BatchExam.objects.bulk_create(
            BatchExam(
                batch=batch,
                exam_id=exam_id,
                target_reads=len(readers) if exam_id in gold else readers_per_exam,
                is_gold=exam_id in gold,
            )
            for exam_id in request.exam_ids
        )
        Assignment.objects.bulk_create(
            Assignment(
                batch=batch,
                exam_id=slot.exam_id,
                reader_id=slot.reader_id,
                read_round=slot.read_round,
                position=slot.position,
            )
            for slot in design.slots
        )
        audit_record(
            actor=actor,
            action="batch.create",
            target=batch,
            after={
                "name": name,
                "taxonomy": f"{taxonomy.key} {taxonomy.version}",
                "exams": len(request.exam_ids),
                "gold": len(gold),
                "retest_fraction": retest_fraction,
                "min_pair_overlap": design.min_pair_overlap,
                "readers": sorted(r.get_username() for r in readers),
                "k": readers_per_exam,
                "suggestion_mode": suggestion_mode,
                "seed": seed,
            },
        )
    return batch
