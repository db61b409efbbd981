"""Seeded percentile-bootstrap confidence intervals over exams, without materialising resamples.

A bootstrap resample draws ``E`` exams with replacement; all that matters to the statistics is how many
times each exam was drawn, ``w[b, e]``. Every statistic in :mod:`.stats` is a function of sums over
exams (:class:`.stats.SufficientStatistics` and the sums of :func:`.stats.exam_scores`), so a resample's
statistics are the same formulas applied to ``sum_e w[b, e] * feature[e]``: one matrix product
``W @ F`` per chunk of exams, where ``F`` holds each exam's 0/1 indicator features (its (n, k) shape per
class and the four pair indicators per reader pair and class). The products are exact: features are
0/1 and weights are small integers, so float32 sums stay integers below 2**24 (checked), and the
replicates equal what recomputing on a materialised resample would give (tested).

All classes share the same resamples (exams are resampled as wholes), so replicates stay jointly
valid, e.g. for comparing two classes. Intervals are percentile intervals over the resamples in which
the statistic is defined; ``defined_fraction`` says how many that was (a rare class may have resamples
in which nobody marked it, making kappa undefined there).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, JsonMixin, as_reads, reader_pairs
from .stats import (
    CLASS_STATISTICS,
    AgreementResult,
    ClassAgreement,
    ExamAgreement,
    FloatArray,
    SufficientStatistics,
    _shape_index,
    agreement,
    class_agreement_from_sufficient,
    exam_agreement_from_sums,
    exam_scores,
)

#: Exam-level statistics that get intervals next to :data:`.stats.CLASS_STATISTICS`.
EXAM_STATISTICS: tuple[str, ...] = ("exact_match_rate", "mean_jaccard")

# Largest integer a float32 sum can hold exactly: beyond it the exam-chunk products use float64.
_FLOAT32_EXACT = 2**24


def bootstrap_weights(n_exams: int, n_resamples: int, seed: int) -> npt.NDArray[np.unsignedinteger]:
    """``w[b, e]``: how often exam ``e`` is drawn in resample ``b`` (each row sums to ``n_exams``).

    Draws ``n_exams`` indices uniformly with replacement per resample from
    ``numpy.random.default_rng(seed)``, so the same seed gives the same resamples on every machine
    and numpy version with the same bit generator (PCG64). Stored as uint8 (100 MB for 1,000 x 100,000)
    unless some count exceeds 255, which for large batches is practically impossible (Poisson(1) tail).
    """
    if n_exams < 1 or n_resamples < 1:
        raise ValueError("need at least one exam and one resample")
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, n_exams), dtype=np.uint8)
    for b in range(n_resamples):
        counts = np.bincount(rng.integers(0, n_exams, size=n_exams), minlength=n_exams)
        if counts.max() > np.iinfo(out.dtype).max:
            out = out.astype(np.uint32)
        out[b] = counts
    return out


def _exam_features(reads: npt.NDArray[np.int8]) -> npt.NDArray[np.float32]:
    """0/1 features per (exam, class) whose weighted sums are the sufficient statistics.

    Columns per class: one-hot of the (n, k) shape (``n_shapes`` columns), then per reader pair
    co-read, both positive, A positive (co-read), B positive (co-read).
    """
    n_readers, n_exams, n_classes = reads.shape
    valid = reads != MISSING
    positive = reads == 1
    n_shapes = (n_readers + 1) * (n_readers + 2) // 2
    pairs = reader_pairs(n_readers)
    features = np.zeros((n_exams, n_classes, n_shapes + 4 * len(pairs)), dtype=np.float32)
    np.put_along_axis(features, _shape_index(valid, positive)[..., None], 1.0, axis=2)
    for p, (a, b) in enumerate(pairs):
        both = valid[a] & valid[b]
        column = n_shapes + 4 * p
        features[:, :, column] = both
        features[:, :, column + 1] = positive[a] & positive[b]
        features[:, :, column + 2] = positive[a] & valid[b]
        features[:, :, column + 3] = positive[b] & valid[a]
    return features


def bootstrap_replicates(
    reads: npt.ArrayLike, weights: npt.ArrayLike, *, exam_chunk: int = 4096
) -> tuple[ClassAgreement, ExamAgreement]:
    """Statistics of every resample given by ``weights[b, e]``: arrays with a leading resample axis."""
    reads = as_reads(reads)
    weights = np.asarray(weights)
    n_readers, n_exams, n_classes = reads.shape
    if weights.ndim != 2 or weights.shape[1] != n_exams:
        raise ValueError(f"weights must be resamples x {n_exams} exams, got {weights.shape}")
    n_resamples = weights.shape[0]
    n_shapes = (n_readers + 1) * (n_readers + 2) // 2
    n_pairs = len(reader_pairs(n_readers))
    width = n_shapes + 4 * n_pairs
    # Largest possible sum is the largest total weight of a resample; float32 is exact below 2**24.
    dtype = np.float32 if int(weights.sum(axis=1, dtype=np.int64).max()) < _FLOAT32_EXACT else np.float64

    class_sums = np.zeros((n_resamples, n_classes * width))
    exam_sums = np.zeros((n_resamples, 3))
    for start in range(0, n_exams, exam_chunk):
        chunk = reads[:, start : start + exam_chunk]
        w = weights[:, start : start + exam_chunk]
        features = _exam_features(chunk).reshape(chunk.shape[1], n_classes * width)
        class_sums += w.astype(dtype) @ features.astype(dtype, copy=False)
        exact, jaccard, pairable = exam_scores(chunk)
        # Jaccard values are fractions: float64 so the sums match a direct computation to 1e-12.
        exam_sums += w.astype(np.float64) @ np.stack([pairable, exact, jaccard], axis=1)

    class_sums = class_sums.reshape(n_resamples, n_classes, width)
    pair_counts = (
        class_sums[:, :, n_shapes:].reshape(n_resamples, n_classes, n_pairs, 4).transpose(0, 2, 1, 3)
    )
    stats = SufficientStatistics(n_readers, class_sums[:, :, :n_shapes], np.ascontiguousarray(pair_counts))
    exams = exam_agreement_from_sums(exam_sums[:, 0], exam_sums[:, 1], exam_sums[:, 2])
    return class_agreement_from_sufficient(stats), exams


@dataclass(frozen=True)
class Interval(JsonMixin):
    """A percentile bootstrap interval, shaped like the statistic it bounds."""

    lower: FloatArray
    upper: FloatArray
    defined_fraction: FloatArray  # share of resamples in which the statistic was defined (not NaN)


@dataclass(frozen=True)
class BootstrapResult(JsonMixin):
    """Point estimates (:class:`.stats.AgreementResult`) with an :class:`Interval` per statistic."""

    point: AgreementResult
    intervals: dict[str, Interval]
    n_resamples: int
    seed: int
    confidence: float
    method: str = "percentile bootstrap over exams"


def _interval(replicates: FloatArray, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2.0
    defined = ~np.isnan(replicates)
    if replicates[0].size == 0:  # e.g. pairwise kappa with a single reader: no pairs at all
        empty = np.full(replicates.shape[1:], np.nan)
        return Interval(lower=empty, upper=empty.copy(), defined_fraction=empty.copy())
    with warnings.catch_warnings():
        # A statistic undefined in every resample has an all-NaN slice: its interval is NaN, as intended.
        warnings.simplefilter("ignore", RuntimeWarning)
        lower, upper = np.nanquantile(replicates, [tail, 1.0 - tail], axis=0)
    return Interval(lower=lower, upper=upper, defined_fraction=defined.mean(axis=0))


def bootstrap_agreement(
    reads: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    exam_chunk: int = 4096,
) -> BootstrapResult:
    """Point estimates and percentile bootstrap intervals (resampling exams) for every statistic.

    Reproducible: the same reads, ``n_resamples`` and ``seed`` give the same intervals.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    reads = as_reads(reads)
    weights = bootstrap_weights(reads.shape[1], n_resamples, seed)
    classes, exams = bootstrap_replicates(reads, weights, exam_chunk=exam_chunk)
    intervals = {name: _interval(getattr(classes, name), confidence) for name in CLASS_STATISTICS}
    intervals |= {name: _interval(getattr(exams, name), confidence) for name in EXAM_STATISTICS}
    return BootstrapResult(
        point=agreement(reads),
        intervals=intervals,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
    )
