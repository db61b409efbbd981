"""Evidence about the suggestions of a batch, for coordinators.

1. Agreement of each provider (and version) with the batch's consensus, per class: sensitivity and
   specificity at the provider's own threshold (the one that decides what readers see as "suggested"),
   and the threshold-free ROC AUC of its scores. Only (exam, class) pairs that have both a consensus
   and a score count: a class the provider cannot assess is not a negative prediction. The consensus
   store leaves a class that every read left unmarked without a row (implicitly absent); such a class
   counts as absent on an exam read often enough for a consensus, unless it is disputed.
2. Automation bias in two-stage batches: for each reader and class, how often the revised read (made
   with the suggestion on screen) moved away from the reader's own blind read toward the suggestion
   (added a suggested class, or removed a class the suggestion scored below threshold) or away from it
   (removed a suggested class, or added one scored below threshold). Classes the shown suggestion did
   not score are left out: the provider said nothing about them, so no change there follows it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from annotations.lib.stats.roc import grouped_auc, grouped_confusion
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
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from annotations.selectors.agreement.rules import consensus_settings
from annotations.selectors.exams.arrays import query_arrays, sent, unpacked
from annotations.selectors.suggestions.scoring import META, source_code

DEFAULT_THRESHOLD = 0.5
EVIDENCE_CACHE_S = 7 * 24 * 3600  # keyed by what it is computed from: a stale entry is never read

logger = logging.getLogger(__name__)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _thresholds(suggestion_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """suggestion id -> provider thresholds by TNMG code (stored with each result)."""
    # Only the thresholds are read out of the stored JSON: the measurements beside them are most of it.
    rows = (
        Suggestion.objects.filter(pk__in=suggestion_ids)
        .order_by()
        .annotate(thresholds=KeyTransform("thresholds", KeyTransform(META, "measurements")))
        .values_list("pk", "thresholds")
    )
    return {pk: thresholds or {} for pk, thresholds in rows}


def _classes(batch: ReviewBatch) -> dict[int, DiagnosticClass]:
    return {c.pk: c for c in DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id)}


@dataclass(frozen=True)
class ConsensusTruth:
    """(exam, class) -> consensus value: the stored rows, plus the implicit absent cells of exams the
    last consensus computation decided (read at least min_reads times, class neither stored nor
    disputed). Answered for arrays of cells at once rather than spelled out: exams x classes is
    millions of cells. Cells are keyed exam id * ``width`` + class id, every array sorted."""

    width: int
    stored_keys: npt.NDArray[np.int64]
    stored_values: npt.NDArray[np.bool_]
    decided_exams: npt.NDArray[np.int64]
    disputed_keys: npt.NDArray[np.int64]

    def lookup(
        self, exam_ids: npt.NDArray[np.int64], class_ids: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(known, value) per cell: known is False where the consensus says nothing."""
        keys = exam_ids * self.width + class_ids
        stored, at = _members(self.stored_keys, keys)
        value = np.zeros(len(keys), dtype=bool)
        value[stored] = self.stored_values[at[stored]]
        implicit = _members(self.decided_exams, exam_ids)[0] & ~_members(self.disputed_keys, keys)[0]
        return stored | implicit, value

    def __bool__(self) -> bool:
        return bool(len(self.stored_keys) or len(self.decided_exams))


