"""Who may read or adjudicate an exam, across every batch: the one place the rule lives.

    exam_reader_eligible(user_id, exam_id)       may this user be handed exam X to read?
    exam_adjudicator_eligible(user_id, exam_id)  may this user adjudicate exam X?
    exams_reader_barred(user_id, exam_ids)       which of these exams may the user NOT be handed to read
    readers_barred(reader_ids, exam_id)          which of these users may NOT be handed exam X to read
    reader_barred_pairs(reader_ids, exam_ids)    reader -> exams they may not be handed (for a design)
    design_exclusions(reader_ids, exam_ids, exclude_seen=...)   what a new design keeps from each reader
    readers_seen_before(reader_ids, exam_ids)    reader -> exams read / skipped elsewhere, suggestion seen
    batch_excludes_seen(batch)                   are the batch's reads independent (the default)?
    kept_back_reasons / kept_back_summary        how many exams were kept from whom, and why
    batch_pseudonyms(batch)                      reader id -> "Reader A", ... within one batch

A service that hands a slot to a reader (services.batches) asks exam_reader_eligible or readers_barred
first, and, for a reader new to the batch, calls services.batches.lifecycle.pseudonyms_keep so the
adjudicators' "Reader A/B/C" letters stay where they were.

The rule is per exam, never per batch, because the same exam can sit in several batches and one account
can be both reader and adjudicator:

* nobody adjudicates an exam they hold a read of in any batch (any round, any status: an unread slot is a
  read they will make, and they must make it without having seen the dispute);
* nobody is handed an exam to read whose dispute they saw in any batch: they opened its adjudication case
  (an AdjudicationView row, written when the case is opened or decided) or signed a decision on it;
* one person, one independent read per exam: in a batch whose independence was not turned off (with a
  reason: batch_excludes_seen), nobody is handed an exam they hold a read of, skipped, or were shown the
  model suggestion of, in any batch, a copy of its waveform counting as the exam; asked at each hand-out,
  so reads made after the batch was designed count. A designed retest is the batch's own second read.

Nothing an adjudicator receives names a reader: readers appear as "Reader A, B, C", the same letter on
every exam of the batch (an adjudicator can notice that Reader B marks ST changes generously) without
learning who it is.

Every place that hands out reads (batch creation, adding exams or readers, rebalancing, reassigning,
escalation, handing a skipped slot on) and every adjudication read (queue, case page, API, decision)
asks here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import Combinable, RawSQL
from django.db.models.functions import Coalesce
from django.utils.crypto import salted_hmac

from annotations.models import (
    Adjudication,
    AdjudicationView,
    Assignment,
    DisputedLabel,
    Exam,
    ReviewBatch,
    SuggestionExposure,
)
from annotations.roles import Role
from annotations.selectors.batches.closures import closed_without_read
from annotations.selectors.exams.arrays import query_arrays
from annotations.selectors.exams.copies import copy_links, waveform_firsts

if TYPE_CHECKING:
    from annotations.models import ReviewBatch


def exam_reader_eligible(user_id: int, exam_id: int) -> bool:
    """May this user be handed exam X to read (in any batch)? No once they saw its dispute anywhere."""
    return not exams_reader_barred(user_id, [exam_id])


def exams_reader_barred(user_id: int, exam_ids: Iterable[int] | None = None) -> set[int]:
    """The exams (of `exam_ids`, or all when None) this user must not be handed to read: those whose
    dispute they saw, and every other exam of the same waveform (a copy is the same ECG)."""
    if exam_ids is None:
        seen = _disputes_seen([user_id]).get(user_id, set())
        return seen | set(_copies_standing_for(sorted(seen)))
    return reader_barred_pairs([user_id], exam_ids)[user_id]


def readers_barred(reader_ids: Iterable[int], exam_id: int) -> set[int]:
    """The users (of `reader_ids`) who must not be handed exam X to read: they saw the dispute of X or of
    another exam of its waveform."""
    return {reader for reader, exams in reader_barred_pairs(reader_ids, [exam_id]).items() if exams}


def reader_barred_pairs(reader_ids: Iterable[int], exam_ids: Iterable[int]) -> dict[int, set[int]]:
    """reader id -> the exams (of `exam_ids`) that reader must not be handed; for designing a batch. A
    dispute seen on another exam of the same waveform bars the exam too."""
    reader_ids, exam_ids = list(reader_ids), list(exam_ids)
    barred: dict[int, set[int]] = {reader: set() for reader in reader_ids}
    for reader, exams in _disputes_seen(reader_ids, _among(exam_ids)).items():
        barred[reader] |= exams
    standing_for = _copies_standing_for(exam_ids)
    if standing_for:
        for reader, others in _disputes_seen(reader_ids, list(standing_for)).items():
            for other in others:
                barred[reader].update(standing_for[other])
    return barred


def _disputes_seen(reader_ids: list[int], exam_ids: list[int] | RawSQL | None = None) -> dict[int, set[int]]:
    """reader id -> the exams (of `exam_ids`, or all) whose adjudication case they opened or decided."""
    seen: dict[int, set[int]] = {}
    for model in (AdjudicationView, Adjudication):
        rows = model.objects.filter(adjudicator_id__in=reader_ids)
        if exam_ids is not None:
            rows = rows.filter(exam_id__in=exam_ids)
        for reader, exam in rows.order_by().values_list("adjudicator_id", "exam_id").distinct():
            seen.setdefault(reader, set()).add(exam)
    return seen


def _copies_standing_for(exam_ids: list[int]) -> dict[int, list[int]]:
    """other exam -> the exams of `exam_ids` it holds the same waveform as (Exam.copy_of), for the exams
    whose waveform has another exam. Copies are few, so only they are looked up: at 2.7 million exams
    this reads the copies' partial index, never the exams."""
    links = copy_links()
    if not len(links[0]) or not exam_ids:
        return {}
    ids = np.asarray(exam_ids, dtype=np.int64)
    firsts = waveform_firsts(ids, links)
    copied = np.isin(firsts, links[1]) | np.isin(ids, links[0])  # chosen exams whose waveform has copies
    if not copied.any():
        return {}
    wanted: dict[int, list[int]] = {}
    for exam, first in zip(ids[copied].tolist(), firsts[copied].tolist(), strict=True):
        wanted.setdefault(first, []).append(exam)
    copies, their_firsts = links
    family = {
        int(c): int(f) for c, f in zip(copies.tolist(), their_firsts.tolist(), strict=True) if f in wanted
    }
    family.update({first: first for first in wanted})  # every exam of those waveforms -> its first
    standing_for = {
        other: [exam for exam in wanted[first] if exam != other] for other, first in family.items()
    }
    return {other: exams for other, exams in standing_for.items() if exams}


