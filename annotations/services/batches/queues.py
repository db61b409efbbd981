"""A running batch's queues: handing a reader's unread exams to another, adding exams or readers, keeping
loads within one."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from annotations.lib.batch_design import RETEST_MIN_GAP, DesignRequest, design_batch
from annotations.models import Assignment, BatchExam, Exam, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.batches.access import batch_reader_ids, reading_reader_ids
from annotations.selectors.batches.closures import (
    DRAFT_SET_ASIDE,
    READER_LEFT_UNTAKEN,
    RETEST_TOO_CLOSE,
    RETEST_WITHDRAWN,
    closed_without_read,
)
from annotations.selectors.batches.plan import BatchPlanError, exams_to_add
from annotations.selectors.batches.wording import problems_text
from annotations.selectors.blinding import (
    batch_excludes_seen,
    batch_seen_elsewhere,
    exams_reader_barred,
    kept_back_reasons,
    kept_back_summary,
)
from annotations.selectors.exams.selection import ExamCriteria, PoorLeftOut
from annotations.selectors.users import blind_refusal
from annotations.services.audit import audit_record
from annotations.services.batches.lifecycle import (
    BatchDesignError,
    BatchStateConflict,
    independent_exclusions,
    pseudonyms_keep,
    queue_end,
    require_coordinator,
    require_open,
    require_readers,
    rows_insert,
)
from annotations.services.suggestions import batch_suggestions_enqueue

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User


def _pending(batch: ReviewBatch, reader_id: int) -> QuerySet[Assignment]:
    """Unread first reads: a retest belongs to its reader (it measures that reader), so it never moves."""
    return Assignment.objects.filter(
        batch=batch, reader_id=reader_id, status=Assignment.Status.PENDING, read_round=1
    )


def _retest_follows(batch: ReviewBatch, reader_id: int) -> QuerySet[Assignment, Any]:
    """Exams whose first read the reader re-reads later (an open retest): that first read stays with them,
    or the retest would compare a second read with a first nobody made."""
    return Assignment.objects.filter(
        batch=batch,
        reader_id=reader_id,
        read_round=2,
        status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
    ).values("exam_id")


def _move(assignment: Assignment, to_reader_id: int, position: int) -> None:
    assignment.reader_id = to_reader_id
    assignment.position = position
    assignment.assigned_at = timezone.now()
    assignment.save(update_fields=["reader", "position", "assigned_at"])


def _open_slots(batch: ReviewBatch, reader_id: int, *, status: str, read_round: int) -> QuerySet[Assignment]:
    return Assignment.objects.filter(batch=batch, reader_id=reader_id, status=status, read_round=read_round)


def _set_aside(assignment: Assignment, reason: str, now: datetime) -> None:
    """Close a slot its reader can no longer finish, as a skip with the reason (any draft is kept, read
    by nobody): a skip is not a read, so the exam's coverage stops waiting for it."""
    assignment.status, assignment.skip_reason, assignment.skipped_at = Assignment.Status.SKIPPED, reason, now
    assignment.closed_by_system, assignment.skip_code = True, Assignment.SkipCode.SYSTEM
    assignment.save(update_fields=["status", "skip_code", "skip_reason", "skipped_at", "closed_by_system"])


def _drafts_hand_on(batch: ReviewBatch, drafts: list[Assignment], to_reader_id: int, position: int) -> int:
    """Each draft of a reader who left: set aside, and its exam given to the new reader as a new blank
    read (the replacing slot, as a skip handed on: services.batches.skips), so the draft stays unseen."""
    now = timezone.now()
    for offset, draft in enumerate(drafts):
        _set_aside(draft, DRAFT_SET_ASIDE, now)
        Assignment.objects.create(
            batch=batch,
            exam_id=draft.exam_id,
            reader_id=to_reader_id,
            read_round=1,
            position=position + offset,
            replaces=draft,
            escalated=draft.escalated,
            assigned_at=now,
        )
    return len(drafts)


def _retests_withdraw(batch: ReviewBatch, reader_id: int) -> int:
    """A retest of a reader who left can never be read by its reader, and by no one else (it measures
    them): withdrawn, pending or begun."""
    now, retests = timezone.now(), 0
    for status in (Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS):
        for retest in _open_slots(batch, reader_id, status=status, read_round=2):
            _set_aside(retest, RETEST_WITHDRAWN, now)
            retests += 1
    return retests


def _untaken_set_aside(slots: list[Assignment]) -> int:
    """The slots of a reader who left that nobody in the batch may take yet: closed, to be handed on
    (services.batches.skips) once someone may read their exams, so the batch does not wait on them."""
    now = timezone.now()
    for slot in slots:
        _set_aside(slot, READER_LEFT_UNTAKEN, now)
    return len(slots)


