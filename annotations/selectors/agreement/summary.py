"""Reads for agreement: the batch's reads as one numpy array, whether its stored result is stale, and the
coordinator's dashboard. What an adjudicator sees is in selectors.adjudication; the readers' pseudonyms
("Reader A, B, C") are in selectors.blinding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

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
)
from annotations.roles import Role, has_role
from annotations.selectors.agreement.rereads import agreement_rereads
from annotations.selectors.exams.arrays import sent, unpacked
from annotations.selectors.taxonomy import qualifier_label

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _first_reads(batch_id: int) -> QuerySet[Annotation]:
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
    # [e, c]: the adjudicator's value (1 or 0) of each decided cell, MISSING elsewhere; None: none decided.
    adjudicated: np.ndarray | None = None
    # [r, e]: True where the read is an escalation's extra read (Assignment.escalated); None: there is none.
    extra: np.ndarray | None = None
    # [r, e, c]: True where the reader marked the class uncertain; None: no mark is.
    uncertain: np.ndarray | None = None

    @property
    def extra_read_count(self) -> int:
        """Extra reads in ``reads``: they go only to exams whose reads disagreed, so they feed the
        consensus but are left out of agreement (designed())."""
        if self.extra is None:
            return 0
        return int((self.extra & (self.reads != MISSING).any(axis=2)).sum())

    def designed(self) -> ReadsSnapshot:
        """The snapshot of the designed first reads alone, on the same axes (a reader who only read
        extras keeps an empty row): what agreement is computed from. Counting an extra read, which only
        a disputed exam gets, as an ordinary one raised a simulated Fleiss' kappa from .59 to .63."""
        if not self.extra_read_count or self.extra is None:
            return self
        reads = np.where(self.extra[:, :, None], np.int8(MISSING), self.reads).astype(np.int8)
        return replace(self, reads=reads, extra=None)

    def without_exams(self, exam_ids: set[int]) -> ReadsSnapshot:
        """The snapshot without those exams' columns, on the same readers and classes (a reader who read
        only those keeps an empty row)."""
        keep = np.array([e not in exam_ids for e in self.exam_ids], dtype=bool)
        if keep.all():
            return self

        def cut(array: np.ndarray | None, axis: int) -> np.ndarray | None:
            return None if array is None else np.compress(keep, array, axis=axis)

        return replace(
            self,
            reads=np.compress(keep, self.reads, axis=1),
            exam_ids=[e for e, k in zip(self.exam_ids, keep, strict=True) if k],
            escalated_exam_ids=self.escalated_exam_ids - exam_ids,
            adjudicated=cut(self.adjudicated, 0),
            extra=cut(self.extra, 1),
            uncertain=cut(self.uncertain, 1),
        )


def _reads_array(
    read_pairs: np.ndarray, triples: np.ndarray, class_ids: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reads[r, e, c], reader axis, exam axis) from (reader, exam) pairs read and (reader, exam, class)
    triples marked: 0 where read, 1 where marked, MISSING where never read."""
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
    return array, readers_axis, exams_axis


def _arrays(
    sql: str, params: Sequence[Any], columns: list[tuple[str, str, str]], extra: tuple[str, ...] = ()
) -> tuple[Any, ...]:
    """The integer columns (name, SQL type, numpy type) of a PostgreSQL query as int64 arrays, unordered,
    then the values of the `extra` aggregates over the same rows, all from one query: each column comes
    as one packed value (selectors.exams.arrays). The 300,000 reads and 450,000 labels of a 100,000-exam
    batch as Python tuples held 100 MB that the worker kept after the computation."""
    packed = [sent(f'q."{name}"', kind) for name, kind, _ in columns]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join([*packed, *extra])} FROM ({sql}) q", params)  # noqa: S608
        found = cursor.fetchone()
    out = [unpacked(value, kind).astype(np.int64) for value, (*_, kind) in zip(found, columns, strict=False)]
    return (*out, *found[len(columns) :])


def _read_pairs(batch: ReviewBatch) -> tuple[np.ndarray, int, datetime | None, np.ndarray]:
    """(reader, exam) of every first read, how many, the latest submission, and which of them are an
    escalation's extra reads (Assignment.escalated), in the same query."""
    reads = (
        _first_reads(batch.pk)
        .order_by()
        .annotate(r=F("assignment__reader_id"), e=F("assignment__exam_id"), x=F("assignment__escalated"))
    )
    if connection.vendor != "postgresql":
        rows = list(reads.values_list("r", "e", "x", "submitted_at"))
        pairs = np.array([(r, e) for r, e, _, _ in rows], dtype=np.int64).reshape(-1, 2)
        extra = np.array([bool(x) for _, _, x, _ in rows], dtype=bool)
        return pairs, len(rows), max((at for *_, at in rows if at is not None), default=None), extra
    sql, params = reads.values("r", "e", "x", "submitted_at").query.sql_with_params()
    readers, exams, extra, count, latest = _arrays(
        sql,
        params,
        [("r", "int4", ">i4"), ("e", "int8", ">i8"), ("x", "int4", ">i4")],
        ("count(*)", "max(q.submitted_at)"),
    )
    return np.stack([readers, exams], axis=1), count, latest, extra.astype(bool)


