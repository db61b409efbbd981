"""Specific agreement per class, the prevalence and bias indices, and whole-exam agreement on the exams
that carry a finding.

A rare class is one almost every read leaves unmarked, so almost every pair of reads agrees on it being
absent: observed agreement and Gwet's AC1 then sit near 1 whatever the readers do with the few positives.
These figures separate the two kinds of agreement.

* **Positive / negative specific agreement** (Dice 1945; Fleiss 1975; many readers and missing reads as
  Uebersax generalises it). Exam ``e`` of a class has ``n_e`` reads, ``k_e`` positive, ``m_e = n_e - k_e``
  negative: ``PSA = sum_e k_e (k_e - 1) / sum_e k_e (n_e - 1)``, ``NSA = sum_e m_e (m_e - 1) /
  sum_e m_e (n_e - 1)``: over ordered pairs of reads of an exam, the share of those starting with a
  positive read whose other read is positive too. For two readers this is ``2a / (2a + b + c)`` and
  ``2d / (2d + b + c)``; for many it is the pooled pairwise table ``sum_p 2a_p / sum_p (2a_p + b_p + c_p)``.
  NaN where nobody marked the class (PSA) or everybody did (NSA). Intervals: percentile bootstrap over
  exams with the same resamples as :func:`.bootstrap.bootstrap_agreement` given the same seed (exams are
  the clusters: the pairs of one exam are not independent, so a binomial interval would be too narrow).
* **Prevalence index** ``|a - d| / n`` and **bias index** ``|b - c| / n`` (Byrt, Bishop & Carlin 1993),
  per reader pair over the exams both read, averaged over the pairs that read an exam together.
* **Exams with a finding**: the exact-match rate and mean pairwise Jaccard of :func:`.stats.exam_scores`,
  over the exams read at least twice on which some reader marked some class (the exams every reader left
  empty agree trivially and dominate the rates otherwise). Intervals as the kappas': the percentile
  bootstrap over exams with readers fixed, and with readers a sample of readers
  (:data:`.bootstrap.METHOD_TWO_WAY`) the t interval on Fisher's z scale from a jackknife over exams (or
  patients) and one over readers (:func:`.bootstrap.bootstrap_agreement` says why).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .bootstrap import (
    METHOD_EXAMS,
    METHOD_TWO_WAY,
    _jackknife_weights,
    _two_way_t,
    _unit_index,
    bootstrap_weights,
    multi_read_exams,
)
from .coefficients import binary_confusion
from .reads import MISSING, FloatArray, JsonMixin, _ratio, as_reads, reader_pairs
from .stats import exam_scores

#: Columns of the per-exam sums: PSA numerator and denominator, then NSA's; the exam figures after them.
_PSA_NUM, _PSA_DEN, _NSA_NUM, _NSA_DEN = range(4)


@dataclass(frozen=True)
class SpecificAgreement(JsonMixin):
    """Per-class arrays end in the class axis; ``*_ci`` are ``[2, classes]`` (lower, upper) and
    ``*_defined`` the share of resamples that defined the statistic. Exam figures are scalars."""

    positive: FloatArray
    negative: FloatArray
    positive_ci: FloatArray
    negative_ci: FloatArray
    positive_defined: FloatArray
    negative_defined: FloatArray
    prevalence_index: FloatArray
    bias_index: FloatArray
    n_pairs: FloatArray  # reader pairs with an exam in common, averaged over by the indices
    exact_match_rate_with_findings: float
    exact_match_rate_with_findings_ci: FloatArray
    mean_jaccard_with_findings: float
    mean_jaccard_with_findings_ci: FloatArray
    n_exams_with_findings: int
    n_resamples: int
    seed: int
    confidence: float


def exam_features(reads: npt.NDArray[np.int8]) -> tuple[FloatArray, FloatArray]:
    """Per exam: the four specific-agreement sums per class ``(E, C, 4)``, and ``(E, 3)``: whether it is
    read twice and carries a finding, its exact match and its mean Jaccard there (0 elsewhere)."""
    valid, positive = reads != MISSING, reads == 1
    n = valid.sum(axis=0, dtype=np.int64).astype(float)
    k = positive.sum(axis=0, dtype=np.int64).astype(float)
    m = n - k
    sums = np.stack([k * (k - 1), k * (n - 1), m * (m - 1), m * (n - 1)], axis=-1)
    exact, jaccard, pairable = exam_scores(reads)
    with_finding = (pairable & positive.any(axis=(0, 2))).astype(float)
    return sums, np.stack([with_finding, exact * with_finding, jaccard * with_finding], axis=1)


def prevalence_bias_indices(reads: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per class: mean over reader pairs of ``|a - d| / n`` and ``|b - c| / n``, and how many pairs."""
    reads = as_reads(reads)
    n_classes = reads.shape[2]
    prevalence_sum, bias_sum, n_pairs = np.zeros(n_classes), np.zeros(n_classes), np.zeros(n_classes)
    for a, b in reader_pairs(reads.shape[0]):
        table = binary_confusion(reads[a], reads[b], axis=0)  # (C, 2, 2)
        n = table.sum(axis=(-2, -1))
        met = n > 0
        prevalence_sum += np.where(met, np.abs(table[:, 1, 1] - table[:, 0, 0]) / np.maximum(n, 1), 0.0)
        bias_sum += np.where(met, np.abs(table[:, 1, 0] - table[:, 0, 1]) / np.maximum(n, 1), 0.0)
        n_pairs += met
    return _ratio(prevalence_sum, n_pairs), _ratio(bias_sum, n_pairs), n_pairs