def _reasons_kept(
    waiting: list[int], held: set[int], barred: set[int], seen: set[int], retested: set[int]
) -> dict[str, Any]:
    """Why each unmoved exam stayed, apart: the coordinator (and the audit) tell a reader who has the exam
    already from one kept away by blinding (a dispute seen; with exclude_seen, a read elsewhere), and
    those from a first read its reader re-reads later. `seen` holds none of `held` or `barred`."""
    return {
        "kept_because_already_assigned": sum(exam in held for exam in waiting),
        "kept_because_dispute_seen": sum(exam in barred for exam in waiting),
        "kept_because_seen_elsewhere": sum(exam in seen for exam in waiting),
        "kept_because_retest_follows": sum(e in retested and e not in held | barred | seen for e in waiting),
    }


def _departed_close(
    batch: ReviewBatch,
    reader_id: int,
    pending: QuerySet[Assignment],
    drafts: list[Any],
    kept_away: set[int],
    to_reader_id: int,
    position: int,
) -> tuple[int, int, int]:
    """A reader who left keeps nothing: the drafts the new reader may take are handed on as new reads,
    what nobody may take yet (`pending` re-read: what did not move) is set aside for handing on, and
    the retests are withdrawn. Returns (drafts handed on, slots set aside, retests withdrawn)."""
    given = [d for d in drafts if d.exam_id not in kept_away]
    handed = _drafts_hand_on(batch, given, to_reader_id, position)
    untaken = _untaken_set_aside([*pending, *(d for d in drafts if d not in given)])
    return handed, untaken, _retests_withdraw(batch, reader_id)


def _retests_too_close(batch: ReviewBatch, reader_id: int) -> int:
    """After a reassign, withdraw the reader's pending retests with fewer than RETEST_MIN_GAP of their
    exams (read or to read) left between them and their first read: a retest right after the first read
    is re-read from memory, and measures nothing. Returns how many."""
    queue = list(
        Assignment.objects.filter(batch=batch, reader_id=reader_id)
        .exclude(closed_without_read())
        .exclude(status=Assignment.Status.SKIPPED, read_round=1)
        .order_by("position")
        .values_list("pk", "exam_id", "read_round", "status")
    )
    first_at = {exam: i for i, (_, exam, round_, _) in enumerate(queue) if round_ == 1}
    close = [
        pk
        for i, (pk, exam, round_, status) in enumerate(queue)
        if round_ == 2
        and status == Assignment.Status.PENDING
        and i - first_at.get(exam, -RETEST_MIN_GAP - 1) - 1 < RETEST_MIN_GAP
    ]
    now = timezone.now()
    for retest in Assignment.objects.filter(pk__in=close):
        _set_aside(retest, RETEST_TOO_CLOSE, now)
    return len(close)


def _blinded_from(
    batch: ReviewBatch, reader_id: int, exam_ids: set[int], held: set[int]
) -> tuple[set[Any], set[Any]]:
    """(exams whose dispute the reader saw, exams the batch's exclude_seen keeps from them), apart from
    those they hold already and from each other, as the reassign's outcome counts them."""
    barred = exams_reader_barred(reader_id, exam_ids) - held
    seen = batch_seen_elsewhere(batch, [reader_id], exam_ids).get(reader_id, set()) - held - barred
    return barred, seen


IN_PROGRESS = Assignment.Status.IN_PROGRESS


def _reassign_check(batch: ReviewBatch, to_reader: User, actor: User) -> None:
    require_coordinator(actor)
    require_open(batch)
    if not has_role(to_reader, Role.READER):
        raise BatchDesignError(_("not a reader: %(name)s") % {"name": to_reader.get_username()})
    if blind_refusal([to_reader]):
        raise BatchDesignError(blind_refusal([to_reader]))


