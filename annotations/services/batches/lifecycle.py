"""Creating review batches and handing out their reads."""

from __future__ import annotations

import random
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from annotations.errors import Conflict, Forbidden, Invalid
from annotations.lib.batch_design import DesignError, DesignRequest, design_batch
from annotations.models import Assignment, BatchExam, Exam, ReviewBatch, Taxonomy
from annotations.roles import Role, has_role
from annotations.selectors.batches.access import batch_reader_ids
from annotations.selectors.blinding import (
    design_exclusions,
    exams_reader_barred,
    pseudonym_order,
    readers_barred,
)
from annotations.services.audit import audit_record
from annotations.services.suggestions import batch_suggestions_enqueue
from annotations.services.taxonomy import taxonomy_freeze


class BatchDesignError(Invalid):
    """A batch that cannot be built as asked; the message says why."""


class BatchStateConflict(Conflict, BatchDesignError):
    """A running batch that cannot take the change in its present state (closed, or its queues cannot
    place the new exams): a conflict with the batch, not bad input."""


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
    due_date=None,
    design_notes: dict | None = None,
    escalation: dict | None = None,
    exclude_seen: bool = False,
) -> ReviewBatch:
    """Create a batch with k readers per exam, each reader's queue in its own seeded random order.

    The design (lib.batch_design) is computed first; goals it cannot meet are refused here with its
    explanation, so a coordinator never starts a batch whose agreement cannot be estimated as asked.
    No reader is handed an exam whose dispute they saw (selectors.blinding); with exclude_seen, nor one
    they read in another batch or whose suggestion they saw.
    """
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden("only coordinators create batches")
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
        excluded=design_exclusions(
            [reader.pk for reader in readers], [exam.pk for exam in exams], exclude_seen=exclude_seen
        ),
    )
    try:
        design = design_batch(request)
    except DesignError as error:
        raise BatchDesignError(str(error)) from None
    if design.problems:
        raise BatchDesignError("; ".join(design.problems))
    if escalation and escalation.get("mode") not in (ESCALATE_ADD_READER, ESCALATE_ADJUDICATE):
        raise BatchDesignError(f"unknown escalation {escalation.get('mode')!r}; use add_reader or adjudicate")
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
            due_date=due_date,
            design={
                **(design_notes or {}),
                "escalation": escalation or None,
                "reader_ids": sorted(request.reader_ids),
                "gold_exams": len(request.gold_exam_ids),
                "retest_fraction": retest_fraction,
                "min_pair_overlap_asked": min_pair_overlap,
                "min_pair_overlap": design.min_pair_overlap,
                "exclude_seen": exclude_seen,
            },
        )
        _pseudonyms_keep(batch, request.reader_ids)
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
        # After commit: the worker must see the batch's rows; a broker error is logged, never raised.
        transaction.on_commit(lambda: batch_suggestions_enqueue(batch.pk))
    return batch


def _require_coordinator(actor) -> None:
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden("only coordinators change batches")


def _require_open(batch: ReviewBatch) -> None:
    if batch.status == ReviewBatch.Status.CLOSED:
        raise BatchStateConflict(f"batch {batch.name!r} is closed")


def _queue_end(batch: ReviewBatch, reader_id: int) -> int:
    last = Assignment.objects.filter(batch=batch, reader_id=reader_id).order_by("-position").first()
    return last.position + 1 if last else 0


def _pending(batch: ReviewBatch, reader_id: int):
    """Unread first reads: a retest belongs to its reader (it measures that reader), so it never moves."""
    return Assignment.objects.filter(
        batch=batch, reader_id=reader_id, status=Assignment.Status.PENDING, read_round=1
    )


def _pseudonyms_keep(batch: ReviewBatch, reader_ids) -> None:
    """Fix the "Reader A, B, C" letters of the batch's readers so far, and deal the next letters to
    `reader_ids` not yet lettered: letters never move once an adjudicator may have seen them."""
    order = pseudonym_order(batch)
    fresh = [r for r in pseudonym_order(batch, extra=reader_ids) if r not in order]
    if (batch.design or {}).get("pseudonym_order") == order and not fresh:
        return
    batch.design = {**(batch.design or {}), "pseudonym_order": order + fresh}
    batch.save(update_fields=["design"])


