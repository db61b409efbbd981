"""Reads for agreement and adjudication: the batch's reads as one numpy array, pseudonyms, the
adjudication queue and what an adjudicator may see of an exam.

Blinding: nothing an adjudicator receives from here names a reader. Readers appear as "Reader A, B, C",
lettered by sorted user id within the batch, so the same reader is the same letter on every exam of the
batch (an adjudicator can notice that Reader B marks ST changes generously) without learning who it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils.crypto import salted_hmac

from annotations.errors import Forbidden, NotFound
from annotations.lib.stats import MISSING
from annotations.models import (
    Adjudication,
    AgreementResult,
    Annotation,
    AnnotationLabel,
    Assignment,
    BatchExam,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
    Exam,
    ReviewBatch,
    Suggestion,
    SuggestionScore,
)
from annotations.roles import Role, has_role
from annotations.selectors.blinding import adjudicator_may_see, exam_adjudicator_eligible


def _first_reads(batch_id: int):
    """Submitted current first-round reads: what agreement is computed from (retests measure a reader
    against themself and are kept out; a two-stage read counts once, by its current annotation)."""
    return Annotation.objects.filter(
        assignment__batch_id=batch_id,
        assignment__read_round=1,
        assignment__status=Assignment.Status.SUBMITTED,
        is_current=True,
        status=Annotation.Status.SUBMITTED,
    )


@dataclass(frozen=True)
class ReadsSnapshot:
    """``reads[r, e, c]`` with the ids its axes stand for."""

    reads: np.ndarray
    reader_ids: list[int]
    exam_ids: list[int]
    class_ids: list[int]
    class_codes: list[str]
    class_names: list[str]
    read_count: int
    latest_submission_at: datetime | None
    escalated_exam_ids: set[int] = field(default_factory=set)


def batch_reads_snapshot(batch: ReviewBatch) -> ReadsSnapshot:
    """The batch's first reads as an int8 array, in three flat queries (reads, labels, classes).

    Never a row-by-row walk over annotation objects: the label query returns (reader, exam, class) id
    triples that numpy scatters into the array in one step, so 100,000 exams cost one result set.
    """
    reads = list(
        _first_reads(batch.pk)
        .order_by()
        .values_list("assignment__reader_id", "assignment__exam_id", "submitted_at")
    )
    labels = list(
        AnnotationLabel.objects.filter(annotation__in=_first_reads(batch.pk))
        .order_by()
        .values_list(
            "annotation__assignment__reader_id", "annotation__assignment__exam_id", "diagnostic_class_id"
        )
    )
    classes = list(
        DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id)
        .order_by("position")
        .values_list("pk", "code", "name")
    )
    class_ids = [c for c, _, _ in classes]
    read_pairs = np.array([(r, e) for r, e, _ in reads], dtype=np.int64).reshape(-1, 2)
    triples = np.array(labels, dtype=np.int64).reshape(-1, 3)
    readers_axis = np.unique(read_pairs[:, 0])
    exams_axis = np.unique(read_pairs[:, 1])
    classes_axis = np.array(class_ids, dtype=np.int64)
    array = np.full((len(readers_axis), len(exams_axis), len(class_ids)), MISSING, dtype=np.int8)
    # Ids to axis positions by binary search over the sorted axes: no Python loop over cells.
    array[
        np.searchsorted(readers_axis, read_pairs[:, 0]), np.searchsorted(exams_axis, read_pairs[:, 1]), :
    ] = 0
    if len(triples):
        order = np.argsort(classes_axis)
        class_pos = order[np.searchsorted(classes_axis, triples[:, 2], sorter=order)]
        # "Uncertain" still means the reader marked it: it counts as a positive read.
        array[
            np.searchsorted(readers_axis, triples[:, 0]),
            np.searchsorted(exams_axis, triples[:, 1]),
            class_pos,
        ] = 1
    reader_ids = readers_axis.tolist()
    exam_ids = exams_axis.tolist()
    escalated = set(
        BatchExam.objects.filter(batch=batch, needs_adjudication=True).values_list("exam_id", flat=True)
    )
    return ReadsSnapshot(
        reads=array,
        reader_ids=reader_ids,
        exam_ids=exam_ids,
        class_ids=class_ids,
        class_codes=[code for _, code, _ in classes],
        class_names=[name for _, _, name in classes],
        read_count=len(reads),
        latest_submission_at=max((at for _, _, at in reads if at is not None), default=None),
        escalated_exam_ids=escalated,
    )


def batch_read_state(batch_id: int) -> tuple[int, datetime | None]:
    """(submitted first reads, latest submission time): what an AgreementResult is checked against."""
    state = _first_reads(batch_id).aggregate(n=Count("pk"), latest=Max("submitted_at"))
    return state["n"], state["latest"]


def batches_with_stale_agreement() -> list[int]:
    """Batches whose reads moved on since their agreement was computed (or that never had one)."""
    reads = Annotation.objects.filter(
        assignment__read_round=1,
        assignment__status=Assignment.Status.SUBMITTED,
        is_current=True,
        status=Annotation.Status.SUBMITTED,
    )
    rows = (
        ReviewBatch.objects.exclude(status=ReviewBatch.Status.DRAFT)
        .annotate(
            n=Count("assignments__annotations", filter=Q(assignments__annotations__in=reads)),
            latest=Max(
                "assignments__annotations__submitted_at", filter=Q(assignments__annotations__in=reads)
            ),
        )
        .filter(n__gt=0)
        .values_list("pk", "n", "latest", "agreement__read_count", "agreement__latest_submission_at")
    )
    return [pk for pk, n, latest, seen, seen_latest in rows if (n, latest) != (seen, seen_latest)]


# --- Pseudonyms -------------------------------------------------------------------------------------
def pseudonym(index: int) -> str:
    """Reader A ... Reader Z, then Reader 27, 28, ... (a batch rarely has more than a handful)."""
    return f"Reader {chr(ord('A') + index)}" if index < 26 else f"Reader {index + 1}"


def _first_read_holders(batch: ReviewBatch) -> set[int]:
    return set(
        Assignment.objects.filter(batch=batch, read_round=1).values_list("reader_id", flat=True).distinct()
    )


def pseudonym_order(batch: ReviewBatch, extra=()) -> list[int]:
    """The batch's readers in letter order: the order fixed in its design when it was created (and
    extended as readers joined), then anyone else holding a first read, and `extra`, by keyed draw."""
    stored = [int(r) for r in (batch.design or {}).get("pseudonym_order", [])]
    rest = (_first_read_holders(batch) | set(extra)) - set(stored)
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
    order = pseudonym_order(batch)
    return {reader_id: pseudonym(i) for i, reader_id in enumerate(order) if reader_id in holders}


def _draw(batch_id: int, reader_id: int) -> bytes:
    return salted_hmac("annotations.pseudonyms", f"{batch_id}:{reader_id}", algorithm="sha256").digest()


# --- Coordinator view ----------------------------------------------------------------------------------
def agreement_for_coordinator(user, batch_id: int) -> tuple[ReviewBatch, AgreementResult | None]:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    try:
        batch = ReviewBatch.objects.select_related("taxonomy").get(pk=batch_id)
    except ReviewBatch.DoesNotExist:
        raise NotFound("no such batch") from None
    return batch, AgreementResult.objects.filter(batch=batch).first()


def consensus_method_counts(batch: ReviewBatch) -> dict[str, int]:
    rows = Consensus.objects.filter(batch=batch).values("method").annotate(n=Count("pk")).order_by()
    return {row["method"]: row["n"] for row in rows}


# --- Adjudication ------------------------------------------------------------------------------------
def _require_adjudicator(user) -> None:
    if not has_role(user, Role.ADJUDICATOR):
        raise Forbidden


@dataclass(frozen=True)
class QueueItem:
    batch_id: int
    batch_name: str
    exam_id: int
    exam_label: str
    open_classes: int
    escalated: bool


def adjudication_queue(user) -> list[QueueItem]:
    """Exams with disputed classes not yet adjudicated, oldest batch first; none the user reads in any
    batch."""
    _require_adjudicator(user)
    decided = Adjudication.objects.filter(
        batch_id=OuterRef("batch_id"),
        exam_id=OuterRef("exam_id"),
        diagnostic_class_id=OuterRef("diagnostic_class_id"),
    )
    open_disputes = (
        # Closed batches too: reading is over, but their disputes still need deciding.
        DisputedLabel.objects.exclude(batch__status=ReviewBatch.Status.DRAFT)
        # Not an exam the user holds a read of in any batch (selectors.blinding).
        .filter(adjudicator_may_see(user.pk))
        .filter(~Exists(decided))
        .values("batch_id", "batch__name", "exam_id", "exam__dataset__name", "exam__external_id")
        .annotate(n=Count("pk"), escalated=Count("pk", filter=Q(reason=DisputedLabel.Reason.ESCALATED)))
        .order_by("batch_id", "exam_id")
    )
    return [
        QueueItem(
            batch_id=row["batch_id"],
            batch_name=row["batch__name"],
            exam_id=row["exam_id"],
            exam_label=f"{row['exam__dataset__name']}/{row['exam__external_id']}",
            open_classes=row["n"],
            escalated=row["escalated"] > 0,
        )
        for row in open_disputes
    ]


@dataclass(frozen=True)
class DisputedClass:
    class_id: int
    code: str
    name: str
    reason: str
    votes: list[tuple[str, bool]]  # (pseudonym, marked), in pseudonym order
    positive_votes: int
    total_votes: int
    probability: float | None
    suggestion_score: float | None
    decided_value: bool | None
    decided_rationale: str
    uncertain: list[str] = field(default_factory=list)  # pseudonyms who marked it present but uncertain


@dataclass(frozen=True)
class AdjudicationCase:
    batch: ReviewBatch
    exam: Exam
    disputed: list[DisputedClass]
    agreed: list[tuple[str, str, str]]  # (code, name, method) of classes agreed present
    version: int
    suggestion_provider: str | None
    # Readers' comments and uncertainty marks, by pseudonym (selectors.adjudication_evidence.ReaderNote).
    readers: list = field(default_factory=list)
    added: list[dict] = field(default_factory=list)  # statements an adjudicator added: code, name, value
    addable: list[dict] = field(default_factory=list)  # statements no reader marked: code, name
    # Every signed decision, newest first (selectors.adjudication_evidence.SignedDecision).
    history: list = field(default_factory=list)


def adjudication_case(user, batch_id: int, exam_id: int) -> AdjudicationCase:
    """What the adjudicator sees of one exam: its disputed classes with pseudonymous votes. 404 when the
    exam has nothing disputed in the batch or when the adjudicator holds a read of it in any batch (the
    same answer, so the page does not confirm which exams they read)."""
    _require_adjudicator(user)
    batch = ReviewBatch.objects.select_related("taxonomy").filter(pk=batch_id).first()
    if batch is None or not exam_adjudicator_eligible(user.pk, exam_id):
        raise NotFound("nothing to adjudicate here")
    disputes = list(
        DisputedLabel.objects.filter(batch=batch, exam_id=exam_id)
        .select_related("diagnostic_class")
        .order_by("diagnostic_class__position")
    )
    if not disputes:
        raise NotFound("nothing to adjudicate here")
    exam = Exam.objects.select_related("dataset").get(pk=exam_id)
    names = batch_pseudonyms(batch)
    reads = _first_reads(batch.pk).filter(assignment__exam_id=exam_id)
    read_by = dict(reads.values_list("assignment__reader_id", "pk"))
    marked = set(
        AnnotationLabel.objects.filter(annotation__in=reads).values_list(
            "annotation__assignment__reader_id", "diagnostic_class_id"
        )
    )
    letter_order = {reader_id: i for i, reader_id in enumerate(names)}  # Reader A, B, ..., Z, 27, ...
    readers = sorted(read_by, key=lambda r: letter_order.get(r, len(letter_order)))
    decisions = {a.diagnostic_class_id: a for a in Adjudication.objects.filter(batch=batch, exam_id=exam_id)}
    suggestion = (
        Suggestion.objects.filter(exam_id=exam_id, status=Suggestion.Status.OK)
        .order_by("-computed_at", "-id")
        .first()
    )
    scores = (
        dict(
            SuggestionScore.objects.filter(suggestion=suggestion).values_list("diagnostic_class_id", "score")
        )
        if suggestion
        else {}
    )
    # Local import: that module builds on this one's read filters.
    from annotations.selectors.adjudication import (
        exam_addable_statements,
        exam_added_statements,
        exam_decision_history,
        exam_reader_notes,
    )

    notes, unsure = exam_reader_notes(batch.pk, exam_id, names)
    disputed = [
        DisputedClass(
            class_id=d.diagnostic_class_id,
            code=d.diagnostic_class.code,
            name=d.diagnostic_class.name,
            reason=d.reason,
            votes=[(names.get(r, "Reader ?"), (r, d.diagnostic_class_id) in marked) for r in readers],
            positive_votes=d.positive_votes,
            total_votes=d.total_votes,
            probability=d.probability,
            suggestion_score=scores.get(d.diagnostic_class_id),
            decided_value=decisions[d.diagnostic_class_id].value
            if d.diagnostic_class_id in decisions
            else None,
            decided_rationale=decisions[d.diagnostic_class_id].rationale
            if d.diagnostic_class_id in decisions
            else "",
            uncertain=unsure.get(d.diagnostic_class_id, []),
        )
        for d in disputes
    ]
    disputed_ids = {d.class_id for d in disputed}
    agreed = [
        (c.diagnostic_class.code, c.diagnostic_class.name, c.get_method_display())
        for c in Consensus.objects.filter(batch=batch, exam_id=exam_id, value=True)
        .exclude(diagnostic_class_id__in=disputed_ids)
        .select_related("diagnostic_class")
        .order_by("diagnostic_class__position")
    ]
    version = max((a.version for a in decisions.values()), default=0)
    return AdjudicationCase(
        batch=batch,
        exam=exam,
        disputed=disputed,
        agreed=agreed,
        version=version,
        suggestion_provider=f"{suggestion.provider} {suggestion.provider_version}" if suggestion else None,
        readers=notes,
        added=exam_added_statements(batch, exam_id),
        addable=exam_addable_statements(batch, exam_id),
        history=exam_decision_history(batch.pk, exam_id),
    )


def exam_for_adjudicator(user, batch_id: int, exam_id: int) -> Exam:
    """The exam, for its waveform: only where the adjudicator has something to decide (else 404)."""
    return adjudication_case(user, batch_id, exam_id).exam


# --- Coordinator dashboard -----------------------------------------------------------------------------
def _sort_key(row: dict) -> tuple:
    kappa = row.get("fleiss_kappa")
    return (kappa is None, -(kappa or 0.0), row["code"])


def kappa_colour(value: float | None) -> str:
    """A background for a kappa cell: white at 0 or below, deep green at 1, grey when undefined."""
    if value is None:
        return "#eeeeee"
    share = max(0.0, min(1.0, value))
    red, green, blue = (round(255 - share * (255 - c)) for c in (26, 127, 55))
    return f"#{red:02x}{green:02x}{blue:02x}"


def agreement_dashboard(result: AgreementResult) -> dict:
    """The stored result arranged for the page and the CSV: classes sorted by Fleiss' kappa (undefined
    last), readers named (coordinators may see who read), and the reader x reader matrix with colours."""
    from django.contrib.auth import get_user_model

    data = result.results or {}
    reader_ids = data.get("reader_ids", [])
    names = dict(get_user_model().objects.filter(pk__in=reader_ids).values_list("pk", "username"))
    readers = [{**row, "username": names.get(row["reader_id"], "?")} for row in data.get("readers", [])]
    pairs = data.get("pairs", {"mean_kappa": [], "exams_in_common": []})
    matrix = [
        {
            "username": names.get(reader_id, "?"),
            "cells": [
                {"kappa": kappa, "shared": shared, "colour": kappa_colour(kappa)}
                for kappa, shared in zip(kappa_row, shared_row, strict=True)
            ],
        }
        for reader_id, kappa_row, shared_row in zip(
            reader_ids, pairs["mean_kappa"], pairs["exams_in_common"], strict=True
        )
    ]
    classes = sorted((row for row in data.get("classes", []) if row["positive_reads"] > 0), key=_sort_key)
    never_marked = sum(1 for row in data.get("classes", []) if row["positive_reads"] == 0)
    return {
        "classes": classes,
        "all_classes": sorted(data.get("classes", []), key=_sort_key),
        "never_marked": never_marked,
        "readers": readers,
        "matrix": matrix,
        "exams": data.get("exams", {}),
        "consensus_rule": data.get("consensus", {}),
        "consensus_summary": consensus_summary(data),
        "bootstrap": data.get("bootstrap", {}),
        **reader_tables(data, readers, names),
    }


def reader_tables(data: dict, readers: list[dict], names: dict[int, str]) -> dict:
    """The reader x class table (outliers first) and whether gold or retest figures exist."""
    pseudonyms = {row["reader_id"]: row.get("pseudonym", "") for row in data.get("readers", [])}
    rows = [
        {
            **row,
            "username": names.get(row["reader_id"], "?"),
            "pseudonym": pseudonyms.get(row["reader_id"], ""),
        }
        for row in data.get("reader_classes", [])
    ]
    return {
        "usernames": names,
        "reader_classes": sorted(rows, key=lambda r: (not r["outlier"], r["reference"], r["username"])),
        "outliers": [row for row in rows if row["outlier"]],
        "references": data.get("references", []),
        "has_quality": any(
            row.get("gold_exams") is not None or row.get("retest_exams") is not None for row in readers
        ),
    }


def consensus_summary(data: dict) -> dict:
    """How consensus was reached, as stored with the result: the latent fit (prior, convergence,
    iterations), disputes by reason, and the exams with too few reads for any consensus, named."""
    summary = data.get("consensus_summary") or {}
    thin = summary.get("insufficient_exams", [])
    exams = {
        pk: (dataset, external_id)
        for pk, dataset, external_id in Exam.objects.filter(pk__in=[e for e, _ in thin]).values_list(
            "pk", "dataset__name", "external_id"
        )
    }
    return {
        "min_reads": summary.get("min_reads"),
        "insufficient_exams": [
            {
                "exam_id": exam_id,
                "dataset": exams.get(exam_id, ("", ""))[0],
                "external_id": exams.get(exam_id, ("", ""))[1],
                "reads": reads,
            }
            for exam_id, reads in thin
        ],
        "latent": summary.get("latent"),
        "disputes": summary.get("disputes", {}),
    }