# One transaction under the batch lock: what moves, what a departed reader leaves and the audit row must be
# decided together; each step is a helper.
def batch_reassign(*, batch: ReviewBatch, from_reader: User, to_reader: User, actor: User) -> dict[str, Any]:
    """Hand a reader's unread exams to another reader, but those the new reader may not read
    (_blinded_from) or has; drafts stay with a reader still reading. A reader who left the study keeps
    nothing (_departed_close): no exam then waits for one who cannot read."""
    _reassign_check(batch, to_reader, actor)
    left = not has_role(from_reader, Role.READER)  # an inactive account holds no role
    with transaction.atomic():
        locked = ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        pseudonyms_keep(locked, [to_reader.pk])
        held = set(Assignment.objects.filter(batch=batch, reader=to_reader).values_list("exam_id", flat=True))
        pending = _pending(batch, from_reader.pk)
        waiting = list(pending.values_list("exam_id", flat=True))  # a retest slot repeats its exam
        drafts = list(
            _open_slots(batch, from_reader.pk, status=IN_PROGRESS, read_round=1).order_by("position")
        )
        barred, seen = _blinded_from(batch, to_reader.pk, set(waiting) | {d.exam_id for d in drafts}, held)
        kept_away = held | barred | seen
        # A reader still reading keeps the first reads they re-read later; one who left loses the retests.
        retested = (
            set() if left else set(_retest_follows(batch, from_reader.pk).values_list("exam_id", flat=True))
        )
        movable = list(pending.exclude(exam_id__in=kept_away | retested).order_by("position"))
        position = queue_end(batch, to_reader.pk)
        for offset, assignment in enumerate(movable):
            _move(assignment, to_reader.pk, position + offset)
        closed = (
            _departed_close(
                locked, from_reader.pk, pending, drafts, kept_away, to_reader.pk, position + len(movable)
            )
            if left
            else (0, 0, 0)
        )
        outcome = {
            "moved": len(movable),
            **_reasons_kept(waiting, held, barred, seen, retested),
            "kept_back": kept_back(
                {to_reader.pk: (barred | seen) & set(waiting)}, {to_reader.pk: to_reader.get_username()}
            ),
            "reader_left": left,
            "drafts_handed_on": closed[0],
            "drafts_kept": 0 if left else len(drafts),
            "set_aside_untaken": closed[1],
            "retests_withdrawn": closed[2],
            "retests_too_close": 0 if left else _retests_too_close(locked, from_reader.pk),
        }
        audit_record(
            actor=actor,
            action="batch.reassign",
            target=batch,
            before={"reader": from_reader.get_username()},
            after={"reader": to_reader.get_username(), **outcome},
        )
    return outcome


def kept_back(excluded: dict[int, set[int]], names: dict[int, str]) -> dict[str, Any]:
    """What the coordinator is told of the exams kept from each reader (selectors.blinding
    kept_back_summary), the reasons asked for the kept exams alone."""
    return kept_back_summary(kept_back_reasons(excluded), names, len(set().union(*excluded.values())))


@dataclass(frozen=True)
class ExamsAdded:
    added: int
    # Matching exams not taken: copies of a waveform the batch holds, or of another matching exam.
    copies_left_out: int
    # The new exams kept from whom, and why (selectors.blinding kept_back_summary).
    kept_back: dict[str, Any]
    # Matching exams not taken for a poor signal, no grade having been asked for.
    poor_left_out: PoorLeftOut = field(default_factory=PoorLeftOut)


def batch_add_matching_exams(
    *, batch: ReviewBatch, criteria: ExamCriteria, actor: User, sample_size: int | None = None, seed: int = 0
) -> ExamsAdded:
    """Add the exams matching the designer's criteria that the batch lacks (all, or a seeded sample).

    A closed batch is refused before the criteria are read: told first that nothing matches, a
    coordinator would change the criteria only to be refused for the batch's state."""
    require_coordinator(actor)
    require_open(batch)
    try:
        exams, copies, poor = exams_to_add(actor, batch, criteria, sample_size=sample_size, seed=seed)
    except BatchPlanError as error:
        raise BatchDesignError(str(error)) from error
    added, kept = _exams_add(
        batch=batch, exams=exams, actor=actor, seed=None, copies_left_out=copies, poor_left_out=poor.exams
    )
    return ExamsAdded(added=added, copies_left_out=copies, kept_back=kept, poor_left_out=poor)


def batch_add_exams(
    *,
    batch: ReviewBatch,
    exams: Sequence[Exam],
    actor: User,
    seed: int | None = None,
    copies_left_out: int = 0,
) -> int:
    """Add exams to a batch; they join the end of the queues, keeping loads within one. `copies_left_out`:
    what the caller's criteria matched but left out as copies, for the audit row."""
    return _exams_add(batch=batch, exams=exams, actor=actor, seed=seed, copies_left_out=copies_left_out)[0]