def _label_triples(batch: ReviewBatch, *, uncertain_only: bool = False) -> np.ndarray:
    """(reader, exam, class) of every label of a first read (of those marked uncertain)."""
    labels = AnnotationLabel.objects.filter(annotation__in=_first_reads(batch.pk))
    if uncertain_only:
        labels = labels.filter(uncertain=True)
    labels = labels.order_by().annotate(
        r=F("annotation__assignment__reader_id"), e=F("annotation__assignment__exam_id")
    )
    if connection.vendor != "postgresql":
        return np.array(list(labels.values_list("r", "e", "diagnostic_class_id")), dtype=np.int64).reshape(
            -1, 3
        )
    sql, params = labels.values("r", "e", "diagnostic_class_id").query.sql_with_params()
    columns = [("r", "int4", ">i4"), ("e", "int8", ">i8"), ("diagnostic_class_id", "int8", ">i8")]
    return np.stack(_arrays(sql, params, columns), axis=1)


def batch_reads_snapshot(batch: ReviewBatch) -> ReadsSnapshot:
    """The batch's first reads as an int8 array, in flat queries (reads with their count and latest time,
    labels, classes).

    Never a row-by-row walk over annotation objects: the label query returns (reader, exam, class) id
    triples that numpy scatters into the array in one step, so 100,000 exams cost one result set.
    """
    read_pairs, read_count, latest, extra_reads = _read_pairs(batch)
    labels = _label_triples(batch)
    classes = list(
        DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id)
        .order_by("position")
        .values_list("pk", "code", "name")
    )
    class_ids = [c for c, _, _ in classes]
    array, readers_axis, exams_axis = _reads_array(read_pairs, labels, class_ids)
    escalated = set(
        BatchExam.objects.filter(batch=batch, needs_adjudication=True).values_list("exam_id", flat=True)
    )
    extra = _extra_array(read_pairs[extra_reads], readers_axis, exams_axis)
    flagged = _label_triples(batch, uncertain_only=True)
    uncertain = (_reads_array(read_pairs, flagged, class_ids)[0] == 1) if len(flagged) else None
    return ReadsSnapshot(
        reads=array,
        reader_ids=readers_axis.tolist(),
        exam_ids=exams_axis.tolist(),
        class_ids=class_ids,
        class_codes=[code for _, code, _ in classes],
        class_names=[name for _, _, name in classes],
        read_count=read_count,
        latest_submission_at=latest,
        escalated_exam_ids=escalated,
        adjudicated=_adjudicated_array(batch, exams_axis, np.array(class_ids, dtype=np.int64)),
        extra=extra,
        uncertain=uncertain,
    )


def _extra_array(pairs: np.ndarray, readers_axis: np.ndarray, exams_axis: np.ndarray) -> np.ndarray | None:
    """[r, e]: True where the (reader, exam) of ``pairs``, the extra reads, lies; None where none is."""
    if not len(pairs):
        return None
    extra = np.zeros((len(readers_axis), len(exams_axis)), dtype=bool)
    # Every extra read is a first read, so its reader and exam are on the axes (sorted: np.unique).
    extra[np.searchsorted(readers_axis, pairs[:, 0]), np.searchsorted(exams_axis, pairs[:, 1])] = True
    return extra


def _adjudicated_array(
    batch: ReviewBatch, exams_axis: np.ndarray, classes_axis: np.ndarray
) -> np.ndarray | None:
    """The batch's human decisions on the snapshot's axes (MISSING where none): the consensus weighs the
    exclusive sets with them in place. Decisions on exams no first read reached are left out, as the
    consensus has no cell for them."""
    decided = np.array(
        list(Adjudication.objects.filter(batch=batch).values_list("exam_id", "diagnostic_class_id", "value")),
        dtype=np.int64,
    ).reshape(-1, 3)
    if not len(decided) or not len(exams_axis):
        return None
    e = np.minimum(np.searchsorted(exams_axis, decided[:, 0]), len(exams_axis) - 1)  # sorted: np.unique
    place = {class_id: i for i, class_id in enumerate(classes_axis.tolist())}  # in taxonomy order
    c = np.array([place.get(class_id, -1) for class_id in decided[:, 1].tolist()], dtype=np.intp)
    known = (exams_axis[e] == decided[:, 0]) & (c >= 0)
    array = np.full((len(exams_axis), len(classes_axis)), MISSING, dtype=np.int8)
    array[e[known], c[known]] = decided[known, 2]
    return array