def _same_waveform(exam_id: int) -> list[int]:
    """The exam, the first exam of its waveform and that one's copies (Exam.copy_of): one ECG, whichever
    dataset or id it was imported under."""
    first = Exam.objects.filter(pk=exam_id).values_list("copy_of_id", flat=True).first() or exam_id
    return sorted({exam_id, first, *Exam.objects.filter(copy_of_id=first).values_list("pk", flat=True)})


def exam_adjudicator_eligible(user_id: int, exam_id: int) -> bool:
    """May this user adjudicate exam X (in any batch)? No if they hold any read of it, or of a copy of its
    waveform under another dataset or id, in any batch (a slot they never opened and never will is no
    read: _held)."""
    slots = Assignment.objects.filter(reader_id=user_id, exam_id__in=_same_waveform(exam_id))
    return not _held(slots).exists()


def exams_no_adjudicator_may_take(batch_id: int) -> list[int]:
    """The batch's exams with a dispute still open that no active adjudicator may take, since each holds
    a read of the exam or of a copy of its waveform (exam_adjudicator_eligible), or no one is an
    adjudicator: they would wait unseen."""
    decided = Adjudication.objects.filter(
        batch_id=OuterRef("batch_id"),
        exam_id=OuterRef("exam_id"),
        diagnostic_class_id=OuterRef("diagnostic_class_id"),
    )
    waiting = sorted(
        set(
            DisputedLabel.objects.filter(batch_id=batch_id)
            .exclude(Exists(decided))
            .values_list("exam_id", flat=True)
        )
    )
    adjudicators = get_user_model().objects.filter(is_active=True, groups__name=Role.ADJUDICATOR.value)
    stuck = set(waiting)
    for adjudicator_id in adjudicators.values_list("pk", flat=True):
        if not stuck:
            break
        # The queue's own rule (adjudicator_may_see): a read of a copy of the waveform counts as a read.
        takeable = DisputedLabel.objects.filter(batch_id=batch_id, exam_id__in=_among(sorted(stuck))).filter(
            adjudicator_may_see(adjudicator_id)
        )
        stuck -= set(takeable.values_list("exam_id", flat=True))
    return sorted(stuck)