# The steps are those of a design (readers, loads, exclusions, slots) on a batch that runs, in one
# transaction under the batch lock; each is a call, but the lock and the audit row keep them together.
def _exams_add(
    *,
    batch: ReviewBatch,
    exams: Sequence[Exam],
    actor: User,
    seed: int | None,
    copies_left_out: int,
    poor_left_out: int = 0,
) -> tuple[int, dict[str, Any]]:
    """batch_add_exams, also answering what was kept from whom (ExamsAdded.kept_back)."""
    require_coordinator(actor)
    require_open(batch)
    with transaction.atomic():
        ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        present = set(BatchExam.objects.filter(batch=batch).values_list("exam_id", flat=True))
        new = [exam.pk for exam in exams if exam.pk not in present]
        if not new:
            return 0, kept_back({}, {})
        # The readers still reading: one who left is handed nothing new (their queue stays as it is). The
        # batch's readers, not those holding a slot: one added when nothing was left to move holds none.
        reader_ids = sorted(reading_reader_ids(batch_reader_ids(batch)))
        _enough_readers(batch, len(reader_ids))
        loads = {
            r: Assignment.objects.filter(batch=batch, reader_id=r, read_round=1).count() for r in reader_ids
        }
        # Asked now, not at the batch's design: what its readers read since counts.
        readers = list(get_user_model().objects.filter(pk__in=reader_ids).order_by("pk"))
        excluded, kept = independent_exclusions(readers, new, batch_excludes_seen(batch))
        design = design_batch(
            DesignRequest(
                exam_ids=new,
                reader_ids=reader_ids,
                readers_per_exam=batch.readers_per_exam,
                seed=batch.seed + len(present) if seed is None else seed,
                existing_loads=loads,
                excluded=excluded,
            )
        )
        if design.short_exam_ids:
            raise BatchStateConflict(problems_text(design.problems))
        ends = {reader: queue_end(batch, reader) for reader in reader_ids}
        slots = [(s.exam_id, s.reader_id, ends[s.reader_id] + s.position) for s in design.slots]
        _added_rows_insert(batch, new, slots)
        audit_record(
            actor=actor,
            action="batch.add_exams",
            target=batch,
            after={
                "exams": new,
                "copies_left_out": copies_left_out,
                "poor_left_out": poor_left_out,
                "kept_back": kept,
            },
        )
        transaction.on_commit(lambda: batch_suggestions_enqueue(batch.pk))
    return len(new), kept


def _enough_readers(batch: ReviewBatch, readers: int) -> None:
    """New exams need readers_per_exam readers still reading: say so rather than fail inside the design."""
    if readers >= batch.readers_per_exam:
        return
    still = ngettext(
        "%(n)d reader still reads this batch", "%(n)d readers still read this batch", readers
    ) % {"n": readers}
    raise BatchStateConflict(
        _("%(still)s and each new exam needs %(k)d readers per exam: add readers before adding exams.")
        % {"still": still, "k": batch.readers_per_exam}
    )


def _added_rows_insert(batch: ReviewBatch, exam_ids: list[int], slots: list[tuple[int, int, int]]) -> None:
    """The added exams' rows and their first-read slots (exam, reader, queue position), written as a new
    batch's are (by COPY on PostgreSQL): 1,000 exams x 3 readers through the ORM's INSERT took 0.27 s."""
    rows_insert(
        BatchExam,
        {
            "batch_id": batch.pk,
            "exam_id": np.array(exam_ids, dtype=np.int64),
            "target_reads": batch.readers_per_exam,
            "is_gold": False,
            "needs_adjudication": False,
        },
        len(exam_ids),
    )
    columns = np.array(slots, dtype=np.int64).reshape(-1, 3)
    rows_insert(
        Assignment,
        {
            "batch_id": batch.pk,
            "exam_id": columns[:, 0],
            "reader_id": columns[:, 1],
            "read_round": 1,
            "position": columns[:, 2],
            "status": Assignment.Status.PENDING.value,
            "skip_reason": "",
            "assigned_at": timezone.now(),
        },
        len(columns),
    )


@dataclass(frozen=True)
class ReadersAdded:
    moved: int  # unread exams moved to the newcomers
    gold_added: int  # gold exams given to them, all together (none they may not read)
    # The batch's unread and gold exams kept from the newcomers, and why (kept_back_summary).
    kept_back: dict[str, Any]


def batch_add_readers(*, batch: ReviewBatch, readers: Sequence[Any], actor: User) -> ReadersAdded:
    """Add readers to a running batch by moving unread exams to them until loads are within one."""
    require_coordinator(actor)
    require_open(batch)
    require_readers(readers)
    with transaction.atomic():
        ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        locked = ReviewBatch.objects.get(pk=batch.pk)
        pseudonyms_keep(locked, [r.pk for r in readers])
        everyone = sorted(batch_reader_ids(locked) | {r.pk for r in readers})
        locked.design = {**(locked.design or {}), "reader_ids": everyone}
        locked.save(update_fields=["design"])
        kept = _kept_from_newcomers(locked, readers)
        # Gold first, so the loads the rebalancing evens out count every reader's gold reads alike.
        gold_added = _gold_for_newcomers(locked, [r.pk for r in readers])
        # A reader who left may give unread exams away, never receive one.
        moved = _rebalance(batch, everyone, receivers=reading_reader_ids(everyone))
        audit_record(
            actor=actor,
            action="batch.add_readers",
            target=batch,
            after={
                "readers": sorted(r.get_username() for r in readers),
                "moved": moved,
                "gold_added": gold_added,
                "kept_back": kept,
            },
        )
    return ReadersAdded(moved=moved, gold_added=gold_added, kept_back=kept)


