"""Seeded bootstrap confidence intervals over exams (or patients), without materialising resamples.

A bootstrap resample draws ``E`` exams with replacement; all that matters to the statistics is how many
times each exam was drawn, ``w[b, e]``. Every statistic in :mod:`.stats` is a function of sums over
exams (:class:`.stats.SufficientStatistics` and the sums of :func:`.stats.exam_scores`), so a resample's
statistics are the same formulas applied to ``sum_e w[b, e] * feature[e]``: one matrix product
``W @ F`` per chunk of exams, where ``F`` holds each exam's 0/1 indicator features (its (n, k) shape per
class and the four pair indicators per reader pair and class). The products are exact: features are
0/1 and weights are small integers, so float32 sums stay integers below 2**24 (checked), and the
replicates equal what recomputing on a materialised resample would give (tested).

All classes share the same resamples (exams are resampled as wholes), so replicates stay jointly
valid, e.g. for comparing two classes. ``defined_fraction`` says in how many resamples a statistic was
defined (a rare class may have resamples in which nobody marked it, making kappa undefined there).

Which interval, and why (checked by simulations with a known truth, tests/agreement):

* Readers fixed (:data:`METHOD_EXAMS`): BCa intervals (bias-corrected and accelerated; Efron 1987,
  JASA 82:171; DiCiccio & Efron 1996, Stat Sci 11:189) over the resamples, the acceleration from a
  jackknife over the resampling unit. Near perfect agreement kappa's sampling distribution is skewed
  against its bound: the percentile interval covered .87 at kappa .96, BCa corrects for that skew.
* Readers random (:data:`METHOD_TWO_WAY`): a reader bootstrap from three to six readers cannot hold its
  level (3 readers give 10 distinct draws; it covered .83-.91 in simulation). Whole-exam agreement
  (exact match, mean Jaccard) gets the same interval, on its range [0, 1]. A t interval on Fisher's z
  scale (atanh, so that it stays inside the coefficient's range and follows its skew near 1), built as
  Obuchowski & Rockette's (1995, Commun Stat Simul 24:285) single-test interval with Hillis's degrees of
  freedom (Hillis 2007, Stat Med 26:596; 2008): the variance is the jackknife over readers (readers plus
  the exam-by-reader noise each reader's values carry) plus the exam variance common to all readers,
  the jackknife over the resampling unit less that noise (estimated from the statistic with a reader and
  a group of exams left out together, the interaction of a two-way analysis of variance), taken at 0
  where negative. The degrees of freedom are Satterthwaite's over those two positive terms: r - 1 for
  the reader jackknife, and for the common term its variance from its per-group terms. Where the
  interaction fits inside the exam jackknife the reader component is also taken at 0 (the total never
  below the exam jackknife). The comment above :func:`_two_way_t` says why, and why not the former
  rule. Two-way resamples still give ``defined_fraction``. Exact match is a sum over its readers on that
  scale, not a mean: its reader terms are counted in full (:data:`EXTENSIVE_STATISTICS`).
* A class with fewer than :data:`MIN_POSITIVE_EXAMS` exams with a positive read gets no interval: its
  coefficients turn on which of its few positives are drawn and no resampling interval holds there
  (one positive exam gave kappa 1 [1, 1]).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from annotations.lib.lazy_imports import HEAVY_IMPORT

from .reads import MISSING, FloatArray, JsonMixin, _ratio, as_reads, reader_pairs
from .stats import (
    CLASS_STATISTICS,
    AgreementResult,
    ClassAgreement,
    ExamAgreement,
    SufficientStatistics,
    _shape_index,
    agreement,
    class_agreement_from_sufficient,
    exam_agreement_from_sums,
    exam_scores,
)


def _special() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """(ndtr, ndtri, stdtrit) from scipy.special, imported when an interval is first computed: a web
    process that only reads stored figures never loads scipy (lib.lazy_imports says why the lock)."""
    with HEAVY_IMPORT:
        from scipy.special import ndtr, ndtri, stdtrit
    return ndtr, ndtri, stdtrit


#: Exam-level statistics that get intervals next to :data:`.stats.CLASS_STATISTICS`.
EXAM_STATISTICS: tuple[str, ...] = ("exact_match_rate", "mean_jaccard")

#: Statistics that add a term per reader rather than average over readers (all readers agree on the
#: exam): their reader jackknife is rescaled (see the comment above :func:`_two_way_t`).
EXTENSIVE_STATISTICS: frozenset[str] = frozenset({"exact_match_rate"})

#: The range each statistic can take: an interval is clipped to it, so it never claims what the
#: coefficient cannot be (with missing reads a resample's Fleiss' kappa can fall below -1).
STATISTIC_RANGES: dict[str, tuple[float, float]] = {
    "prevalence": (0.0, 1.0),
    "observed_agreement": (0.0, 1.0),
    "fleiss_kappa": (-1.0, 1.0),
    "krippendorff_alpha": (-1.0, 1.0),
    "gwet_ac1": (-1.0, 1.0),
    "pabak": (-1.0, 1.0),
    "mean_pairwise_kappa": (-1.0, 1.0),
    "pairwise_kappa": (-1.0, 1.0),
    "exact_match_rate": (0.0, 1.0),
    "mean_jaccard": (0.0, 1.0),
}

#: What an interval is conditional on, as stored with every result and named on every page and card.
METHOD_EXAMS = "exams"
METHOD_TWO_WAY = "exams_and_readers"
BOOTSTRAP_METHODS: dict[str, str] = {
    METHOD_EXAMS: "BCa bootstrap over exams (conditional on these readers)",
    METHOD_TWO_WAY: "two-way interval over exams and readers (readers as a sample of readers)",
}
#: The unit a resample draws: an exam, or a patient with all their exams together.
UNIT_EXAMS = "exams"
UNIT_PATIENTS = "patients"
#: Fewer exams than this with a positive read: no interval for the class (see the module docstring).
MIN_POSITIVE_EXAMS = 5
# More units than this are jackknifed in this many random groups (delete-a-group jackknife).
JACKKNIFE_GROUPS = 200


def default_method(n_readers: int) -> str:
    """Readers as a sample of readers wherever there are enough of them to say so (three)."""
    return METHOD_TWO_WAY if n_readers >= 3 else METHOD_EXAMS


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


def cluster_weights(clusters: npt.ArrayLike, n_resamples: int, seed: int) -> npt.NDArray[np.unsignedinteger]:
    """Like :func:`bootstrap_weights`, but drawing clusters (patients): every exam of a drawn cluster
    counts as often as its cluster was drawn. With one exam per cluster, the same resamples as
    :func:`bootstrap_weights` with the same seed."""
    labels, index = np.unique(np.asarray(clusters), return_inverse=True)
    if len(labels) == len(index):
        return bootstrap_weights(len(index), n_resamples, seed)
    return bootstrap_weights(len(labels), n_resamples, seed)[:, index.ravel()]


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

    @property
    def partial(self) -> npt.NDArray[np.bool_]:
        """Where only part of the resamples defined the statistic: such an interval describes those
        resamples only (a rare class whose kappa exists only when its few positives were drawn) and
        must be shown flagged, with its fraction."""
        fraction = np.asarray(self.defined_fraction, dtype=float)
        return (fraction > 0) & (fraction < 1)


@dataclass(frozen=True)
class BootstrapResult(JsonMixin):
    """Point estimates (:class:`.stats.AgreementResult`) with an :class:`Interval` per statistic."""

    point: AgreementResult
    intervals: dict[str, Interval]
    n_resamples: int
    seed: int
    confidence: float
    method: str = METHOD_EXAMS
    n_exams_dropped: int = 0  # exams read fewer than ``min_reads`` times, left out of agreement
    unit: str = UNIT_EXAMS  # what a resample drew: exams, or patients with all their exams
    positive_exams: npt.NDArray[np.int64] | None = None  # per class: exams with a positive read

    @property
    def too_few_positives(self) -> npt.NDArray[np.bool_]:
        """Classes without an interval: fewer than :data:`MIN_POSITIVE_EXAMS` exams with a positive read."""
        if self.positive_exams is None:
            return np.zeros(0, dtype=bool)
        return np.asarray(self.positive_exams) < MIN_POSITIVE_EXAMS

    @property
    def description(self) -> str:
        unit = "patients (all exams of a patient together)" if self.unit == UNIT_PATIENTS else "exams"
        if self.method == METHOD_TWO_WAY:
            return (
                f"{BOOTSTRAP_METHODS[self.method]}: jackknife over {unit} and over readers, "
                "t interval on Fisher's z scale"
            )
        return f"BCa bootstrap over {unit} (conditional on these readers)"


def _interval(
    replicates: FloatArray, confidence: float, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> Interval:
    """A percentile interval over the defined replicates (test-retest intervals use it)."""
    tail = (1.0 - confidence) / 2.0
    defined = ~np.isnan(replicates)
    if replicates[0].size == 0:
        empty = np.full(replicates.shape[1:], np.nan)
        return Interval(lower=empty, upper=empty.copy(), defined_fraction=empty.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lower, upper = np.nanquantile(replicates, [tail, 1.0 - tail], axis=0)
    low, high = bounds
    return Interval(
        lower=np.clip(lower, low, high),
        upper=np.clip(upper, low, high),
        defined_fraction=defined.mean(axis=0),
    )


def multi_read_exams(reads: npt.ArrayLike, min_reads: int = 2) -> npt.NDArray[np.bool_]:
    """Exams read by at least ``min_reads`` readers (a read covers every class of the exam).

    An exam read once shows no agreement, yet it moves the prevalence a chance-corrected coefficient
    is measured against (and can push Fleiss' kappa below -1): it does not enter agreement.
    """
    reads = as_reads(reads)
    pairable: npt.NDArray[np.bool_] = (reads != MISSING).any(axis=2).sum(axis=0) >= min_reads
    return pairable


def reader_draws(n_readers: int, n_resamples: int, seed: int) -> npt.NDArray[np.intp]:
    """``d[b]``: the readers of resample ``b``, drawn with replacement and sorted (statistics do not
    depend on reader order). Drawn from its own stream so that the exam resamples are the same ones
    the one-way bootstrap with the same seed uses."""
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.integers(0, n_readers, size=(n_resamples, n_readers)), axis=1)


def _two_way_replicates(
    reads: npt.NDArray[np.int8],
    weights: npt.NDArray[Any],
    draws: npt.NDArray[np.intp],
    pairwise_kappa: FloatArray,
    exam_chunk: int,
) -> dict[str, FloatArray]:
    """Per-class replicates when readers are resampled too (``draws``) as well as exams (``weights``).

    A reader drawn ``m`` times weighs ``m`` times, but copies of one reader are never paired with each
    other: agreement is counted over pairs of *distinct* readers, weighted ``m_a m_b`` (a reader copied
    next to itself would agree perfectly and inflate every coefficient). Per exam, observed agreement is
    the weighted share of agreeing distinct-reader pairs and prevalence the weighted share of positive
    reads; Fleiss' kappa, Gwet's AC1 and PABAK follow as in :func:`.coefficients.table_coefficients`, and
    mean pairwise kappa is the ``m_a m_b``-weighted mean of the resampled pairwise kappas. Krippendorff's
    alpha gets no two-way replicates (NaN); per-pair kappa keeps its exam-only replicates. Resamples
    that drew the same readers share one pass over the exams (3 readers have 10 distinct draws, 5
    readers 126).
    """
    n_readers, _, n_classes = reads.shape
    n_resamples = weights.shape[0]
    pairs = reader_pairs(n_readers)
    out = {name: np.full((n_resamples, n_classes), np.nan) for name in CLASS_STATISTICS}
    # A pair's kappa is about that pair of readers: its interval resamples exams only.
    out["pairwise_kappa"] = pairwise_kappa
    unique, group = np.unique(draws, axis=0, return_inverse=True)
    for g, drawn in enumerate(unique):
        rows = np.nonzero(group.ravel() == g)[0]
        m = np.bincount(drawn, minlength=n_readers).astype(float)
        pair_weight = np.array([m[a] * m[b] for a, b in pairs])
        sums = _two_way_sums(reads, weights[rows].astype(float), m, pair_weight, exam_chunk)
        _two_way_coefficients(out, rows, sums, pairwise_kappa[rows], pair_weight)
    return out


def _two_way_sums(
    reads: npt.NDArray[np.int8], w: FloatArray, m: FloatArray, pair_weight: FloatArray, exam_chunk: int
) -> FloatArray:
    """``sums[i, b, c]`` over exams weighted ``w[b, e]``, for readers weighed ``m``: the per-exam share
    of agreeing distinct-reader pairs (i=0), pairable (1), share of positive reads (2), rated (3)."""
    n_exams, n_classes = reads.shape[1:]
    pairs = reader_pairs(reads.shape[0])
    valid, positive = reads != MISSING, reads == 1
    sums = np.zeros((4, w.shape[0], n_classes))
    for start in range(0, n_exams, exam_chunk):
        part = slice(start, start + exam_chunk)
        n_reads = np.tensordot(m, valid[:, part], axes=1)
        n_positive = np.tensordot(m, positive[:, part], axes=1)
        n_pairs = np.zeros(n_reads.shape)
        n_agree = np.zeros(n_reads.shape)
        for p, (a, b) in enumerate(pairs):
            if pair_weight[p]:
                both = valid[a, part] & valid[b, part]
                n_pairs += pair_weight[p] * both
                n_agree += pair_weight[p] * (both & (reads[a, part] == reads[b, part]))
        pairable, rated = n_pairs > 0, n_reads > 0
        terms = (
            np.where(pairable, n_agree / np.where(pairable, n_pairs, 1.0), 0.0),
            pairable,
            np.where(rated, n_positive / np.where(rated, n_reads, 1.0), 0.0),
            rated,
        )
        for i, term in enumerate(terms):
            sums[i] += w[:, part] @ term.astype(float)
    return sums


def _two_way_coefficients(
    out: dict[str, FloatArray],
    rows: npt.NDArray[np.intp],
    sums: FloatArray,
    kappas: FloatArray,
    pair_weight: FloatArray,
) -> None:
    """Fill ``out[...][rows]`` from :func:`_two_way_sums`; ``kappas`` are the rows' pairwise kappas."""
    observed = _ratio(sums[0], sums[1])
    prevalence = _ratio(sums[2], sums[3])
    has_pairs = sums[1] > 0
    single = (prevalence == 0.0) | (prevalence == 1.0)
    chance = prevalence**2 + (1.0 - prevalence) ** 2
    out["prevalence"][rows] = prevalence
    out["observed_agreement"][rows] = observed
    out["fleiss_kappa"][rows] = _ratio(observed - chance, 1.0 - chance, has_pairs & ~single)
    chance_ac1 = 2.0 * prevalence * (1.0 - prevalence)
    out["gwet_ac1"][rows] = _ratio(observed - chance_ac1, 1.0 - chance_ac1, has_pairs)
    out["pabak"][rows] = np.where(has_pairs, 2.0 * observed - 1.0, np.nan)
    defined = ~np.isnan(kappas) & (pair_weight[None, :, None] > 0)  # kappas: (resamples, pairs, classes)
    out["mean_pairwise_kappa"][rows] = _ratio(
        (np.where(defined, kappas, 0.0) * pair_weight[None, :, None]).sum(axis=1),
        (defined * pair_weight[None, :, None]).sum(axis=1),
    )


def _replicates(
    reads: npt.NDArray[np.int8], weights: npt.NDArray[Any], seed: int, method: str, exam_chunk: int
) -> dict[str, FloatArray]:
    """Every statistic's replicates, class statistics first, by the bootstrap ``method``."""
    n_resamples = weights.shape[0]
    classes, exams = bootstrap_replicates(reads, weights, exam_chunk=exam_chunk)
    class_replicates = {name: getattr(classes, name) for name in CLASS_STATISTICS}
    exam_replicates = {name: getattr(exams, name) for name in EXAM_STATISTICS}
    if method == METHOD_TWO_WAY:
        draws = reader_draws(reads.shape[0], n_resamples, seed)
        class_replicates = _two_way_replicates(reads, weights, draws, classes.pairwise_kappa, exam_chunk)
        # Whole-exam agreement keeps its exam resamples, which say where it is defined; its two-way
        # interval comes from the jackknifes (_intervals), as the class statistics' does.
    return class_replicates | exam_replicates


def _jackknife_weights(clusters: npt.NDArray[np.intp], seed: int) -> npt.NDArray[np.uint8]:
    """``w[g, e]``: 0 for the exams of the left-out group ``g``, 1 elsewhere. One group per cluster, or
    :data:`JACKKNIFE_GROUPS` random groups of clusters where there are more (delete-a-group jackknife)."""
    n_clusters = int(clusters.max()) + 1 if clusters.size else 0
    if n_clusters > JACKKNIFE_GROUPS:
        groups = np.random.default_rng([seed, 2]).permutation(n_clusters) % JACKKNIFE_GROUPS
        clusters, n_clusters = groups[clusters], JACKKNIFE_GROUPS
    weights: npt.NDArray[np.uint8] = (clusters[None, :] != np.arange(n_clusters)[:, None]).astype(np.uint8)
    return weights


def _exam_jackknife(
    reads: npt.NDArray[np.int8], weights: npt.NDArray[np.uint8], exam_chunk: int
) -> dict[str, FloatArray]:
    """Every statistic with each group of clusters left out in turn (``weights``: _jackknife_weights):
    arrays with a leading group axis."""
    if reads.shape[1] == 0:
        return {}
    classes, exams = bootstrap_replicates(reads, weights, exam_chunk=exam_chunk)
    return {name: getattr(classes, name) for name in CLASS_STATISTICS} | {
        name: getattr(exams, name) for name in EXAM_STATISTICS
    }


def _reader_jackknife(
    reads: npt.NDArray[np.int8], min_reads: int, exam_weights: npt.NDArray[np.uint8], exam_chunk: int
) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Class and whole-exam statistics with each reader left out in turn (exams then read once left out,
    as always), and the same with each group of exams of ``exam_weights`` left out too: (reader-deleted,
    arrays with a leading reader axis; reader-and-group-deleted, readers x groups). Per-pair kappa is
    about its pair and has none."""
    alone, crossed = [], []
    for r in range(reads.shape[0]):
        rest = np.delete(reads, r, axis=0)
        keep = multi_read_exams(rest, min_reads)
        alone.append(agreement(rest[:, keep]))
        crossed.append(bootstrap_replicates(rest[:, keep], exam_weights[:, keep], exam_chunk=exam_chunk))
    names = [name for name in CLASS_STATISTICS if name != "pairwise_kappa"]
    deleted = {name: np.stack([getattr(v.classes, name) for v in alone]) for name in names}
    deleted |= {name: np.array([getattr(v.exams, name) for v in alone]) for name in EXAM_STATISTICS}
    both = {name: np.stack([getattr(c, name) for c, _ in crossed]) for name in names}
    both |= {name: np.stack([getattr(e, name) for _, e in crossed]) for name in EXAM_STATISTICS}
    return deleted, both


def _quantiles(replicates: FloatArray, levels: FloatArray) -> FloatArray:
    """Per-cell quantile of the defined replicates at a per-cell level (np.quantile's linear rule)."""
    ordered = np.sort(replicates, axis=0)  # NaN last
    n = (~np.isnan(replicates)).sum(axis=0)
    position = np.clip(np.nan_to_num(levels) * (n - 1), 0, np.maximum(n - 1, 0))
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, np.maximum(n - 1, 0))
    low = np.take_along_axis(ordered, below[None], axis=0)[0]
    high = np.take_along_axis(ordered, above[None], axis=0)[0]
    return np.where(n > 0, low + (position - below) * (high - low), np.nan)


def _acceleration(jackknife: FloatArray) -> FloatArray:
    """BCa acceleration from jackknife values: sum d^3 / (6 (sum d^2)^1.5), d = mean - value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = np.nanmean(jackknife, axis=0) - jackknife
        spread = np.nansum(d**2, axis=0)
        return np.where(
            spread > 0, np.nansum(d**3, axis=0) / (6.0 * np.where(spread > 0, spread, 1) ** 1.5), 0
        )


def _bca(
    replicates: FloatArray, point: FloatArray, jackknife: FloatArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """(lower, upper) BCa bounds; replicates (resamples, ...), jackknife (groups, ...), point (...)."""
    tail = (1.0 - confidence) / 2.0
    n = np.maximum((~np.isnan(replicates)).sum(axis=0), 1)
    below = (replicates < point).sum(axis=0) + 0.5 * (replicates == point).sum(axis=0)
    ndtr, ndtri, _ = _special()
    bias = ndtri(np.clip(below / n, 0.5 / n, 1.0 - 0.5 / n))
    a = _acceleration(jackknife)
    bounds = []
    for z in (ndtri(tail), ndtri(1.0 - tail)):
        level = ndtr(bias + (bias + z) / (1.0 - a * (bias + z)))
        bounds.append(np.where(np.isnan(point), np.nan, _quantiles(replicates, level)))
    return bounds[0], bounds[1]


def _to_z(values: FloatArray, bounds: tuple[float, float]) -> FloatArray:
    """Fisher's z of a statistic mapped from its range onto (-1, 1); the bounds themselves just inside."""
    low, high = bounds
    scaled = (2.0 * np.asarray(values, dtype=float) - low - high) / (high - low)
    return np.arctanh(np.clip(scaled, -1.0 + 1e-9, 1.0 - 1e-9))


def _from_z(values: FloatArray, bounds: tuple[float, float]) -> FloatArray:
    low, high = bounds
    return (np.tanh(values) * (high - low) + low + high) / 2.0


def _jackknife_variance(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(variance, units): the jackknife variance (n-1)/n sum (v - mean)^2 over the defined values."""
    shares, n = _jackknife_shares(values)
    return np.where(n > 1, np.nansum(shares, axis=0), 0.0), n


def _jackknife_shares(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(shares, units): each left-out unit's term (n-1)/n (v - mean)^2 of the jackknife variance (NaN
    where the value is undefined), and how many units defined it."""
    n = (~np.isnan(values)).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shares: FloatArray = (n - 1) / np.maximum(n, 1) * (values - np.nanmean(values, axis=0)) ** 2
    return shares, n


def _interaction_shares(crossed: FloatArray) -> FloatArray:
    """Each exam group's term of the exam-by-reader noise both one-way jackknifes count: (r - 1) / r
    (g - 1) / g times the squares, summed over readers, of the double-centred values with reader j and
    group g left out (``crossed``: readers x groups x ...), as the interaction of a two-way analysis of
    variance. Groups x ...; their sum is that interaction."""
    n_readers, n_groups = crossed.shape[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        residual = (
            crossed
            - np.nanmean(crossed, axis=1, keepdims=True)
            - np.nanmean(crossed, axis=0, keepdims=True)
            + np.nanmean(crossed, axis=(0, 1))
        )
        squares = np.nansum(residual**2, axis=0)
    scale = (n_readers - 1) / max(n_readers, 1) * (n_groups - 1) / max(n_groups, 1)
    shares: FloatArray = scale * squares
    return shares


def _common_exam_variance(
    exam_z: FloatArray, crossed_z: FloatArray, reader_scale: FloatArray | float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """(common, its variance): the exam variance common to all readers, the jackknife over exam groups
    less the exam-by-reader interaction, and the variance of that difference from its per-group terms.

    Both are sums over the same left-out groups, so they share most of their noise: the variance of the
    difference is that of the groups' differences (times the number of groups), which counts their
    covariance, where independent chi-squares for each would not. ``reader_scale`` multiplies the
    interaction as :func:`_two_way_t` multiplies the reader jackknife (its comment says why)."""
    exam_shares, n = _jackknife_shares(exam_z)
    both_shares = _interaction_shares(crossed_z) * reader_scale
    difference = np.where(np.isnan(exam_shares), np.nan, exam_shares - both_shares)
    common = np.nansum(exam_shares, axis=0) - np.nansum(both_shares, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nansum((difference - np.nanmean(difference, axis=0)) ** 2, axis=0)
    noise: FloatArray = np.where(n > 1, n / np.maximum(n - 1, 1) * spread, 0.0)
    return np.where(n > 1, common, 0.0), noise


# Why this variance and these degrees of freedom (simulations in tests/agreement; Hillis 2007, 2008).
# Expectations on the z scale: V_R = reader variance + the exam noise in the values with a reader left
# out; V_RE = that noise; V_E = the exam variance common to the readers + the noise as the full statistic
# carries it. For a mean over readers the two noises are equal and V_E + V_R - V_RE is unbiased. Kappa is
# a mean over reader pairs (a U-statistic of degree 2 in readers): the reader jackknife, and with it the
# interaction, counts the exam-by-pair part of the noise 2(r - 1)/(r - 2) times (four times with three
# readers) while V_E counts it once, so near perfect agreement V_RE exceeds V_E (94% of three-expert
# studies). The former rule, V_E + V_R - V_RE floored at V_E and at V_R with Satterthwaite's degrees of
# freedom over the three as independent chi-squares, one subtracted, then leaned on that inflated V_R
# and gave it about 2 degrees of freedom even where the reader variance was nil: three experts covered
# .985. Obuchowski and Rockette's form keeps every term positive: V_R, whose r - 1 degrees of freedom
# carry the reader sampling, plus the common term V_E - V_RE (0 where negative, which is then
# conservative by the pair-noise excess V_R carries), whose variance comes from its per-group terms
# (both sums run over the same left-out groups, so their covariance counts). With that variance small
# this is Hillis's ddf_H, shown by Hillis to hold the level where DBM's Satterthwaite over three mean
# squares was conservative, as it was here.
#
# ``extensive``: a statistic whose value is a sum over its readers rather than a mean, where the
# jackknife's (r - 1)/r sum of squares assumes a mean. The exact-match rate is the share of exams on
# which all r readers agree: per exam a product over readers of each one's chance of reading it as the
# others do, so its log (and, where agreement is not near 1, its logit: Fisher's z of a [0, 1] statistic
# is half its logit) adds one term per reader whatever r is. Leaving a reader out then moves it by that
# reader's whole term, not by 1/(r - 1) of it: the delete-one values differ by (x_j - mean) where a
# mean's differ by (x_j - mean)/(r - 1), so the jackknife counts (r - 1)^2/r of the r terms' variance.
# The reader jackknife and the interaction (both from reader-deleted values) are multiplied by
# (r/(r - 1))^2 to count all r; the exam jackknife keeps every reader and needs nothing. Mean Jaccard and
# the kappas are means over reader pairs and are not extensive. Without it exact match covered .924 with
# 3 readers and .916 on exams with a finding. A reader's term is taken as the same on every exam; where
# it varies the factor counts too much (the variance came out 20-45% above the observed one), so the
# interval errs wide: .961-.968 over 2,500 studies per setting (docs/agreement-statistics.md).
def _two_way_t(
    point: FloatArray,
    exam_jack: FloatArray,
    reader_jack: FloatArray,
    crossed_jack: FloatArray,
    confidence: float,
    bounds: tuple[float, float],
    extensive: npt.ArrayLike = False,
) -> tuple[FloatArray, FloatArray]:
    """(lower, upper): Fisher-z t interval from the jackknife over exam groups (groups x ...), over
    readers (readers x ...) and over both (readers x groups x ...); ``extensive`` (per statistic, or
    one for all) marks a sum over readers such as the exact-match rate. See the comment above and the
    module docstring."""
    exam_z = _to_z(exam_jack, bounds)
    exam_var, n_exam = _jackknife_variance(exam_z)
    n_readers = reader_jack.shape[0]
    scale = np.where(np.asarray(extensive, dtype=bool), (n_readers / max(n_readers - 1, 1)) ** 2, 1.0)
    reader_var, n_reader = _jackknife_variance(_to_z(reader_jack, bounds))
    reader_var = reader_var * scale
    common, common_noise = _common_exam_variance(exam_z, _to_z(crossed_jack, bounds), scale)
    total = reader_var + np.maximum(common, 0.0)
    # Where the interaction fits inside the exam jackknife (common >= 0) the three terms are the components
    # of a two-way analysis of variance; the readers' one (V_R - V_RE) is then taken at 0 like any variance
    # component, which keeps the total at V_E at least (readers add variance, never remove it).
    total = np.where(common >= 0, np.maximum(total, exam_var), total)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        df = total**2 / (
            reader_var**2 / np.maximum(n_reader - 1, 1) + np.where(common > 0, common_noise / 2.0, 0.0)
        )
    # Readers that tie (every reader left out gives the same value, as discrete reads can) leave no
    # reader term at all: the readers-fixed variance over exams stands in rather than a zero width.
    tied = total <= 0
    total = np.where(tied, exam_var, total)
    df = np.where(tied, np.maximum(n_exam - 1, 1), df)
    stdtrit = _special()[2]
    usable = (total > 0) & (df > 0)
    t = np.where(usable, stdtrit(np.where(usable, df, 1.0), 1.0 - (1.0 - confidence) / 2.0), 0.0)
    centre, half = _to_z(point, bounds), t * np.sqrt(total)
    return _from_z(centre - half, bounds), _from_z(centre + half, bounds)


def _positive_exams(reads: npt.NDArray[np.int8]) -> npt.NDArray[np.int64]:
    positives: npt.NDArray[np.int64] = (reads == 1).any(axis=0).sum(axis=0).astype(np.int64)
    return positives


def _unit_index(clusters: npt.ArrayLike | None, keep: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[Any], str]:
    """Each kept exam's cluster as 0..k-1, and the unit: patients where some cluster has several exams."""
    n = int(keep.sum())
    if clusters is None:
        return np.arange(n), UNIT_EXAMS
    _, index = np.unique(np.asarray(clusters)[keep], return_inverse=True)
    index = index.ravel()
    return index, UNIT_PATIENTS if len(np.unique(index)) < n else UNIT_EXAMS


# Every statistic's interval by the method: BCa (readers fixed), or the two-way t interval (readers
# random; per-pair kappa, about its pair, keeps BCa), then no interval for classes with too few positives.
def _intervals(
    reads: npt.NDArray[np.int8],
    replicates: dict[str, FloatArray],
    point: AgreementResult,
    jackknife: tuple[dict[str, FloatArray], tuple[dict[str, FloatArray], dict[str, FloatArray]]],
    method: str,
    confidence: float,
) -> dict[str, Interval]:
    exam_jack, reader_jack = jackknife
    too_few = _positive_exams(reads) < MIN_POSITIVE_EXAMS
    out = {}
    for name, values in replicates.items():
        values = np.asarray(values, dtype=float)
        bounds = STATISTIC_RANGES[name]
        estimate = np.asarray(
            getattr(point.classes if name in CLASS_STATISTICS else point.exams, name), float
        )
        defined = (~np.isnan(values)).mean(axis=0) if values.shape[0] else np.full(values.shape[1:], np.nan)
        if values[0].size == 0 or name not in exam_jack:
            lower = upper = np.full(values.shape[1:], np.nan)
        elif method == METHOD_TWO_WAY and name in reader_jack[0]:
            lower, upper = _two_way_t(
                estimate,
                exam_jack[name],
                reader_jack[0][name],
                reader_jack[1][name],
                confidence,
                bounds,
                extensive=name in EXTENSIVE_STATISTICS,
            )
            lower, upper = (
                np.where(np.isnan(estimate), np.nan, lower),
                np.where(np.isnan(estimate), np.nan, upper),
            )
        else:
            lower, upper = _bca(values, estimate, exam_jack[name], confidence)
        lower, upper = np.clip(lower, *bounds), np.clip(upper, *bounds)
        if name in CLASS_STATISTICS and too_few.size:
            lower, upper = np.where(too_few, np.nan, lower), np.where(too_few, np.nan, upper)
        out[name] = Interval(lower=lower, upper=upper, defined_fraction=defined)
    return out


# The public entry: filters exams read once, picks the resampling unit, then replicates and jackknifes.
def bootstrap_agreement(
    reads: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    exam_chunk: int = 4096,
    method: str = METHOD_EXAMS,
    min_reads: int = 2,
    clusters: npt.ArrayLike | None = None,
) -> BootstrapResult:
    """Point estimates and intervals for every statistic (which interval: the module docstring).

    ``method`` :data:`METHOD_EXAMS` resamples exams: the interval is conditional on these readers.
    :data:`METHOD_TWO_WAY` takes readers as a sample of readers too, so the interval speaks for readers
    like these; it needs at least three readers (:func:`default_method`). ``clusters`` (one label per
    exam, e.g. the patient) makes the unit a cluster: its exams are drawn, and left out, together. Exams
    read by fewer than ``min_reads`` readers are left out of the point estimates and the intervals
    (:func:`multi_read_exams`). Intervals are clipped to each statistic's range (:data:`STATISTIC_RANGES`).

    Reproducible: the same reads, ``n_resamples``, ``seed``, ``method`` and clusters give the same intervals.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"unknown bootstrap method {method!r}; use one of {sorted(BOOTSTRAP_METHODS)}")
    reads = as_reads(reads)
    keep = multi_read_exams(reads, min_reads) if min_reads > 1 else np.ones(reads.shape[1], dtype=bool)
    dropped = int((~keep).sum())
    reads = np.ascontiguousarray(reads[:, keep])
    if method == METHOD_TWO_WAY and reads.shape[0] < 3:
        raise ValueError("a bootstrap over readers needs at least three readers")
    units, unit = _unit_index(clusters, keep)
    if reads.shape[1] == 0:
        weights = np.zeros((n_resamples, 0), dtype=np.uint8)
    else:
        weights = cluster_weights(units, n_resamples, seed)
    replicates = _replicates(reads, weights, seed, method, exam_chunk)
    groups = _jackknife_weights(units, seed)
    jackknife = (
        _exam_jackknife(reads, groups, exam_chunk),
        _reader_jackknife(reads, min_reads, groups, exam_chunk) if method == METHOD_TWO_WAY else ({}, {}),
    )
    point = agreement(reads)
    return BootstrapResult(
        point=point,
        intervals=_intervals(reads, replicates, point, jackknife, method, confidence),
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        method=method,
        n_exams_dropped=dropped,
        unit=unit,
        positive_exams=_positive_exams(reads),
    )