def adjudicator_may_see(user_id: int, exam_ref: str = "exam_id") -> Combinable:
    """A query expression, true where the user holds no read of the row's exam in any batch, nor of a copy
    of its waveform (exam_adjudicator_eligible): the adjudication queue filters on it so the rule is applied
    in one query, not row by row. `exam_ref` names the row's exam id field (e.g. "exam_id")."""
    copy_ref = exam_ref.removesuffix("_id") + "__copy_of_id"
    first = Coalesce(OuterRef(copy_ref), OuterRef(exam_ref))  # the first exam of the row's waveform
    held = _held(Assignment.objects.filter(reader_id=user_id))
    return (
        ~Exists(held.filter(exam_id=OuterRef(exam_ref)))
        & ~Exists(held.filter(exam_id=first))
        & ~Exists(held.filter(exam__copy_of_id=first))
    )


def readers_seen_before(reader_ids: Iterable[int], exam_ids: Iterable[int]) -> dict[int, dict[str, set[int]]]:
    """reader id -> {"read": exams (of `exam_ids`) they hold a read of in some batch (read, drafted,
    skipped, or still to read), "skipped": those of them they skipped, "suggested": exams whose model
    suggestion was shown to them}, a copy of the waveform counting as the exam: what the batch designer
    shows per reader, and what an independent batch keeps away from them."""
    reader_ids, exam_ids = list(reader_ids), list(exam_ids)
    seen: dict[int, dict[str, set[int]]] = {
        reader: {"read": set(), "skipped": set(), "suggested": set()} for reader in reader_ids
    }
    for reader, exam in _held_pairs(reader_ids, exam_ids):
        seen[reader]["read"].add(exam)
    for reader, exam in _held_as_copies(reader_ids, exam_ids):
        seen[reader]["read"].add(exam)
    for reader, exam in _skipped_pairs(reader_ids, exam_ids):
        seen[reader]["skipped"].add(exam)
    shown = SuggestionExposure.objects.filter(
        reader_id__in=reader_ids, suggestion__exam_id__in=_among(exam_ids)
    )
    for reader, exam in shown.order_by().values_list("reader_id", "suggestion__exam_id").distinct():
        seen[reader]["suggested"].add(exam)
    standing_for = _copies_standing_for(exam_ids)  # a suggestion seen on a copy was seen on the ECG
    if standing_for:
        copies_shown = SuggestionExposure.objects.filter(
            reader_id__in=reader_ids, suggestion__exam_id__in=list(standing_for)
        )
        for reader, other in (
            copies_shown.order_by().values_list("reader_id", "suggestion__exam_id").distinct()
        ):
            seen[reader]["suggested"].update(standing_for[other])
    return seen


# Past this many exams, the readers' held slots are read whole and matched to the exams in numpy. Asked
# by exam, PostgreSQL plans the array as 200 exams and probes the slot index once per exam: 0.21 s for a
# design of 100,000 exams at 2.7M with three readers, where reading those readers' 358k slots took
# 0.15 s. A reader holds what one person can read (tens of thousands), a design may choose millions.
MANY_EXAMS = 20_000


def _held_pairs(reader_ids: list[int], exam_ids: list[int]) -> set[tuple[int, int]]:
    """(reader, exam of `exam_ids`) for each slot of the exam a reader holds (_held)."""
    slots = _held(Assignment.objects.filter(reader_id__in=reader_ids)).order_by()
    if connection.vendor != "postgresql" or len(exam_ids) <= MANY_EXAMS:
        return set(slots.filter(exam_id__in=_among(exam_ids)).values_list("reader_id", "exam_id").distinct())
    sql, params = slots.values("reader_id", "exam_id").query.sql_with_params()
    readers, exams = query_arrays(sql, params, [("reader_id", "int8", ">i8"), ("exam_id", "int8", ">i8")])
    wanted = np.isin(exams, np.asarray(exam_ids, dtype=np.int64))
    return set(zip(readers[wanted].tolist(), exams[wanted].tolist(), strict=True))