def _move(assignment: Assignment, to_reader_id: int, position: int) -> None:
    assignment.reader_id = to_reader_id
    assignment.position = position
    assignment.assigned_at = timezone.now()
    assignment.save(update_fields=["reader", "position", "assigned_at"])


def batch_reassign(*, batch: ReviewBatch, from_reader, to_reader, actor) -> dict:
    """Hand a reader's unread exams to another reader; drafts, exams the new reader has, and exams whose
    dispute the new reader saw (selectors.blinding) stay put."""
    _require_coordinator(actor)
    _require_open(batch)
    if not has_role(to_reader, Role.READER):
        raise BatchDesignError(f"not a reader: {to_reader.get_username()}")
    with transaction.atomic():
        locked = ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        _pseudonyms_keep(locked, [to_reader.pk])
        taken = set(
            Assignment.objects.filter(batch=batch, reader=to_reader).values_list("exam_id", flat=True)
        )
        pending = _pending(batch, from_reader.pk)
        taken |= exams_reader_barred(to_reader.pk, pending.values_list("exam_id", flat=True))
        movable = list(pending.exclude(exam_id__in=taken).order_by("position"))
        position = _queue_end(batch, to_reader.pk)
        for offset, assignment in enumerate(movable):
            _move(assignment, to_reader.pk, position + offset)
        kept = _pending(batch, from_reader.pk).count()
        outcome = {"moved": len(movable), "kept_because_already_assigned": kept}
        audit_record(
            actor=actor,
            action="batch.reassign",
            target=batch,
            before={"reader": from_reader.get_username()},
            after={"reader": to_reader.get_username(), **outcome},
        )
    return outcome


def batch_add_exams(*, batch: ReviewBatch, exams: Sequence[Exam], actor, seed: int | None = None) -> int:
    """Add exams to a batch; they join the end of the queues, keeping loads within one."""
    _require_coordinator(actor)
    _require_open(batch)
    with transaction.atomic():
        ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        present = set(BatchExam.objects.filter(batch=batch).values_list("exam_id", flat=True))
        new = [exam.pk for exam in exams if exam.pk not in present]
        if not new:
            return 0
        reader_ids = sorted(set(Assignment.objects.filter(batch=batch).values_list("reader_id", flat=True)))
        loads = {
            r: Assignment.objects.filter(batch=batch, reader_id=r, read_round=1).count() for r in reader_ids
        }
        design = design_batch(
            DesignRequest(
                exam_ids=new,
                reader_ids=reader_ids,
                readers_per_exam=batch.readers_per_exam,
                seed=batch.seed + len(present) if seed is None else seed,
                existing_loads=loads,
                excluded=design_exclusions(
                    reader_ids, new, exclude_seen=bool((batch.design or {}).get("exclude_seen"))
                ),
            )
        )
        if design.short_exam_ids:
            raise BatchStateConflict("; ".join(design.problems))
        ends = {reader: _queue_end(batch, reader) for reader in reader_ids}
        BatchExam.objects.bulk_create(
            BatchExam(batch=batch, exam_id=exam_id, target_reads=batch.readers_per_exam) for exam_id in new
        )
        Assignment.objects.bulk_create(
            Assignment(
                batch=batch, exam_id=s.exam_id, reader_id=s.reader_id, position=ends[s.reader_id] + s.position
            )
            for s in design.slots
        )
        audit_record(actor=actor, action="batch.add_exams", target=batch, after={"exams": new})
        transaction.on_commit(lambda: batch_suggestions_enqueue(batch.pk))
    return len(new)


def batch_add_readers(*, batch: ReviewBatch, readers: Sequence, actor) -> int:
    """Add readers to a running batch by moving unread exams to them until loads are within one."""
    _require_coordinator(actor)
    _require_open(batch)
    not_readers = [r.get_username() for r in readers if not has_role(r, Role.READER)]
    if not_readers:
        raise BatchDesignError(f"not readers: {', '.join(not_readers)}")
    with transaction.atomic():
        ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        locked = ReviewBatch.objects.get(pk=batch.pk)
        _pseudonyms_keep(locked, [r.pk for r in readers])
        everyone = sorted(batch_reader_ids(locked) | {r.pk for r in readers})
        locked.design = {**(locked.design or {}), "reader_ids": everyone}
        locked.save(update_fields=["design"])
        moved = _rebalance(batch, everyone)
        audit_record(
            actor=actor,
            action="batch.add_readers",
            target=batch,
            after={"readers": sorted(r.get_username() for r in readers), "moved": moved},
        )
    return moved


