"""A dataset's stored suggestions against reference labels, for manage.py evaluate_suggestions.

Truth comes as TNMG codes per exam: the exams' own reference labels mapped the way the importer maps them
(LabelMatcher: classes' maps, the shipped crosswalk, other taxonomies' maps), or a truth file
(lib/truth_file.py) whose SNOMED CT codes map through the same crosswalk. Scores are the providers' raw
TNMG scores as stored (Suggestion.measurements[META]), with the thresholds stored beside them: the
operating point is the one of the version that computed them, whatever the provider's code says today.
The statistics are lib/stats/classification.py's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotations.lib.providers.base import DEFAULT_THRESHOLD, Provider
from annotations.lib.stats.classification import (
    CI_METHOD,
    METRICS,
    RHYTHM_PRECEDENCE,
    ClassStatistics,
    class_statistics,
    rhythm_confusion,
    rhythm_labels,
    stacked,
    top_rhythm,
    truth_rhythm,
)
from annotations.models import Dataset, DiagnosticClass, Exam, ReferenceLabel, Suggestion, Taxonomy
from annotations.selectors.imports import LabelMatcher, label_classes
from annotations.selectors.suggestions.scoring import META
from annotations.selectors.taxonomy import version_order

TAXONOMY_KEY = "tnmg"
STACK = "stack"


@dataclass(frozen=True)
class ReferenceTruth:
    """labels: exam id -> TNMG codes, for the exams with at least one reference label; unmapped: a label
    ("snomed 425856008") that maps to no TNMG statement -> exams carrying it; unlabelled: exams of the
    dataset with no reference label at all (left out: nothing says what they show)."""

    labels: dict[int, set[str]]
    unmapped: dict[str, int]
    unlabelled: int


@dataclass(frozen=True)
class Stored:
    """One exam's stored suggestion of one provider version."""

    status: str
    scores: dict[str, float]
    thresholds: dict[str, float]
    measurements: dict[str, Any]


def evaluation_taxonomy() -> Taxonomy | None:
    """The TNMG taxonomy providers' codes belong to: the default one when it is TNMG, else the newest
    TNMG version loaded."""
    loaded = list(Taxonomy.objects.filter(key=TAXONOMY_KEY))
    if not loaded:
        return None
    return max(loaded, key=lambda t: (t.is_default, version_order(t.version)))


def taxonomy_codes(taxonomy: Taxonomy) -> list[DiagnosticClass]:
    return list(taxonomy.classes.order_by("position"))


def dataset_exam_ids(dataset: Dataset) -> dict[str, int]:
    """external id -> exam id, for the dataset's exams."""
    return dict(Exam.objects.filter(dataset=dataset).values_list("external_id", "pk"))


def snomed_crosswalk(taxonomy: Taxonomy) -> dict[str, list[str]]:
    """SNOMED CT code -> the taxonomy's codes, exactly as the importer's matcher maps a #Dx: code."""
    matcher = LabelMatcher(taxonomy)
    return {
        code: [c.code for c in classes]
        for (system, code), classes in matcher.by_map.items()
        if system == "snomed"
    }


def dataset_reference_truth(dataset: Dataset, taxonomy: Taxonomy) -> ReferenceTruth:
    """The dataset's exams' reference labels as TNMG codes. Each distinct label is mapped once (a
    dataset of 100,000 exams has a few hundred distinct labels)."""
    matcher = LabelMatcher(taxonomy)
    mapped: dict[tuple[str, str], list[str]] = {}
    labels: dict[int, set[str]] = {}
    unmapped: dict[str, set[int]] = {}
    rows = ReferenceLabel.objects.filter(exam__dataset=dataset).values_list("exam_id", "code_system", "code")
    for exam_id, system, code in rows.iterator(chunk_size=5000):
        if (system, code) not in mapped:
            mapped[system, code] = sorted({c.code for c in label_classes(matcher, system, code)})
        labels.setdefault(exam_id, set()).update(mapped[system, code])
        if not mapped[system, code]:
            unmapped.setdefault(f"{system} {code}", set()).add(exam_id)
    total = Exam.objects.filter(dataset=dataset).count()
    return ReferenceTruth(
        labels=labels,
        unmapped={
            label: len(exams) for label, exams in sorted(unmapped.items(), key=lambda i: (-len(i[1]), i[0]))
        },
        unlabelled=total - len(labels),
    )