def _held(slots: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """The slots a reader knows their exam by: read, drafted or skipped, or still to read. A slot left
    unopened in a closed batch is none of these (a batch closed early and designed again on what it left
    unread must not keep its readers away from exams they never saw), nor is a slot the system closed
    before its reader saved anything (set aside when they left the reading, a retest withdrawn): those
    readers may read the exam elsewhere, or adjudicate it. The one exam on screen when the batch closed,
    opened but not saved, leaves no trace and cannot be counted.

    The closed batches are a subquery, read once as a set, not a join: the batch table is small and
    seldom analysed, and planned as one batch where it held 41, a join looped over the batches and probed
    each of 100,000 chosen exams once per batch (the designer's preview 4.9-5.7 s instead of 0.45 s)."""
    closed = ReviewBatch.objects.filter(status=ReviewBatch.Status.CLOSED).values("pk")
    return slots.exclude(status=Assignment.Status.PENDING, batch_id__in=closed).exclude(
        closed_without_read() & Q(started_at__isnull=True)
    )


def _skipped_pairs(reader_ids: list[int], exam_ids: list[int]) -> set[tuple[int, int]]:
    """(reader, exam of `exam_ids`) where the reader skipped the exam, or a copy of its waveform, in some
    batch: their own skip, never a slot the system closed. Skips are few, so all of the readers' are read
    and matched here."""
    skipped = (
        Assignment.objects.filter(reader_id__in=reader_ids, status=Assignment.Status.SKIPPED)
        .exclude(closed_without_read())
        .order_by()
        .values_list("reader_id", "exam_id")
        .distinct()
    )
    pairs = list(skipped)
    if not pairs:
        return set()
    wanted = set(exam_ids)
    standing_for = _copies_standing_for(sorted(wanted))
    found = set()
    for reader, exam in pairs:
        if exam in wanted:
            found.add((reader, exam))
        found.update((reader, other) for other in standing_for.get(exam, ()))
    return found


def _held_as_copies(reader_ids: list[int], exam_ids: list[int]) -> list[tuple[int, int]]:
    """(reader, exam of `exam_ids`) where the reader holds a read of another exam of the same waveform (the
    same ECG under another dataset or id: Exam.copy_of)."""
    standing_for = _copies_standing_for(exam_ids)
    if not standing_for:
        return []
    held = _held(Assignment.objects.filter(reader_id__in=reader_ids, exam_id__in=list(standing_for)))
    pairs: set[tuple[int, int]] = set()
    for reader, other in held.order_by().values_list("reader_id", "exam_id").distinct():
        pairs.update((reader, exam) for exam in standing_for[other])
    return sorted(pairs)


def _among(exam_ids: list[int]) -> list[int] | RawSQL:
    """`exam_ids` for an __in lookup. On PostgreSQL one array parameter: a designed batch asks about
    every chosen exam, and 100,000 literals in an IN list cost a second or more to send and parse per
    query, even against an empty table. The array goes as its text form, joined here: the driver's own
    list adapter took 0.1 to 0.3 s per query on 100,000 ids, the joined text a few hundredths."""
    if connection.vendor != "postgresql":
        return exam_ids
    return RawSQL("SELECT unnest(%s::bigint[])", ("{" + ",".join(map(str, map(int, exam_ids))) + "}",))


def design_exclusions(
    reader_ids: Iterable[int],
    exam_ids: Iterable[int],
    *,
    exclude_seen: bool = True,
    barred: dict[int, set[int]] | None = None,
    seen: dict[int, dict[str, set[int]]] | None = None,
) -> dict[int, set[int]]:
    """reader id -> exams a new design must not hand them: always those whose dispute they saw; unless
    independence was turned off (exclude_seen False), also those they read, skipped or were shown the
    suggestion of elsewhere. `barred` and `seen`, what reader_barred_pairs and readers_seen_before answered
    for the same readers and exams, spare asking again (each is a query over every chosen exam: 100,000 of
    them in a large batch)."""
    reader_ids, exam_ids = list(reader_ids), list(exam_ids)
    barred = reader_barred_pairs(reader_ids, exam_ids) if barred is None else barred
    excluded = {reader: set(barred.get(reader, ())) for reader in reader_ids}
    if exclude_seen:
        seen = readers_seen_before(reader_ids, exam_ids) if seen is None else seen
        for reader in reader_ids:
            excluded[reader] |= seen[reader]["read"] | seen[reader]["suggested"]
    return {reader: exams for reader, exams in excluded.items() if exams}


def batch_excludes_seen(batch: ReviewBatch) -> bool:
    """Are the batch's reads independent: does every hand-out of it (design, added exams or readers,
    reassign, rebalance, escalation, hand-on) keep each reader from exams they read, skipped or saw the
    suggestion of elsewhere? Yes unless its design turned that off with a reason: a batch whose design
    says nothing, or says off without a reason (made when off was the default and needed none), is
    independent (migration 0038 also wrote the choice into those designs)."""
    design = batch.design or {}
    return (
        design.get("exclude_seen") is not False
        or not str(design.get("independence_off_reason") or "").strip()
    )


def batch_seen_elsewhere(
    batch: ReviewBatch, reader_ids: Iterable[int], exam_ids: Iterable[int]
) -> dict[int, set[int]]:
    """reader id -> the exams (of `exam_ids`) the batch's independence keeps from that reader (read,
    skipped or its suggestion seen in some batch); empty for a batch whose independence was turned off."""
    reader_ids = list(reader_ids)
    if not batch_excludes_seen(batch) or not reader_ids:
        return {}
    seen = readers_seen_before(reader_ids, exam_ids)
    return {reader: seen[reader]["read"] | seen[reader]["suggested"] for reader in reader_ids}


# Why an exam was kept back from a reader, first reason first: each kept exam is counted under one.
KEPT_REASONS = ("saw_dispute", "read_before", "skipped_after_opening", "saw_suggestion")


def kept_back_reasons(
    excluded: dict[int, set[int]],
    *,
    barred: dict[int, set[int]] | None = None,
    seen: dict[int, dict[str, set[int]]] | None = None,
) -> dict[int, dict[str, int]]:
    """reader id -> reason (KEPT_REASONS) -> how many of the exams `excluded` keeps from that reader it
    keeps for that reason; `barred` and `seen` as design_exclusions took them, asked again (for the kept
    exams alone) when not given."""
    readers = [reader for reader, exams in excluded.items() if exams]
    if barred is None or seen is None:
        kept = sorted(set().union(*excluded.values())) if readers else []
        barred = reader_barred_pairs(readers, kept) if barred is None else barred
        seen = readers_seen_before(readers, kept) if seen is None else seen
    counts = {}
    for reader in readers:
        known = seen.get(reader, {})
        read, skipped = known.get("read", set()), known.get("skipped", set())
        reasons = dict.fromkeys(KEPT_REASONS, 0)
        for exam in excluded[reader]:
            if exam in barred.get(reader, ()):
                reasons["saw_dispute"] += 1
            elif exam in skipped:
                reasons["skipped_after_opening"] += 1
            elif exam in read:
                reasons["read_before"] += 1
            else:
                reasons["saw_suggestion"] += 1
        counts[reader] = reasons
    return counts


def kept_back_summary(
    reasons: dict[int, dict[str, int]], names: dict[int, str], exams: int
) -> dict[str, Any]:
    """What the coordinator is told (page, API, audit): `exams` kept from at least one reader, the
    reader-exam pairs kept per reason, and per reader (by name) how many and why."""
    by_reason = {reason: sum(row[reason] for row in reasons.values()) for reason in KEPT_REASONS}
    by_reader = [
        {"reader": names.get(reader, str(reader)), "exams": sum(row.values()), **row}
        for reader, row in sorted(reasons.items(), key=lambda item: names.get(item[0], ""))
        if sum(row.values())
    ]
    return {"exams": exams, "by_reason": by_reason, "by_reader": by_reader}


def reads_known_before(batch: ReviewBatch) -> set[tuple[int, int]]:
    """(reader, exam) of the batch's submitted first reads whose reader had already read, opened (a draft
    or a skip of their own) or been shown the suggestion of the exam, or of a copy of its waveform, in
    another batch before submitting here: two reads of one ECG by one person, which only a batch whose
    independence was off (or another batch's, made later) lets happen. Agreement marks the reader pairs
    that include them; its figures stay as computed."""
    mine = dict(
        (
            ((reader, exam), submitted)
            for reader, exam, submitted in Assignment.objects.filter(
                batch=batch, read_round=1, status=Assignment.Status.SUBMITTED
            ).values_list("reader_id", "exam_id", "submitted_at")
        )
    )
    if not mine:
        return set()
    readers, exams = sorted({r for r, _ in mine}), sorted({e for _, e in mine})
    standing_for = _copies_standing_for(exams)
    wanted = [*exams, *standing_for]
    first: dict[tuple[int, int], datetime] = {}

    def saw(reader: int, exam: int, when: datetime | None) -> None:
        for target in (exam, *standing_for.get(exam, ())):
            if (reader, target) in mine and when is not None:
                key = (reader, target)
                first[key] = min(first.get(key, when), when)

    elsewhere = (
        Assignment.objects.filter(reader_id__in=readers, exam_id__in=_among(wanted))
        .exclude(batch=batch)
        .exclude(closed_without_read() & Q(started_at__isnull=True))
        .order_by()
    )
    for reader, exam, started, submitted, skipped in elsewhere.values_list(
        "reader_id", "exam_id", "started_at", "submitted_at", "skipped_at"
    ):
        saw(reader, exam, min((t for t in (started, submitted, skipped) if t is not None), default=None))
    shown = SuggestionExposure.objects.filter(reader_id__in=readers, suggestion__exam_id__in=_among(wanted))
    for reader, exam, when in shown.exclude(assignment__batch=batch).values_list(
        "reader_id", "suggestion__exam_id", "shown_at"
    ):
        saw(reader, exam, when)
    return {key for key, when in first.items() if (submitted := mine[key]) is not None and when < submitted}


# --- Pseudonyms -------------------------------------------------------------------------------------
def pseudonym(index: int) -> str:
    """Reader A ... Reader Z, then Reader 27, 28, ... (a batch rarely has more than a handful)."""
    return f"Reader {chr(ord('A') + index)}" if index < 26 else f"Reader {index + 1}"


def _first_read_holders(batch: ReviewBatch) -> set[int]:
    return set(
        Assignment.objects.filter(batch=batch, read_round=1)
        .order_by()
        .values_list("reader_id", flat=True)
        .distinct()
    )


def pseudonym_order(
    batch: ReviewBatch, extra: Iterable[int] = (), holders: set[int] | None = None
) -> list[int]:
    """The batch's readers in letter order: the order fixed in its design when it was created (and
    extended as readers joined), then anyone else holding a first read, and `extra`, by keyed draw."""
    stored = [int(r) for r in (batch.design or {}).get("pseudonym_order", [])]
    holders = _first_read_holders(batch) if holders is None else holders
    rest = (holders | set(extra)) - set(stored)
    return stored + sorted(rest, key=lambda reader_id: _draw(batch.pk, reader_id))


def batch_pseudonyms(batch: ReviewBatch) -> dict[int, str]:
    """user id -> pseudonym of everyone who holds a first read of the batch, in letter order.

    The letters are dealt in an order drawn from a keyed hash (SECRET_KEY) of the batch and the reader:
    different from batch to batch, and unrelated to when the accounts were made (lettered by user id,
    "Reader A" would be whoever joined first, which colleagues know). The order is fixed in the batch's
    design when it is created, and readers who join later (added, handed a reassigned queue) are dealt
    the next letters, so a letter never moves to another reader once an adjudicator may have seen it.
    A reader of the design who holds no read yet keeps their letter unused meanwhile.
    """
    holders = _first_read_holders(batch)
    order = pseudonym_order(batch, holders=holders)
    return {reader_id: pseudonym(i) for i, reader_id in enumerate(order) if reader_id in holders}


def _draw(batch_id: int, reader_id: int) -> bytes:
    return salted_hmac("annotations.pseudonyms", f"{batch_id}:{reader_id}", algorithm="sha256").digest()