def batch_read_state(batch_id: int) -> tuple[int, datetime | None]:
    """(submitted first reads, latest submission time): what an AgreementResult is checked against."""
    state = _first_reads(batch_id).aggregate(n=Count("pk"), latest=Max("submitted_at"))
    return state["n"], state["latest"]


@dataclass(frozen=True)
class AgreementDue:
    """Whether a batch's stored figures are behind it: ``since`` is when they fell behind (the first read
    submitted, or decision signed, after they were computed; None while they are current)."""

    reads_now: int
    since: datetime | None
    reads_moved: bool
    decisions_after: bool


def agreement_due(batch: ReviewBatch, result: AgreementResult | None) -> AgreementDue:
    """What batches_with_stale_agreement checks, for one batch, with the moment it became due."""
    reads = _first_reads(batch.pk)
    reads_now, latest = batch_read_state(batch.pk)
    decisions = Adjudication.objects.filter(batch=batch)
    if result is None:
        since = reads.aggregate(first=Min("submitted_at"))["first"]
        return AgreementDue(reads_now, since, reads_now > 0, False)
    reads_moved = (reads_now, latest) != (result.read_count, result.latest_submission_at)
    decided = decisions.filter(decided_at__gt=result.computed_at).aggregate(first=Min("decided_at"))["first"]
    moments = [decided] if decided else []
    if reads_moved:
        read = reads.filter(submitted_at__gt=result.computed_at).aggregate(first=Min("submitted_at"))["first"]
        # A read reopened or withdrawn moves the count, not the times: due since the computation.
        moments.append(read or result.computed_at)
    since = min(moments) if moments else None
    return AgreementDue(reads_now, since, reads_moved, decided is not None)


def batches_with_stale_agreement(batch_ids: list[int] | None = None) -> list[int]:
    """Batches whose reads moved on since their agreement was computed (or that never had one), or that
    an adjudicator decided on since (the readers' agreement against the decisions is part of it); of
    `batch_ids` only, when given."""
    reads = Annotation.objects.filter(
        assignment__read_round=1,
        assignment__status=Assignment.Status.SUBMITTED,
        is_current=True,
        status=Annotation.Status.SUBMITTED,
    )
    batches = ReviewBatch.objects.exclude(status=ReviewBatch.Status.DRAFT)
    if batch_ids is not None:
        batches = batches.filter(pk__in=batch_ids)
    rows = (
        batches.annotate(
            n=Count("assignments__annotations", filter=Q(assignments__annotations__in=reads)),
            latest=Max(
                "assignments__annotations__submitted_at", filter=Q(assignments__annotations__in=reads)
            ),
            # A subquery, not a second join: joined, the decisions would multiply the reads counted.
            decided=Subquery(
                Adjudication.objects.filter(batch_id=OuterRef("pk"))
                .order_by("-decided_at")
                .values("decided_at")[:1]
            ),
        )
        .filter(n__gt=0)
        .values_list(
            "pk",
            "n",
            "latest",
            "decided",
            "agreement__read_count",
            "agreement__latest_submission_at",
            "agreement__computed_at",
        )
    )
    return [
        pk
        for pk, n, latest, decided, seen, seen_latest, computed in rows
        if (n, latest) != (seen, seen_latest)
        or (decided is not None and computed is not None and decided > computed)
    ]


# --- Coordinator view ----------------------------------------------------------------------------------
def agreement_for_coordinator(user: User, batch_id: int) -> tuple[ReviewBatch, AgreementResult | None]:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    try:
        batch = ReviewBatch.objects.select_related("taxonomy").get(pk=batch_id)
    except ReviewBatch.DoesNotExist:
        raise NotFound(_("no such batch")) from None
    return batch, AgreementResult.objects.filter(batch=batch).first()


def open_dispute_count(batch: ReviewBatch) -> int:
    """Disputed labels of the batch no adjudicator has decided yet, now (the stored result counts every
    label disputed when it was computed, decided since or not)."""
    decided = Adjudication.objects.filter(
        batch_id=OuterRef("batch_id"),
        exam_id=OuterRef("exam_id"),
        diagnostic_class_id=OuterRef("diagnostic_class_id"),
    )
    return DisputedLabel.objects.filter(batch=batch).exclude(Exists(decided)).count()