def suggestions_missing(exam_ids: Iterable[int], provider: Provider) -> list[int]:
    """Exams with no stored suggestion (ok or failed) of this provider version."""
    wanted = set(exam_ids)
    stored = Suggestion.objects.filter(
        exam_id__in=wanted, provider=provider.name, provider_version=provider.version
    ).values_list("exam_id", flat=True)
    return sorted(wanted - set(stored))


def stored_suggestions(exam_ids: Iterable[int], provider: Provider) -> dict[int, Stored]:
    """exam id -> the stored suggestion of this provider version; exams without one are absent."""
    rows = Suggestion.objects.filter(
        exam_id__in=list(exam_ids), provider=provider.name, provider_version=provider.version
    ).values_list("exam_id", "status", "measurements")
    found = {}
    for exam_id, status, measurements in rows.iterator(chunk_size=2000):
        meta = (measurements or {}).get(META) or {}
        found[exam_id] = Stored(
            status=status,
            scores=dict(meta.get("scores") or {}),
            thresholds=dict(meta.get("thresholds") or {}),
            measurements=measurements or {},
        )
    return found


def _score_matrix(
    exam_ids: Sequence[int], codes: Sequence[str], stored: Mapping[int, Stored], provider: Provider
) -> tuple[np.ndarray, np.ndarray]:
    """(scores with NaN where not scored, suggested) as (exams, classes) arrays."""
    column = {code: k for k, code in enumerate(codes)}
    scores = np.full((len(exam_ids), len(codes)), np.nan)
    thresholds = np.full((len(exam_ids), len(codes)), np.inf)
    for e, exam_id in enumerate(exam_ids):
        row = stored.get(exam_id)
        if row is None or row.status != Suggestion.Status.OK:
            continue
        for code, score in row.scores.items():
            if code in column:
                scores[e, column[code]] = score
                fallback = provider.threshold(code) if code in provider.codes else DEFAULT_THRESHOLD
                thresholds[e, column[code]] = row.thresholds.get(code, fallback)
    return scores, np.nan_to_num(scores, nan=-np.inf) >= thresholds