def _kept_from_newcomers(batch: ReviewBatch, readers: Sequence[Any]) -> dict[str, Any]:
    """The batch's unread first reads and gold exams each newcomer may not be handed (a dispute seen;
    unless the batch's independence is off, an exam read, skipped or whose suggestion they saw)."""
    unread = Assignment.objects.filter(batch=batch, status=Assignment.Status.PENDING, read_round=1)
    exam_ids = sorted(set(unread.values_list("exam_id", flat=True)) | set(_gold_ids(batch)))
    ids = [reader.pk for reader in readers]
    seen = batch_seen_elsewhere(batch, ids, exam_ids)
    excluded = {r: exams_reader_barred(r, exam_ids) | seen.get(r, set()) for r in ids}
    return kept_back(excluded, {reader.pk: reader.get_username() for reader in readers})


def _gold_ids(batch: ReviewBatch) -> list[int]:
    return list(
        BatchExam.objects.filter(batch=batch, is_gold=True)
        .order_by("exam_id")
        .values_list("exam_id", flat=True)
    )


def _gold_for_newcomers(batch: ReviewBatch, reader_ids: list[int]) -> int:
    """Every gold exam is read by every reader of the batch (its answer is known: it scores each reader),
    so a reader added later gets each one at the end of their queue, in a seeded order, and the exam's
    target grows by one; never one whose dispute they saw, nor (exclude_seen) one they read elsewhere
    (selectors.blinding)."""
    gold = _gold_ids(batch)
    added = 0
    for reader_id in reader_ids if gold else ():
        held = set(
            Assignment.objects.filter(batch=batch, reader_id=reader_id).values_list("exam_id", flat=True)
        )
        barred = exams_reader_barred(reader_id, gold) | batch_seen_elsewhere(batch, [reader_id], gold).get(
            reader_id, set()
        )
        wanted = [exam_id for exam_id in gold if exam_id not in held and exam_id not in barred]
        random.Random(batch.seed * 1_000_003 + reader_id).shuffle(wanted)
        start = queue_end(batch, reader_id)
        Assignment.objects.bulk_create(
            Assignment(batch=batch, exam_id=exam_id, reader_id=reader_id, read_round=1, position=start + i)
            for i, exam_id in enumerate(wanted)
        )
        BatchExam.objects.filter(batch=batch, exam_id__in=wanted).update(target_reads=F("target_reads") + 1)
        added += len(wanted)
    return added


def _rebalance(batch: ReviewBatch, reader_ids: list[int], receivers: set[int]) -> int:
    """Move unread exams from the most to the least loaded reader while that narrows the gap; never an
    exam the receiving reader holds already, whose dispute they saw or (exclude_seen) that they read
    elsewhere (selectors.blinding), never a
    gold exam, which every reader reads, and never to a reader outside `receivers`."""
    gold = _gold_ids(batch)
    loads = {r: Assignment.objects.filter(batch=batch, reader_id=r).count() for r in reader_ids}
    unread = Assignment.objects.filter(batch=batch, status=Assignment.Status.PENDING, read_round=1)
    unread_ids = list(unread.values_list("exam_id", flat=True))
    seen = batch_seen_elsewhere(batch, reader_ids, unread_ids)
    barred = {r: exams_reader_barred(r, unread_ids) | seen.get(r, set()) for r in reader_ids}
    moved = 0
    while True:
        candidate = None
        for light in sorted(receivers, key=lambda r: (loads[r], r)):
            taken = Assignment.objects.filter(batch=batch, reader_id=light).values("exam_id")
            donors = sorted((r for r in reader_ids if loads[r] - loads[light] > 1), key=lambda r: -loads[r])
            for heavy in donors:
                candidate = (
                    _pending(batch, heavy)
                    .exclude(exam_id__in=_retest_follows(batch, heavy))
                    .exclude(exam_id__in=gold)
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
        _move(candidate, light, queue_end(batch, light))
        loads[heavy] -= 1
        loads[light] += 1
        moved += 1
