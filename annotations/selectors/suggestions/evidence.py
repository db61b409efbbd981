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

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models.fields.json import KeyTransform
from sklearn.metrics import roc_auc_score

from annotations.models import (
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
from annotations.selectors.suggestions.scoring import META, source_code

DEFAULT_THRESHOLD = 0.5


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _thresholds(suggestion_ids) -> dict[int, dict[str, float]]:
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


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0


@dataclass(frozen=True)
class ConsensusTruth:
    """(exam, class) -> consensus value: the stored rows, plus the implicit absent cells of exams the
    last consensus computation decided (read at least min_reads times, class neither stored nor
    disputed). Answered per cell rather than spelled out: exams x classes is millions of cells."""

    stored: dict[tuple[int, int], bool]
    decided_exams: frozenset[int]
    disputed: frozenset[tuple[int, int]]

    def get(self, key: tuple[int, int]) -> bool | None:
        if key in self.stored:
            return self.stored[key]
        if key in self.disputed or key[0] not in self.decided_exams:
            return None
        return False

    def __bool__(self) -> bool:
        return bool(self.stored or self.decided_exams)


def consensus_truth(batch: ReviewBatch) -> ConsensusTruth:
    stored = {
        (exam_id, class_id): value
        for exam_id, class_id, value in Consensus.objects.filter(batch=batch).values_list(
            "exam_id", "diagnostic_class_id", "value"
        )
    }
    if not AgreementResult.objects.filter(batch=batch).exists():
        # No computation yet: only rows written by hand (adjudications) are known.
        return ConsensusTruth(stored, frozenset(), frozenset())
    reads = Counter(
        Annotation.objects.filter(
            assignment__batch=batch,
            assignment__read_round=1,
            assignment__status=Assignment.Status.SUBMITTED,
            is_current=True,
            status=Annotation.Status.SUBMITTED,
        ).values_list("assignment__exam_id", flat=True)
    )
    min_reads = consensus_settings(batch)["min_reads"]
    disputed = DisputedLabel.objects.filter(batch=batch).values_list("exam_id", "diagnostic_class_id")
    return ConsensusTruth(
        stored,
        frozenset(exam_id for exam_id, n in reads.items() if n >= min_reads),
        frozenset(disputed),
    )


#: (provider, version) -> class id -> (score, consensus value, threshold) per scored cell with a consensus.
_ScoredCells = dict[tuple[str, str], dict[int, list[tuple[float, bool, float]]]]


def _scored_cells(
    batch: ReviewBatch, classes: dict[int, DiagnosticClass], consensus: ConsensusTruth
) -> _ScoredCells:
    scores = SuggestionScore.objects.filter(
        suggestion__exam_id__in=BatchExam.objects.filter(batch=batch).values("exam_id"),
        suggestion__status=Suggestion.Status.OK,
        diagnostic_class__taxonomy_id=batch.taxonomy_id,
    ).values_list(
        "suggestion_id",
        "suggestion__provider",
        "suggestion__provider_version",
        "suggestion__exam_id",
        "diagnostic_class_id",
        "score",
    )
    pairs: _ScoredCells = defaultdict(lambda: defaultdict(list))
    scores = list(scores)
    thresholds = _thresholds(
        Suggestion.objects.filter(exam_id__in=BatchExam.objects.filter(batch=batch).values("exam_id")).values(
            "pk"
        )
    )
    for suggestion_id, provider, version, exam_id, class_id, score in scores:
        truth = consensus.get((exam_id, class_id))
        if truth is None:
            continue
        threshold = thresholds[suggestion_id].get(source_code(classes[class_id]), DEFAULT_THRESHOLD)
        pairs[(provider, version)][class_id].append((score, truth, threshold))
    return pairs


def _provider_class_row(klass: DiagnosticClass, items: list[tuple[float, bool, float]]) -> dict:
    counts = _Counts()
    for score, truth, threshold in items:
        predicted = score >= threshold
        if truth:
            counts.tp += predicted
            counts.fn += not predicted
        else:
            counts.fp += predicted
            counts.tn += not predicted
    positives, negatives = counts.tp + counts.fn, counts.fp + counts.tn
    auc = (
        float(roc_auc_score([t for _, t, _ in items], [s for s, _, _ in items]))
        if positives and negatives
        else None  # undefined with one class only
    )
    return {
        "code": klass.code,
        "name": klass.name,
        "threshold": items[0][2],
        "n": len(items),
        "positives": positives,
        "negatives": negatives,
        **vars(counts),
        "sensitivity": _ratio(counts.tp, positives),
        "specificity": _ratio(counts.tn, negatives),
        "auc": auc,
    }


def provider_agreement(batch: ReviewBatch) -> list[dict]:
    """Per provider version and class: n, positives, tp/fp/tn/fn, sensitivity, specificity, AUC."""
    classes = _classes(batch)
    consensus = consensus_truth(batch)
    if not consensus:
        return []
    out = []
    for (provider, version), by_class in sorted(_scored_cells(batch, classes, consensus).items()):
        rows = [
            _provider_class_row(classes[class_id], by_class[class_id])
            for class_id in sorted(by_class, key=lambda pk: classes[pk].position)
        ]
        out.append({"provider": provider, "version": version, "classes": rows})
    return out


def _submitted_reads(batch: ReviewBatch) -> tuple[dict[int, dict[str, int]], dict[int, set[int]]]:
    """(assignment -> stage -> submitted annotation id, annotation id -> the class ids it marks)."""
    reads: dict[int, dict[str, int]] = defaultdict(dict)
    for annotation_id, assignment_id, stage in Annotation.objects.filter(
        assignment__batch=batch, status=Annotation.Status.SUBMITTED
    ).values_list("pk", "assignment_id", "stage"):
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


def automation_bias(batch: ReviewBatch) -> list[dict]:
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
                "toward": sum(r["toward"] for r in rows),
                "away": sum(r["away"] for r in rows),
                "classes": rows,
            }
        )
    return out


def batch_evidence(batch: ReviewBatch) -> dict:
    """Both reports for one batch; the caller has checked that the user is a coordinator."""
    return {
        "batch": batch.pk,
        "suggestion_mode": batch.suggestion_mode,
        "consensus_rows": Consensus.objects.filter(batch=batch).count(),
        "providers": provider_agreement(batch),
        "automation_bias": automation_bias(batch),
    }