def suggestion_evaluation(
    taxonomy: Taxonomy,
    truth: Mapping[int, set[str]],
    providers: Mapping[str, Provider],
    *,
    n_resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The evaluation of `providers`' stored suggestions on the exams of `truth`, JSON-ready."""
    classes = taxonomy_codes(taxonomy)
    codes = [c.code for c in classes]
    exam_ids = sorted(truth)
    truth_matrix = np.array([[code in truth[e] for code in codes] for e in exam_ids], dtype=bool).reshape(
        len(exam_ids), len(codes)
    )
    stored = {name: stored_suggestions(exam_ids, provider) for name, provider in providers.items()}
    matrices = {name: _score_matrix(exam_ids, codes, stored[name], p) for name, p in providers.items()}
    if len(providers) > 1:
        matrices[STACK] = stacked([m[0] for m in matrices.values()], [m[1] for m in matrices.values()])
    statistics = {
        name: class_statistics(
            truth_matrix, scores, suggested, n_resamples=n_resamples, seed=seed, confidence=confidence
        )
        for name, (scores, suggested) in matrices.items()
    }
    declared = {name: set(p.codes) & set(codes) for name, p in providers.items()}
    declared[STACK] = set().union(*declared.values()) if declared else set()
    return {
        "exams": len(exam_ids),
        "intervals": {
            "method": f"{CI_METHOD} bootstrap over exams",
            "confidence": confidence,
            "resamples": n_resamples,
            "seed": seed,
        },
        "providers": [_provider_summary(p, stored[name], exam_ids) for name, p in providers.items()],
        "classes": _class_rows(classes, statistics, declared),
        "rhythm": _rhythm(codes, truth_matrix, matrices, declared),
        "statements": _statements_reached(classes, matrices, declared),
    }


def _provider_summary(
    provider: Provider, stored: Mapping[int, Stored], exam_ids: Sequence[int]
) -> dict[str, Any]:
    statuses = Counter(stored[e].status for e in exam_ids if e in stored)
    return {
        "name": provider.name,
        "version": provider.version,
        "ok": statuses.get(Suggestion.Status.OK, 0),
        "failed": statuses.get(Suggestion.Status.FAILED, 0),
        "missing": len(exam_ids) - sum(statuses.values()),
    }


def _estimate(stats: ClassStatistics, metric: str, k: int) -> dict[str, Any]:
    def number(value: Any) -> float | None:
        return None if np.isnan(value) else round(float(value), 4)

    return {
        "value": number(stats.point[metric][k]),
        "lower": number(stats.lower[metric][k]),
        "upper": number(stats.upper[metric][k]),
        "defined": round(float(stats.defined[metric][k]), 4),
    }


def _class_rows(
    classes: Sequence[DiagnosticClass],
    statistics: Mapping[str, ClassStatistics],
    declared: Mapping[str, set[Any]],
) -> list[dict[str, Any]]:
    """One entry per class with a positive or a provider that scores it; a row per provider that
    declares the class, and the stack's."""
    rows = []
    any_stats = next(iter(statistics.values()))
    for k, cls in enumerate(classes):
        providers = [name for name in statistics if cls.code in declared[name]]
        if not providers and not any_stats.positives[k]:
            continue
        rows.append(
            {
                "code": cls.code,
                "name": cls.name,
                "group": cls.group,
                "kind": cls.kind,
                "positives": int(any_stats.positives[k]),
                "negatives": int(any_stats.negatives[k]),
                "rows": [
                    {
                        "provider": name,
                        "tp": int(statistics[name].tp[k]),
                        "fp": int(statistics[name].fp[k]),
                        "tn": int(statistics[name].tn[k]),
                        "fn": int(statistics[name].fn[k]),
                        "scored": int(statistics[name].scored[k]),
                        **{metric: _estimate(statistics[name], metric, k) for metric in METRICS},
                    }
                    for name in providers
                ],
            }
        )
    return rows


def _rhythm(
    codes: Sequence[str],
    truth: np.ndarray,
    matrices: Mapping[str, tuple[Any, ...]],
    declared: Mapping[str, set[Any]],
) -> dict[str, Any]:
    """Per provider that suggests rhythms, the confusion of the reference's rhythm with the top-scoring
    suggested rhythm, all on the same labels: sinus rhythm first, ventricular rhythms last, "none" at
    the end."""
    rhythms = [code for code in RHYTHM_PRECEDENCE if code in codes]
    columns = [codes.index(code) for code in rhythms]
    reference = truth_rhythm(truth[:, columns], rhythms)
    found = {
        name: top_rhythm(scores[:, columns], suggested[:, columns], rhythms)
        for name, (scores, suggested) in matrices.items()
        if declared[name] & set(rhythms)
    }
    labels = rhythm_labels(list(reversed(RHYTHM_PRECEDENCE)), reference, *found.values())
    return {
        "labels": labels,
        "matrices": {
            name: rhythm_confusion(reference, mine, labels).tolist() for name, mine in found.items()
        },
    }


def _statements_reached(
    classes: Sequence[DiagnosticClass],
    matrices: Mapping[str, tuple[Any, ...]],
    declared: Mapping[str, set[Any]],
) -> dict[str, Any]:
    """Of the taxonomy's diagnostic statements (technical-quality ones aside): how many each provider
    and the stack can suggest (declared codes the taxonomy has) and how many they suggested on at least
    one evaluated exam."""
    diagnostic = [k for k, c in enumerate(classes) if c.kind == DiagnosticClass.Kind.DIAGNOSTIC]
    codes = {k: classes[k].code for k in diagnostic}
    reached = {}
    for name, (_, suggested) in matrices.items():
        used = {codes[k] for k in diagnostic if suggested[:, k].any()}
        reached[name] = {
            "can_suggest": sum(1 for k in diagnostic if codes[k] in declared[name]),
            "suggested": len(used),
            "codes_suggested": sorted(used),
        }
    return {"diagnostic_statements": len(diagnostic), "providers": reached}
