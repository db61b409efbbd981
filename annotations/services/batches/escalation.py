"""Escalating a disputed exam once its last open read is in: one more reader, or adjudication, as the
batch's design says."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from django.db.models import Count

from annotations.models import Annotation, Assignment, BatchExam, ReviewBatch
from annotations.selectors.batches.access import batch_reader_ids, reading_reader_ids
from annotations.selectors.batches.escalation import reaches, trigger_class_ids, trigger_weights
from annotations.selectors.blinding import batch_seen_elsewhere, readers_barred
from annotations.services.audit import audit_record
from annotations.services.batches.lifecycle import (
    ESCALATE_ADD_READER,
    ESCALATE_ADD_READER_MAJORITY,
    ESCALATE_ADJUDICATE,
    queue_end,
)
from annotations.services.webhooks.events import exam_escalated_emit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

OPEN_STATUSES = [Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS]


def _diagnosis_sets(batch: ReviewBatch, exam_id: int) -> list[frozenset[int]] | None:
    """The submitted label sets of an exam's first reads, or None while any first read is open."""
    reads = Assignment.objects.filter(batch=batch, exam_id=exam_id, read_round=1)
    if reads.exclude(status__in=[Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED]).exists():
        return None
    annotations = Annotation.objects.filter(
        assignment__in=reads.filter(status=Assignment.Status.SUBMITTED), is_current=True
    ).prefetch_related("labels")
    return [frozenset(label.diagnostic_class_id for label in a.labels.all()) for a in annotations]


def _disputed(batch: ReviewBatch, sets: list[frozenset[int]] | None) -> bool:
    """Whether the reads escalate under the design's trigger: they differ on any class, on a listed one,
    or on classes whose clinical weights reach the threshold. None (a read still open): no."""
    if sets is None:
        return False
    weighted = trigger_weights(batch)
    if weighted is not None:
        return reaches(sets, *weighted)
    watched = trigger_class_ids(batch)
    if watched is not None:  # the design escalates on the listed classes alone
        sets = [labels & watched for labels in sets]
    return len(set(sets)) > 1


def batch_exam_escalate_if_disputed(*, batch: ReviewBatch, exam_id: int, actor: User) -> str | None:
    """After an exam's last open read is submitted: if the reads disagree on any class (or, where the
    design lists classes, on one of those, or where it weighs them, on classes weighing its threshold:
    selectors.batches.escalation), escalate.

    The batch's design says how ({"escalation": {"mode": ..., "cap": n}}): one more reader (at most `cap`
    beyond k), after which "add_reader" sends what still disagrees to adjudication and
    "add_reader_majority" leaves it to the consensus rule; or "adjudicate", straight to adjudication. With
    no reader left to add, "add_reader" adjudicates and "add_reader_majority" leaves the reads to the rule
    (which disputes its ties itself). Must run inside the
    submitting transaction; the exam's BatchExam row is locked first, so two readers finishing the
    same exam at once cannot both escalate it (or both miss it).
    """
    rule = (batch.design or {}).get("escalation") or {}
    mode = rule.get("mode")
    if mode not in (ESCALATE_ADD_READER, ESCALATE_ADD_READER_MAJORITY, ESCALATE_ADJUDICATE):
        return None
    member = BatchExam.objects.select_for_update().get(batch=batch, exam_id=exam_id)
    if not _disputed(batch, _diagnosis_sets(batch, exam_id)):
        return None
    adds = mode in (ESCALATE_ADD_READER, ESCALATE_ADD_READER_MAJORITY)
    if adds and member.target_reads < batch.readers_per_exam + int(rule.get("cap", 1)):
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
    if mode == ESCALATE_ADD_READER_MAJORITY:
        return None
    if not member.needs_adjudication:
        member.needs_adjudication = True
        member.save(update_fields=["needs_adjudication"])
        audit_record(actor=actor, action="batch.escalate_adjudicate", target=member, after={"exam": exam_id})
        exam_escalated_emit(member)
    return ESCALATE_ADJUDICATE


def _displaceable(batch: ReviewBatch, reader_id: int) -> list[Assignment]:
    """The reader's unread exams an extra read may change places with, in queue order. Never the exam on
    the reader's screen (their first open slot: a reader saw "8 of 8", then "8 of 9" with the disputed
    exam in its place), and never a first read whose retest follows (it must stay ahead of its retest)."""
    mine = Assignment.objects.filter(batch=batch, reader_id=reader_id)
    current = mine.filter(status__in=OPEN_STATUSES).order_by("position").values_list("pk", flat=True).first()
    retested = mine.filter(read_round=2).values("exam_id")
    unread = mine.filter(status=Assignment.Status.PENDING)
    if current is not None:
        unread = unread.exclude(pk=current)
    return list(unread.exclude(read_round=1, exam_id__in=retested).order_by("position"))


def _insert_among_unread(batch: ReviewBatch, exam_id: int, reader_id: int) -> Assignment:
    """An escalation read, put at a random place among the reader's unread exams, so that its place in
    the queue does not say that the exam was disputed. The unread exam whose place it takes goes to the
    end of the queue (one write, no renumbering). A reader with nothing unread but the exam on their
    screen gets it at the end: there is no other place, and they will see that one more exam arrived.
    """
    unread = _displaceable(batch, reader_id)
    end = queue_end(batch, reader_id)
    if not unread:
        position = end
    else:
        displaced = random.SystemRandom().choice(unread)
        position = displaced.position
        displaced.position = end
        displaced.save(update_fields=["position"])
    return Assignment.objects.create(
        batch=batch, exam_id=exam_id, reader_id=reader_id, position=position, escalated=True
    )


def _least_loaded_newcomer(batch: ReviewBatch, exam_id: int) -> int | None:
    """A reader of the batch still reading (active, with the reader role) who has not read this exam nor
    seen its dispute: one with exams not yet started besides the one on their screen if any, and of those
    the one with the fewest unread exams. To a reader who has read everything, the extra read arrives
    alone, just after another's submit, and says the exam was disputed; among exams still to read, at a
    random place (_insert_among_unread), it says nothing. A batch whose candidates have all read
    everything still hands it to the least loaded."""
    taken = set(Assignment.objects.filter(batch=batch, exam_id=exam_id).values_list("reader_id", flat=True))
    candidates = reading_reader_ids(batch_reader_ids(batch) - taken)
    candidates -= readers_barred(candidates, exam_id)
    # A batch designed to keep readers from exams they read elsewhere keeps them from its extra reads too.
    candidates -= {r for r, exams in batch_seen_elsewhere(batch, candidates, [exam_id]).items() if exams}
    if not candidates:
        return None
    slots = Assignment.objects.filter(batch=batch, reader_id__in=candidates)
    open_counts = dict(
        slots.filter(status__in=OPEN_STATUSES)
        .values("reader_id")
        .annotate(n=Count("id"))
        .values_list("reader_id", "n")
    )
    # Only an exam besides the one on the reader's screen hides the extra read (_displaceable).
    hiding = {reader for reader in candidates if _displaceable(batch, reader)}
    return min(candidates, key=lambda reader: (reader not in hiding, open_counts.get(reader, 0), reader))