def _percentile(replicates: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """(``[2, ...]`` percentile interval over the resamples that define the statistic, defined share)."""
    tail = (1.0 - confidence) / 2.0
    if replicates.shape[0] == 0:
        empty = np.full(replicates.shape[1:], np.nan)
        return np.stack([empty, empty]), empty
    with warnings.catch_warnings():
        # A statistic no resample defines has an all-NaN slice: its interval is NaN, as intended.
        warnings.simplefilter("ignore", RuntimeWarning)
        bounds = np.nanquantile(replicates, [tail, 1.0 - tail], axis=0)
    return np.clip(bounds, 0.0, 1.0), (~np.isnan(replicates)).mean(axis=0)


def _resampled_sums(
    class_sums: FloatArray, exam_sums: FloatArray, n_resamples: int, seed: int, exam_chunk: int = 4096
) -> tuple[FloatArray, FloatArray]:
    """``W @ features`` for the resamples of :func:`.bootstrap.bootstrap_weights` (exams in chunks)."""
    n_exams, n_classes = class_sums.shape[:2]
    if n_exams == 0:
        return np.zeros((n_resamples, n_classes, 4)), np.zeros((n_resamples, 3))
    weights = bootstrap_weights(n_exams, n_resamples, seed)
    features = np.concatenate([class_sums.reshape(n_exams, -1), exam_sums], axis=1)
    total = np.zeros((n_resamples, features.shape[1]))
    for start in range(0, n_exams, exam_chunk):
        stop = start + exam_chunk
        total += weights[:, start:stop].astype(np.float64) @ features[start:stop]
    return total[:, : n_classes * 4].reshape(n_resamples, n_classes, 4), total[:, n_classes * 4 :]


def _finding_rates(exam_sums: FloatArray) -> FloatArray:
    """(exact-match rate, mean Jaccard) over the exams with a finding, from :func:`exam_features`' sums."""
    return np.stack(
        [_ratio(exam_sums[..., 1], exam_sums[..., 0]), _ratio(exam_sums[..., 2], exam_sums[..., 0])]
    )


def _finding_two_way(
    reads: npt.NDArray[np.int8], exam_sums: FloatArray, units: npt.NDArray[Any], seed: int, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """(lower, upper) of the exams-with-a-finding rates, readers a sample of readers: the jackknife over
    units (exams or patients), over readers (each left out, exams then read once left out) and over both
    (bootstrap._two_way_t)."""
    groups = _jackknife_weights(units, seed).astype(float)
    exam_jack = _finding_rates(groups @ exam_sums).T
    reader_jack, crossed = [], []
    for r in range(reads.shape[0]):
        rest = np.delete(reads, r, axis=0)
        keep = multi_read_exams(rest)
        sums = exam_features(rest[:, keep])[1]
        reader_jack.append(_finding_rates(sums.sum(axis=0)))
        crossed.append(_finding_rates(groups[:, keep] @ sums).T)
    point = _finding_rates(exam_sums.sum(axis=0))
    # Exact match adds a term per reader, mean Jaccard averages over pairs (bootstrap._two_way_t).
    lower, upper = _two_way_t(
        point, exam_jack, np.array(reader_jack), np.array(crossed), confidence, (0.0, 1.0), [True, False]
    )
    return np.where(np.isnan(point), np.nan, lower), np.where(np.isnan(point), np.nan, upper)


def _finding_intervals(
    reads: npt.NDArray[np.int8],
    exam_sums: FloatArray,
    boot_exam: FloatArray,
    method: str,
    options: tuple[Any, ...],
) -> tuple[FloatArray, FloatArray]:
    """The exact-match and Jaccard intervals (each ``[lower, upper]``) by the method (module docstring);
    ``options`` are (units, seed, confidence)."""
    units, seed, confidence = options
    if method == METHOD_TWO_WAY and reads.shape[0] >= 3 and reads.shape[1]:
        lower, upper = _finding_two_way(reads, exam_sums, units, seed, confidence)
        return np.array([lower[0], upper[0]]), np.array([lower[1], upper[1]])
    exact_ci, _ = _percentile(_ratio(boot_exam[:, 1], boot_exam[:, 0]), confidence)
    jaccard_ci, _ = _percentile(_ratio(boot_exam[:, 2], boot_exam[:, 0]), confidence)
    return exact_ci, jaccard_ci


def specific_agreement(
    reads: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    method: str = METHOD_EXAMS,
    clusters: npt.ArrayLike | None = None,
) -> SpecificAgreement:
    """Specific agreement, prevalence and bias indices and exams-with-a-finding figures of ``reads[r, e, c]``
    (formulas in the module docstring), over the exams read at least twice, as the other coefficients.
    ``method`` and ``clusters`` (one label per exam) choose the exams-with-a-finding intervals as
    :func:`.bootstrap.bootstrap_agreement`'s."""
    reads = as_reads(reads)
    keep = multi_read_exams(reads)
    reads = np.ascontiguousarray(reads[:, keep])
    class_sums, exam_sums = exam_features(reads)
    point_class, point_exam = class_sums.sum(axis=0), exam_sums.sum(axis=0)
    boot_class, boot_exam = _resampled_sums(class_sums, exam_sums, n_resamples, seed)
    positive_ci, positive_defined = _percentile(
        _ratio(boot_class[..., _PSA_NUM], boot_class[..., _PSA_DEN]), confidence
    )
    negative_ci, negative_defined = _percentile(
        _ratio(boot_class[..., _NSA_NUM], boot_class[..., _NSA_DEN]), confidence
    )
    units = _unit_index(clusters, keep)[0]
    exact_ci, jaccard_ci = _finding_intervals(reads, exam_sums, boot_exam, method, (units, seed, confidence))
    prevalence_index, bias_index, n_pairs = prevalence_bias_indices(reads)
    return SpecificAgreement(
        positive=_ratio(point_class[:, _PSA_NUM], point_class[:, _PSA_DEN]),
        negative=_ratio(point_class[:, _NSA_NUM], point_class[:, _NSA_DEN]),
        positive_ci=positive_ci,
        negative_ci=negative_ci,
        positive_defined=positive_defined,
        negative_defined=negative_defined,
        prevalence_index=prevalence_index,
        bias_index=bias_index,
        n_pairs=n_pairs,
        exact_match_rate_with_findings=float(_ratio(point_exam[1], point_exam[0])),
        exact_match_rate_with_findings_ci=exact_ci,
        mean_jaccard_with_findings=float(_ratio(point_exam[2], point_exam[0])),
        mean_jaccard_with_findings_ci=jaccard_ci,
        n_exams_with_findings=int(point_exam[0]),
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
    )