def _members(
    sorted_keys: npt.NDArray[np.int64], keys: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Which keys are in sorted_keys, and where (an index to ignore where not)."""
    at = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    found = sorted_keys[at] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)
    return found, at


def _arrays(rows: QuerySet[Any], columns: list[tuple[str, str, str]]) -> list[np.ndarray]:
    """A values() query's columns as numpy arrays (one binary value each, no tuple per row: a 100k-exam
    batch has 230k consensus rows)."""
    sql, params = rows.query.sql_with_params()
    return [a.astype(np.int64) if a.dtype.kind == "i" else a for a in query_arrays(sql, params, columns)]


def consensus_truth(batch: ReviewBatch, width: int) -> ConsensusTruth:
    """The batch's consensus as arrays; width exceeds every class id of its taxonomy."""
    exams, classes, values = _arrays(
        Consensus.objects.filter(batch=batch).values("exam_id", "diagnostic_class_id", "value"),
        [("exam_id", "int8", ">i8"), ("diagnostic_class_id", "int8", ">i8"), ("value", "bool", "?")],
    )
    keys = exams * width + classes
    order = np.argsort(keys)
    empty = np.zeros(0, dtype=np.int64)
    truth = {"width": width, "stored_keys": keys[order], "stored_values": values[order].astype(bool)}
    if not AgreementResult.objects.filter(batch=batch).exists():
        # No computation yet: only rows written by hand (adjudications) are known.
        return ConsensusTruth(**truth, decided_exams=empty, disputed_keys=empty)
    decided = (
        Annotation.objects.filter(
            assignment__batch=batch,
            assignment__read_round=1,
            assignment__status=Assignment.Status.SUBMITTED,
            is_current=True,
            status=Annotation.Status.SUBMITTED,
        )
        .values("assignment__exam_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=consensus_settings(batch)["min_reads"])
        .values("assignment__exam_id")
    )
    (decided_exams,) = _arrays(decided, [("assignment__exam_id", "int8", ">i8")])
    disputed_exams, disputed_classes = _arrays(
        DisputedLabel.objects.filter(batch=batch).values("exam_id", "diagnostic_class_id"),
        [("exam_id", "int8", ">i8"), ("diagnostic_class_id", "int8", ">i8")],
    )
    return ConsensusTruth(
        **truth,
        decided_exams=np.sort(decided_exams),
        disputed_keys=np.sort(disputed_exams * width + disputed_classes),
    )


@dataclass(frozen=True)
class _ScoredCells:
    """Every OK score of a batch exam in a class of its taxonomy, one cell per array position, grouped
    by (provider, version, class): the group's (provider, version) and class id by group index."""

    group_versions: list[tuple[str, str]]
    group_classes: list[int]
    groups: npt.NDArray[np.intp]
    exam_ids: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    thresholds: npt.NDArray[np.float64]


# One pass over the batch's suggestions and their scores, each cell's threshold read out of the
# suggestion's stored JSON in the database, the cells aggregated into one array per group: a handful of
# rows instead of a Python tuple per cell. A provider without a threshold for a code is read at 0.5.
# (A MATERIALIZED CTE reading each threshold object once hid the row count from the planner, which
# then merge-joined every score in the table: four times slower.)
_THRESHOLD = "COALESCE((s.measurements -> %(meta)s -> 'thresholds' ->> code.source)::float8, %(default)s)"
_SCORED_CELLS_SQL = f"""
SELECT s.provider, s.provider_version, sc.diagnostic_class_id,
       {sent("s.exam_id", "int8")}, {sent("sc.score", "float8")}, {sent(_THRESHOLD, "float8")}
FROM annotations_suggestion s
JOIN annotations_suggestionscore sc ON sc.suggestion_id = s.id
JOIN unnest(%(class_ids)s::bigint[], %(codes)s::text[]) AS code(class_id, source)
  ON code.class_id = sc.diagnostic_class_id
WHERE s.status = %(ok)s
  AND s.exam_id IN (SELECT be.exam_id FROM annotations_batchexam be WHERE be.batch_id = %(batch)s)
GROUP BY s.provider, s.provider_version, sc.diagnostic_class_id
"""  # noqa: S608 (constants only; the values go as parameters)


def _scored_cells(batch: ReviewBatch, classes: dict[int, DiagnosticClass]) -> _ScoredCells:
    if connection.vendor != "postgresql":
        return _scored_cells_by_rows(batch, classes)
    params: dict[str, Any] = {
        "meta": META,
        "ok": Suggestion.Status.OK,
        "batch": batch.pk,
        "default": DEFAULT_THRESHOLD,
        "class_ids": list(classes),
        "codes": [source_code(c) for c in classes.values()],
    }
    with connection.cursor() as cursor:
        cursor.execute(_SCORED_CELLS_SQL, params)
        rows = cursor.fetchall()
    exam_ids = [unpacked(row[3], ">i8") for row in rows]
    scores = [unpacked(row[4], ">f8") for row in rows]
    thresholds = [unpacked(row[5], ">f8") for row in rows]
    return _ScoredCells(
        group_versions=[(row[0], row[1]) for row in rows],
        group_classes=[row[2] for row in rows],
        groups=np.repeat(np.arange(len(rows), dtype=np.intp), [len(e) for e in exam_ids]),
        exam_ids=_joined(exam_ids, np.int64),
        scores=_joined(scores, np.float64),
        thresholds=_joined(thresholds, np.float64),
    )


def _scored_cells_by_rows(batch: ReviewBatch, classes: dict[int, DiagnosticClass]) -> _ScoredCells:
    """_scored_cells on the embedded default (SQLite has no arrays and no jsonb operators), read row by
    row: a laptop's study is a few thousand scores. Each suggestion's thresholds are read once."""
    sources = {class_id: source_code(c) for class_id, c in classes.items()}
    suggestions = Suggestion.objects.filter(
        status=Suggestion.Status.OK,
        exam_id__in=BatchExam.objects.filter(batch=batch).values("exam_id"),
    ).values_list("pk", "provider", "provider_version", "exam_id", "measurements")
    made = {
        pk: (provider, version, exam_id, ((kept or {}).get(META) or {}).get("thresholds") or {})
        for pk, provider, version, exam_id, kept in suggestions
    }
    scores = SuggestionScore.objects.filter(
        suggestion_id__in=list(made), diagnostic_class_id__in=list(classes)
    )
    cells: dict[tuple[str, str, int], list[tuple[int, float, float]]] = defaultdict(list)
    for suggestion_id, class_id, score in scores.values_list("suggestion_id", "diagnostic_class_id", "score"):
        provider, version, exam_id, thresholds = made[suggestion_id]
        threshold = thresholds.get(sources[class_id])
        cells[(provider, version, class_id)].append(
            (exam_id, score, DEFAULT_THRESHOLD if threshold is None else float(threshold))
        )
    groups = sorted(cells)
    columns = [np.array(cells[group], dtype=np.float64).reshape(-1, 3) for group in groups]
    return _ScoredCells(
        group_versions=[(provider, version) for provider, version, _ in groups],
        group_classes=[class_id for _, _, class_id in groups],
        groups=np.repeat(np.arange(len(groups), dtype=np.intp), [len(c) for c in columns]),
        exam_ids=_joined([c[:, 0] for c in columns], np.int64),
        scores=_joined([c[:, 1] for c in columns], np.float64),
        thresholds=_joined([c[:, 2] for c in columns], np.float64),
    )


def _joined(parts: list[np.ndarray], dtype: npt.DTypeLike) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _provider_class_rows(cells: _ScoredCells, consensus: ConsensusTruth) -> dict[int, dict[str, Any]]:
    """Group index -> its row, for the groups with at least one cell of known truth."""
    known, truth = consensus.lookup(
        cells.exam_ids, np.asarray(cells.group_classes, dtype=np.int64)[cells.groups]
    )
    groups, scores = cells.groups[known], cells.scores[known]
    thresholds, truth = cells.thresholds[known], truth[known]
    n_groups = len(cells.group_classes)
    tp, fp, tn, fn = grouped_confusion(groups, truth, scores >= thresholds, n_groups)
    auc = grouped_auc(groups, truth, scores, n_groups)
    n = np.bincount(groups, minlength=n_groups)
    # The threshold shown is the group's first cell's (one per provider version in practice); the cells
    # lie group after group, so that is where the group starts.
    first = np.searchsorted(groups, np.arange(n_groups))
    rows: dict[int, dict[str, Any]] = {}
    for g in np.flatnonzero(n):
        positives, negatives = int(tp[g] + fn[g]), int(fp[g] + tn[g])
        rows[int(g)] = {
            "threshold": float(thresholds[first[g]]),
            "n": int(n[g]),
            "positives": positives,
            "negatives": negatives,
            "tp": int(tp[g]),
            "fp": int(fp[g]),
            "tn": int(tn[g]),
            "fn": int(fn[g]),
            "sensitivity": _ratio(int(tp[g]), positives),
            "specificity": _ratio(int(tn[g]), negatives),
            "auc": None if np.isnan(auc[g]) else float(auc[g]),  # undefined with one class only
        }
    return rows


def provider_agreement(batch: ReviewBatch) -> list[dict[str, Any]]:
    """Per provider version and class: n, positives, tp/fp/tn/fn, sensitivity, specificity, AUC."""
    classes = _classes(batch)
    consensus = consensus_truth(batch, width=max(classes, default=0) + 1)
    if not consensus:
        return []
    cells = _scored_cells(batch, classes)
    rows = _provider_class_rows(cells, consensus)
    by_version: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for g, row in rows.items():
        by_version[cells.group_versions[g]].append((cells.group_classes[g], row))
    out = []
    for provider, version in sorted(by_version):
        ordered = sorted(by_version[(provider, version)], key=lambda item: classes[item[0]].position)
        out.append(
            {
                "provider": provider,
                "version": version,
                "classes": [{"code": classes[c].code, "name": classes[c].name, **row} for c, row in ordered],
            }
        )
    return out


def _submitted_reads(batch: ReviewBatch) -> tuple[dict[int, dict[str, int]], dict[int, set[int]]]:
    """(assignment -> stage -> submitted annotation id, annotation id -> the class ids it marks).

    A step before the suggestion made by a reader who had already seen it (a two-stage retest, or the
    exam in another batch) is left out: it is not what the reader thought before any suggestion."""
    reads: dict[int, dict[str, int]] = defaultdict(dict)
    for annotation_id, assignment_id, stage, seen_before in Annotation.objects.filter(
        assignment__batch=batch, status=Annotation.Status.SUBMITTED
    ).values_list("pk", "assignment_id", "stage", "suggestion_shown_at"):
        if stage == Annotation.Stage.BLIND and seen_before is not None:
            continue
        reads[assignment_id][stage] = annotation_id
    by_annotation: dict[int, set[int]] = defaultdict(set)
    for annotation_id, class_id in AnnotationLabel.objects.filter(
        annotation__assignment__batch=batch, annotation__status=Annotation.Status.SUBMITTED
    ).values_list("annotation_id", "diagnostic_class_id"):
        by_annotation[annotation_id].add(class_id)
    return reads, by_annotation


def _revised_exposures(batch: ReviewBatch) -> tuple[dict[int, int], dict[int, tuple[int, str]]]:
    """(assignment -> the first suggestion shown with its revised read, assignment -> (reader id, name))."""
    exposures: dict[int, int] = {}
    readers: dict[int, tuple[int, str]] = {}
    for assignment_id, suggestion_id, reader_id, username in (
        SuggestionExposure.objects.filter(assignment__batch=batch, stage=Annotation.Stage.REVISED)
        .order_by("shown_at")
        .values_list("assignment_id", "suggestion_id", "reader_id", "reader__username")
    ):
        exposures.setdefault(assignment_id, suggestion_id)
        readers[assignment_id] = (reader_id, username)
    return exposures, readers


def _suggestion_scores(batch: ReviewBatch, suggestion_ids: set[int]) -> dict[int, dict[int, float]]:
    scored: dict[int, dict[int, float]] = defaultdict(dict)
    for suggestion_id, class_id, score in SuggestionScore.objects.filter(
        suggestion_id__in=suggestion_ids, diagnostic_class__taxonomy_id=batch.taxonomy_id
    ).values_list("suggestion_id", "diagnostic_class_id", "score"):
        scored[suggestion_id][class_id] = score
    return scored


@dataclass
class _Moves:
    """Blind-to-revised moves per (reader, class), reads compared per reader, and the readers' names."""

    table: dict[tuple[int, int], dict[str, int]]
    compared: dict[int, int]
    names: dict[int, str]


def _moves(batch: ReviewBatch, classes: dict[int, DiagnosticClass]) -> _Moves:
    reads, by_annotation = _submitted_reads(batch)
    exposures, readers = _revised_exposures(batch)
    thresholds = _thresholds(set(exposures.values()))
    scored = _suggestion_scores(batch, set(exposures.values()))
    table: dict[tuple[int, int], dict[str, int]] = defaultdict(
        lambda: {"reads": 0, "blind_agreed": 0, "blind_disagreed": 0, "toward": 0, "away": 0}
    )
    compared: dict[int, int] = defaultdict(int)
    for assignment_id, suggestion_id in exposures.items():
        stages = reads.get(assignment_id, {})
        if Annotation.Stage.BLIND not in stages or Annotation.Stage.REVISED not in stages:
            continue
        blind = by_annotation[stages[Annotation.Stage.BLIND]]
        revised = by_annotation[stages[Annotation.Stage.REVISED]]
        reader_id = readers[assignment_id][0]
        compared[reader_id] += 1
        for class_id, score in scored[suggestion_id].items():
            cell = table[(reader_id, class_id)]
            threshold = thresholds[suggestion_id].get(source_code(classes[class_id]), DEFAULT_THRESHOLD)
            suggested = score >= threshold
            b, r = class_id in blind, class_id in revised
            cell["reads"] += 1
            cell["blind_agreed" if b == suggested else "blind_disagreed"] += 1
            if b != r:
                cell["toward" if r == suggested else "away"] += 1
    return _Moves(table=table, compared=compared, names=dict(readers.values()))


def automation_bias(batch: ReviewBatch) -> list[dict[str, Any]]:
    """Per reader: reads compared, and per class blind-vs-revised moves toward or away from the
    suggestion shown. Only assignments with a submitted blind and a submitted revised read count."""
    if batch.suggestion_mode != ReviewBatch.SuggestionMode.TWO_STAGE:
        return []
    classes = _classes(batch)
    moves = _moves(batch, classes)
    by_position = sorted(moves.table.items(), key=lambda item: classes[item[0][1]].position)
    out = []
    for reader_id in sorted(moves.compared, key=lambda pk: moves.names[pk]):
        rows = [
            {
                "code": classes[class_id].code,
                **cell,
                # Of the reads where the blind read differed from the suggestion, the share revised
                # to match it; of those where it agreed, the share revised to differ.
                "toward_rate": _ratio(cell["toward"], cell["blind_disagreed"]),
                "away_rate": _ratio(cell["away"], cell["blind_agreed"]),
            }
            for (rid, class_id), cell in by_position
            if rid == reader_id
        ]
        out.append(
            {
                "reader": moves.names[reader_id],
                "reads_compared": moves.compared[reader_id],
                "toward": sum(int(r["toward"] or 0) for r in rows),
                "away": sum(int(r["away"] or 0) for r in rows),
                "classes": rows,
            }
        )
    return out


def _agreement_key(batch: ReviewBatch) -> str:
    """What the agreement report is a function of, as a cache key. Consensus rows change with a
    consensus computation (which rewrites the batch's AgreementResult) or an adjudication; scores are
    only ever added (a recomputed suggestion's are deleted and written anew, a taxonomy added later gets
    its own), so the newest score id moves with every change to them, thresholds included."""
    computed_at = AgreementResult.objects.filter(batch=batch).values_list("computed_at", flat=True).first()
    adjudicated = Adjudication.objects.filter(batch=batch).aggregate(n=Count("pk"), last=Max("decided_at"))
    newest_score = SuggestionScore.objects.aggregate(last=Max("pk"))["last"]
    parts = (batch.pk, computed_at, adjudicated["n"], adjudicated["last"], newest_score)
    return "suggestion-evidence:v2:" + "/".join(
        p.isoformat() if isinstance(p, datetime) else str(p) for p in parts
    )


def _last_key(batch: ReviewBatch) -> str:
    return f"suggestion-evidence:v2:last:{batch.pk}"


def _compute_agreement(batch: ReviewBatch, key: str) -> dict[str, Any]:
    computed = {
        "consensus_rows": Consensus.objects.filter(batch=batch).count(),
        "providers": provider_agreement(batch),
        "computed_at": timezone.now(),
    }
    try:
        cache.set(key, computed, timeout=EVIDENCE_CACHE_S)
        # Also kept as the batch's last figures: shown, marked as such, while the next ones are computed.
        cache.set(_last_key(batch), computed, timeout=EVIDENCE_CACHE_S)
    except Exception:
        logger.warning("suggestion evidence: the cache is down")
    return computed


def evidence_agreement(batch: ReviewBatch) -> dict[str, Any]:
    """The consensus row count and provider agreement, computed once per state of the batch's consensus
    and scores: seconds for a 100k-exam batch (its 400k scores lie among millions). The worker's: it
    computes what is not cached yet (and, with the cache down, every time)."""
    key = _agreement_key(batch)
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("suggestion evidence: the cache is down")
        cached = None
    return cached if cached is not None else _compute_agreement(batch, key)


def evidence_agreement_for_request(batch: ReviewBatch) -> dict[str, Any]:
    """The agreement part as a page or API request gets it, never waiting seconds for it: the figures of
    the batch's current state ("ready"), or, while the worker computes them ("computing"), the last
    figures computed for the batch with their time (none before the first). The caller asks the worker
    (services.suggestions.suggestion_evidence_request). Only with the cache down is it computed here, as
    nothing computed elsewhere could reach the request."""
    key = _agreement_key(batch)
    try:
        cached = cache.get(key)
        last = None if cached is not None else cache.get(_last_key(batch))
    except Exception:
        logger.warning("suggestion evidence: the cache is down")
        return {"state": "ready", **_compute_agreement(batch, key)}
    if cached is not None:
        return {"state": "ready", **cached}
    last = last or {"consensus_rows": None, "providers": [], "computed_at": None}
    return {"state": "computing", **last}


def batch_evidence(batch: ReviewBatch) -> dict[str, Any]:
    """Both reports for one batch, as evidence_agreement_for_request gives the agreement part (its
    "state" says whether the figures are the batch's current ones); the caller has checked that the user
    is a coordinator. Automation bias is not cached: it moves with every revised read."""
    return {
        "batch": batch.pk,
        "suggestion_mode": batch.suggestion_mode,
        **evidence_agreement_for_request(batch),
        "automation_bias": automation_bias(batch),
    }