def _awaiting_adjudication(cells: QuerySet[Consensus]) -> QuerySet[Consensus]:
    """A stored cell the rule decided on a disputed class (an escalated exam's majority, say): the batch
    sent the class to a person, and no release gives the rule's value before one decides."""
    disputed = DisputedLabel.objects.filter(
        batch_id=OuterRef("batch_id"),
        exam_id=OuterRef("exam_id"),
        diagnostic_class_id=OuterRef("diagnostic_class_id"),
    )
    return cells.exclude(method="adjudicated").filter(Exists(disputed))


def settled_consensus(batch_ids: Sequence[int]) -> QuerySet[Consensus]:
    """The consensus cells of the batches that are final, as the releases give them: adjudicated, or
    decided by the rule on a class nobody disputes."""
    cells = Consensus.objects.filter(batch_id__in=batch_ids)
    return cells.exclude(pk__in=_awaiting_adjudication(cells).values("pk"))


def consensus_method_counts(batch: ReviewBatch) -> dict[str, int]:
    """The final consensus cells of the batch by how they were decided (the exports' figures)."""
    rows = settled_consensus([batch.pk]).values("method").annotate(n=Count("pk")).order_by()
    return {row["method"]: row["n"] for row in rows}


def consensus_awaiting_adjudication(batch: ReviewBatch) -> int:
    """Cells the rule gave a value that waits for an adjudicator's decision (not in the counts above)."""
    return _awaiting_adjudication(Consensus.objects.filter(batch=batch)).count()


# --- Coordinator dashboard -----------------------------------------------------------------------------
def _sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    kappa = row.get("fleiss_kappa")
    return (kappa is None, -(kappa or 0.0), row["code"])


def kappa_colour(value: float | None) -> str:
    """A background for a kappa cell: white at 0 or below, deep green at 1, grey when undefined."""
    if value is None:
        return "#eeeeee"
    share = max(0.0, min(1.0, value))
    red, green, blue = (round(255 - share * (255 - c)) for c in (26, 127, 55))
    return f"#{red:02x}{green:02x}{blue:02x}"


def agreement_dashboard(result: AgreementResult) -> dict[str, Any]:
    """The stored result arranged for the page and the CSV: classes sorted by Fleiss' kappa (undefined
    last), readers named (coordinators may see who read), and the reader x reader matrix with colours."""
    data = result.results or {}
    reader_ids = data.get("reader_ids", [])
    names = dict(get_user_model().objects.filter(pk__in=reader_ids).values_list("pk", "username"))
    readers = [{**row, "username": names.get(row["reader_id"], "?")} for row in data.get("readers", [])]
    pairs = data.get("pairs", {"mean_kappa": [], "exams_in_common": []})
    # Pairs whose common exams include a second read by one person (independence off): counted, marked.
    rereads = agreement_rereads(result.batch, reader_ids)
    matrix = [
        {
            "username": names.get(reader_id, "?"),
            "cells": [
                {"kappa": kappa, "shared": shared, "colour": kappa_colour(kappa), "same_person": same}
                for kappa, shared, same in zip(kappa_row, shared_row, same_row, strict=True)
            ],
        }
        for reader_id, kappa_row, shared_row, same_row in zip(
            reader_ids, pairs["mean_kappa"], pairs["exams_in_common"], rereads["pairs"], strict=True
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
        "rereads": {"reads": rereads["reads"], "exams": rereads["exams"]},
        "exams": data.get("exams", {}),
        # Exact match and Jaccard on the exams some reader marked something on (services.agreement.specific).
        "exams_with_findings": data.get("exams_with_findings") or {},
        "escalation_reads": data.get("escalation_reads", 0),
        "gold_exams_left_out": data.get("gold_exams_left_out", 0),
        # Kappa with uncertain marks as positive, as absent, left out (services.agreement.tables).
        "uncertain": data.get("uncertain") or {"marks": 0, "classes": []},
        "consensus_rule": data.get("consensus", {}),
        "consensus_summary": consensus_summary(data),
        "bootstrap": data.get("bootstrap", {}),
        # Agreement on qualifiers among the reads that chose the statement (services.agreement.qualifiers).
        "qualifiers": [
            {**row, "label": qualifier_label(row["qualifier"])} for row in data.get("qualifiers", [])
        ],
        **reader_tables(data, readers, names),
    }


def reader_tables(
    data: dict[str, Any], readers: list[dict[str, Any]], names: dict[int, str]
) -> dict[str, Any]:
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


def consensus_summary(data: dict[str, Any]) -> dict[str, Any]:
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