def _rebalance(batch: ReviewBatch, reader_ids: list[int]) -> int:
    """Move unread exams from the most to the least loaded reader while that narrows the gap; never an
    exam the receiving reader holds already or whose dispute they saw (selectors.blinding)."""
    loads = {r: Assignment.objects.filter(batch=batch, reader_id=r).count() for r in reader_ids}
    unread = Assignment.objects.filter(batch=batch, status=Assignment.Status.PENDING, read_round=1)
    barred = {r: exams_reader_barred(r, unread.values_list("exam_id", flat=True)) for r in reader_ids}
    moved = 0
    while True:
        candidate = None
        for light in sorted(reader_ids, key=lambda r: (loads[r], r)):
            taken = Assignment.objects.filter(batch=batch, reader_id=light).values("exam_id")
            donors = sorted((r for r in reader_ids if loads[r] - loads[light] > 1), key=lambda r: -loads[r])
            for heavy in donors:
                candidate = (
                    _pending(batch, heavy)
                    .exclude(exam_id__in=taken)
                    .exclude(exam_id__in=barred[light])
                    .order_by("-position")
                    .first()
                )
                if candidate is not None:
                    break
            if candidate is not None:
                break
        if candidate is None:
            return moved
        _move(candidate, light, _queue_end(batch, light))
        loads[heavy] -= 1
        loads[light] += 1
        moved += 1


def batch_close(*, batch: ReviewBatch, actor) -> ReviewBatch:
    """Close a batch: its unread exams are no longer handed out; what was read stays."""
    _require_coordinator(actor)
    with transaction.atomic():
        batch = ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == ReviewBatch.Status.CLOSED:
            return batch
        before = batch.status
        batch.status = ReviewBatch.Status.CLOSED
        batch.closed_at = timezone.now()
        batch.save(update_fields=["status", "closed_at"])
        unread = Assignment.objects.filter(batch=batch, status=Assignment.Status.PENDING).count()
        audit_record(
            actor=actor,
            action="batch.close",
            target=batch,
            before={"status": before},
            after={"status": batch.status, "unread_left": unread},
        )
    return batch


def batch_create_from_plan(*, plan, actor, start: bool = True) -> ReviewBatch:
    """Create the batch a coordinator previewed (selectors.batch_plan), exactly as planned."""
    spec = plan.spec
    exams = list(Exam.objects.filter(pk__in=plan.exam_ids).only("pk"))
    gold = [exam for exam in exams if exam.pk in set(plan.gold_exam_ids)]
    notes = {
        "matching_exams": plan.matching,
        "criteria": {k: (str(v) if v is not None else None) for k, v in vars(spec.criteria).items()},
        "sample_size": spec.sample_size,
        "stratified_by": f"{spec.stratify_provider}:{spec.stratify_code}" if plan.stratified else None,
        "strata_taken": plan.stratified.taken if plan.stratified else None,
    }
    return batch_create(
        name=spec.name,
        taxonomy=plan.taxonomy,
        exams=exams,
        readers=plan.readers,
        readers_per_exam=spec.readers_per_exam,
        actor=actor,
        suggestion_mode=spec.suggestion_mode,
        seed=spec.seed,
        start=start,
        gold_exams=gold,
        retest_fraction=spec.retest_fraction,
        min_pair_overlap=spec.min_pair_overlap,
        due_date=spec.due_date,
        design_notes=notes,
        escalation={"mode": spec.escalation, "cap": spec.escalation_cap} if spec.escalation else None,
        exclude_seen=spec.exclude_seen,
    )


OPEN_STATUSES = [Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS]
ESCALATE_ADD_READER = "add_reader"
ESCALATE_ADJUDICATE = "adjudicate"


def _diagnosis_sets(batch: ReviewBatch, exam_id: int) -> list[frozenset[int]] | None:
    """The submitted label sets of an exam's first reads, or None while any first read is open."""
    from annotations.models import Annotation

    reads = Assignment.objects.filter(batch=batch, exam_id=exam_id, read_round=1)
    if reads.exclude(status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED]).exists():
        return None
    annotations = Annotation.objects.filter(
        assignment__in=reads.filter(status=Assignment.Status.SUBMITTED), is_current=True
    ).prefetch_related("labels")
    return [frozenset(label.diagnostic_class_id for label in a.labels.all()) for a in annotations]


def batch_exam_escalate_if_disputed(*, batch: ReviewBatch, exam_id: int, actor) -> str | None:
    """After an exam's last open read is submitted: if the reads disagree on any class, escalate.

    The batch's design says how ({"escalation": {"mode": "add_reader" | "adjudicate", "cap": n}}):
    one more reader (at most `cap` beyond k), or straight to adjudication. Must run inside the
    submitting transaction; the exam's BatchExam row is locked first, so two readers finishing the
    same exam at once cannot both escalate it (or both miss it).
    """
    rule = (batch.design or {}).get("escalation") or {}
    mode = rule.get("mode")
    if mode not in (ESCALATE_ADD_READER, ESCALATE_ADJUDICATE):
        return None
    member = BatchExam.objects.select_for_update().get(batch=batch, exam_id=exam_id)
    sets = _diagnosis_sets(batch, exam_id)
    if sets is None or len(set(sets)) <= 1:
        return None
    if mode == ESCALATE_ADD_READER and member.target_reads < batch.readers_per_exam + int(rule.get("cap", 1)):
        reader_id = _least_loaded_newcomer(batch, exam_id)
        if reader_id is not None:
            _insert_among_unread(batch, exam_id, reader_id)
            member.target_reads += 1
            member.save(update_fields=["target_reads"])
            audit_record(
                actor=actor,
                action="batch.escalate_add_reader",
                target=member,
                after={"exam": exam_id, "reader": reader_id, "target_reads": member.target_reads},
            )
            return ESCALATE_ADD_READER
    if not member.needs_adjudication:
        member.needs_adjudication = True
        member.save(update_fields=["needs_adjudication"])
        audit_record(actor=actor, action="batch.escalate_adjudicate", target=member, after={"exam": exam_id})
    return ESCALATE_ADJUDICATE


def _insert_among_unread(batch: ReviewBatch, exam_id: int, reader_id: int) -> Assignment:
    """An escalation read, put at a random place among the reader's unread exams, so that its place in
    the queue does not say that the exam was disputed. The unread exam whose place it takes goes to the
    end of the queue (one write, no renumbering). A reader with nothing unread gets it at the end:
    there is no other place, and they will see that one more exam arrived.

    Never displaced: a first read whose retest follows (it must stay ahead of its retest).
    """
    retested = Assignment.objects.filter(batch=batch, reader_id=reader_id, read_round=2).values("exam_id")
    unread = list(
        Assignment.objects.filter(batch=batch, reader_id=reader_id, status=Assignment.Status.PENDING)
        .exclude(read_round=1, exam_id__in=retested)
        .order_by("position")
    )
    end = _queue_end(batch, reader_id)
    if not unread:
        position = end
    else:
        displaced = random.SystemRandom().choice(unread)
        position = displaced.position
        displaced.position = end
        displaced.save(update_fields=["position"])
    return Assignment.objects.create(batch=batch, exam_id=exam_id, reader_id=reader_id, position=position)


def _least_loaded_newcomer(batch: ReviewBatch, exam_id: int) -> int | None:
    """A reader of the batch who has not read this exam nor seen its dispute, with the fewest unread
    exams."""
    from django.db.models import Count

    taken = set(Assignment.objects.filter(batch=batch, exam_id=exam_id).values_list("reader_id", flat=True))
    candidates = batch_reader_ids(batch) - taken
    candidates -= readers_barred(candidates, exam_id)
    if not candidates:
        return None
    open_counts = dict(
        Assignment.objects.filter(batch=batch, reader_id__in=candidates, status__in=OPEN_STATUSES)
        .values("reader_id")
        .annotate(n=Count("id"))
        .values_list("reader_id", "n")
    )
    return min(candidates, key=lambda reader: (open_counts.get(reader, 0), reader))
