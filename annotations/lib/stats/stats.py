"""Per-class chance-corrected agreement among readers, vectorised across classes.

Every coefficient here is a function of a few *sums over exams* (sufficient statistics), which is what
makes the module fast and the bootstrap cheap: the point estimate sums with weight 1 per exam, a
bootstrap resample sums with the exam's multiplicity in that resample, and both go through the same
formulas (:func:`class_agreement_from_sufficient`).

Notation, per class: exam ``e`` has ``n_e`` non-missing reads of which ``k_e`` are positive. An exam is
*rated* when ``n_e >= 1`` and *pairable* when ``n_e >= 2``. The general (multi-category) formulas in
:func:`.coefficients.table_coefficients` take a units x categories count table ``x[u, j]`` with
``r_u = sum_j x[u, j]``; a class is the two-category case ``x = (n_e - k_e, k_e)``.

Conventions (decided once, tested in tests/agreement/test_agreement_stats.py):

* **Missing reads** are skipped. Observed agreement averages over pairable exams only (an exam with one
  read cannot show agreement); category prevalence averages each rated exam's share of positive reads
  (Gwet 2014, the generalisation of Fleiss' kappa to missing ratings); Krippendorff's alpha uses
  pairable exams only, as Krippendorff defines it. With complete data all of these reduce to the
  textbook formulas, which is what the reference libraries compute.
* **Undefined is NaN, never a guess.** A chance-corrected coefficient ``(P_o - P_e) / (1 - P_e)`` is
  0/0 when chance agreement ``P_e`` is 1, i.e. every read of the class is the same value (a class
  nobody marked, or everyone marked everywhere). Fleiss' kappa, Krippendorff's alpha and Cohen's kappa
  are then NaN and ``chance_agreement_is_one`` is True for the class; this is also what scikit-learn
  and statsmodels return. Gwet's AC1 and PABAK stay defined there (their chance agreement is 0 and 1/2,
  so they equal ``P_o`` and ``2 P_o - 1``: 1.0 when nobody marked the class), which is why they are
  reported for rare classes. Everything except prevalence is NaN when no exam is pairable (one reader).
  Krippendorff's alpha looks at pairable exams only, so it is also NaN when the reads that differ all
  sit on exams read once (then ``chance_agreement_is_one`` is False but alpha has nothing to compare).
  Degeneracy is decided structurally (all counts in one category), not by a floating-point tolerance.
* **Mean pairwise Cohen's kappa** (Light's kappa) averages the pairs whose kappa is defined;
  ``n_pairs_defined`` says how many that was, and it is NaN when none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .coefficients import _confusion_from_pair_counts, cohen_kappa_from_confusion, table_coefficients
from .reads import (
    ALGORITHM_VERSION,
    MISSING,
    BoolArray,
    FloatArray,
    JsonMixin,
    _ratio,
    as_reads,
    reader_pairs,
)

#: Float fields of :class:`ClassAgreement` that are statistics (bootstrapped); the rest are counts/flags.
CLASS_STATISTICS: tuple[str, ...] = (
    "prevalence",
    "observed_agreement",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "pabak",
    "mean_pairwise_kappa",
    "pairwise_kappa",
)

#: Columns of :attr:`SufficientStatistics.pair_counts`, per reader pair (a, b) and class.
PAIR_CO_READ, PAIR_BOTH_POSITIVE, PAIR_A_POSITIVE, PAIR_B_POSITIVE = range(4)

# The general multi-category formulas (table_coefficients, Cohen's kappa) are in .coefficients.


# --------------------------------------------------------------------------------------------------
# Sufficient statistics of a reads array, and the per-class results computed from them
# --------------------------------------------------------------------------------------------------


def unit_table(n_readers: int) -> FloatArray:
    """The count table of every possible exam shape ``(n, k)``: row ``n(n+1)/2 + k`` is ``(n-k, k)``."""
    rows = [(n - k, k) for n in range(n_readers + 1) for k in range(n + 1)]
    return np.asarray(rows, dtype=float)


@dataclass(frozen=True)
class SufficientStatistics:
    """Sums over exams from which every per-class coefficient follows (weighted for the bootstrap).

    ``nk_histogram[..., c, u]``: (weighted) number of exams whose class ``c`` has the shape of row ``u``
    of :func:`unit_table` (``n`` reads, ``k`` positive). ``pair_counts[..., p, c, :]``: for reader pair
    ``p`` (see :func:`reader_pairs`), exams read by both, positive for both, positive for A (where both
    read), positive for B (where both read).
    """

    n_readers: int
    nk_histogram: FloatArray
    pair_counts: FloatArray


def sufficient_statistics(reads: npt.ArrayLike) -> SufficientStatistics:
    """Exact integer sums of a reads array (as floats), one weight per exam."""
    reads = as_reads(reads)
    n_readers, _, n_classes = reads.shape
    valid = reads != MISSING
    positive = reads == 1
    shape = _shape_index(valid, positive)
    n_shapes = (n_readers + 1) * (n_readers + 2) // 2
    flat = (shape + np.arange(n_classes, dtype=np.int32) * n_shapes).ravel()
    histogram = np.bincount(flat, minlength=n_classes * n_shapes).reshape(n_classes, n_shapes)
    pairs = reader_pairs(n_readers)
    pair_counts = np.zeros((len(pairs), n_classes, 4))
    for p, (a, b) in enumerate(pairs):
        both = valid[a] & valid[b]
        pair_counts[p, :, PAIR_CO_READ] = np.count_nonzero(both, axis=0)
        pair_counts[p, :, PAIR_BOTH_POSITIVE] = np.count_nonzero(positive[a] & positive[b], axis=0)
        pair_counts[p, :, PAIR_A_POSITIVE] = np.count_nonzero(positive[a] & valid[b], axis=0)
        pair_counts[p, :, PAIR_B_POSITIVE] = np.count_nonzero(positive[b] & valid[a], axis=0)
    return SufficientStatistics(n_readers, histogram.astype(float), pair_counts)


def _shape_index(valid: BoolArray, positive: BoolArray) -> npt.NDArray[np.int32]:
    """Row of :func:`unit_table` for every (exam, class): ``n(n+1)/2 + k``."""
    # Reader-by-reader int32 accumulation: several times faster than count_nonzero over axis 0.
    n = np.zeros(valid.shape[1:], dtype=np.int32)
    k = np.zeros(valid.shape[1:], dtype=np.int32)
    for r in range(valid.shape[0]):
        n += valid[r]
        k += positive[r]
    return (n * (n + 1) >> 1) + k


@dataclass(frozen=True)
class ClassAgreement(JsonMixin):
    """Per-class agreement; every array ends in the class axis (``pairwise_*`` have a pair axis first).

    Leading batch dimensions appear when computed for many bootstrap resamples at once.
    """

    prevalence: FloatArray
    observed_agreement: FloatArray
    fleiss_kappa: FloatArray
    krippendorff_alpha: FloatArray
    gwet_ac1: FloatArray
    pabak: FloatArray
    mean_pairwise_kappa: FloatArray
    pairwise_kappa: FloatArray  # (..., pairs, classes)
    pairwise_n: FloatArray  # exams read by both readers of the pair
    n_pairs_defined: FloatArray
    n_exams_read: FloatArray
    n_pairable_exams: FloatArray
    chance_agreement_is_one: BoolArray
    reader_pairs: list[tuple[int, int]] = field(default_factory=list)


def class_agreement_from_sufficient(stats: SufficientStatistics) -> ClassAgreement:
    """All per-class coefficients from (possibly weighted, possibly batched) sufficient statistics."""
    table = table_coefficients(unit_table(stats.n_readers), stats.nk_histogram)
    pc = stats.pair_counts
    confusion = _confusion_from_pair_counts(
        pc[..., PAIR_CO_READ], pc[..., PAIR_BOTH_POSITIVE], pc[..., PAIR_A_POSITIVE], pc[..., PAIR_B_POSITIVE]
    )
    pairwise = cohen_kappa_from_confusion(confusion)  # (..., P, C)
    defined = ~np.isnan(pairwise)
    n_defined = defined.sum(axis=-2).astype(float)
    mean_pairwise = _ratio(np.where(defined, pairwise, 0.0).sum(axis=-2), n_defined)
    return ClassAgreement(
        prevalence=table.category_prevalence[..., 1],
        observed_agreement=table.observed_agreement,
        fleiss_kappa=table.fleiss_kappa,
        krippendorff_alpha=table.krippendorff_alpha,
        gwet_ac1=table.gwet_ac1,
        pabak=table.brennan_prediger,
        mean_pairwise_kappa=mean_pairwise,
        pairwise_kappa=pairwise,
        pairwise_n=pc[..., PAIR_CO_READ],
        n_pairs_defined=n_defined,
        n_exams_read=table.n_units_rated,
        n_pairable_exams=table.n_units_pairable,
        chance_agreement_is_one=table.chance_agreement_is_one,
        reader_pairs=reader_pairs(stats.n_readers),
    )


def class_agreement(reads: npt.ArrayLike) -> ClassAgreement:
    """Per-class prevalence, observed agreement, Fleiss' kappa, Krippendorff's alpha (nominal), Gwet's
    AC1, PABAK, and pairwise and mean pairwise Cohen's kappa of ``reads[r, e, c]``."""
    return class_agreement_from_sufficient(sufficient_statistics(reads))


# --------------------------------------------------------------------------------------------------
# Whole-exam (multi-label) agreement
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExamAgreement(JsonMixin):
    """Agreement on whole exams (all classes at once).

    ``exact_match_rate``: share of pairable exams (read by at least two readers) on which every reader
    who read it gave the same label set. ``mean_jaccard``: mean over pairable exams of the mean over
    reader pairs of ``|A & B| / |A | B|`` (label sets over the classes both read); two empty sets count
    as 1.0 (both said "nothing"), which keeps normal-vs-normal exams from being undefined.
    """

    exact_match_rate: FloatArray
    mean_jaccard: FloatArray
    n_pairable_exams: FloatArray


def exam_scores(reads: npt.ArrayLike) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Per exam: exact match (0/1), mean pairwise Jaccard (0 where not pairable) and pairable flag."""
    reads = as_reads(reads)
    n_readers, n_exams, _ = reads.shape
    valid = reads != MISSING
    positive = reads == 1
    n_pairs = np.zeros(n_exams)
    all_identical = np.ones(n_exams, dtype=bool)
    jaccard_sum = np.zeros(n_exams)
    for a, b in reader_pairs(n_readers):
        co_read = valid[a] & valid[b]
        takes_part = co_read.any(axis=1)
        identical = ~(co_read & (reads[a] != reads[b])).any(axis=1)
        inter = np.count_nonzero(positive[a] & positive[b], axis=1)
        union = np.count_nonzero((positive[a] | positive[b]) & co_read, axis=1)
        jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        n_pairs += takes_part
        all_identical &= identical | ~takes_part
        jaccard_sum += np.where(takes_part, jaccard, 0.0)
    pairable = n_pairs > 0
    exact = (all_identical & pairable).astype(float)
    mean_jaccard = np.where(pairable, jaccard_sum / np.maximum(n_pairs, 1), 0.0)
    return exact, mean_jaccard, pairable


def exam_agreement_from_sums(
    n_pairable: FloatArray | np.float64,
    exact_sum: FloatArray | np.float64,
    jaccard_sum: FloatArray | np.float64,
) -> ExamAgreement:
    """Whole-exam agreement from (weighted) sums of :func:`exam_scores` over exams."""
    return ExamAgreement(
        exact_match_rate=_ratio(exact_sum, n_pairable),
        mean_jaccard=_ratio(jaccard_sum, n_pairable),
        n_pairable_exams=np.asarray(n_pairable, dtype=float),
    )


def exam_agreement(reads: npt.ArrayLike) -> ExamAgreement:
    """Whole-exam exact-match rate and mean pairwise Jaccard across readers."""
    exact, jaccard, pairable = exam_scores(reads)
    return exam_agreement_from_sums(
        np.float64(pairable.sum()), np.float64(exact.sum()), np.float64(jaccard.sum())
    )


@dataclass(frozen=True)
class AgreementResult(JsonMixin):
    """Everything :func:`agreement` computes for one batch, with the algorithm version that made it."""

    classes: ClassAgreement
    exams: ExamAgreement
    n_readers: int
    n_exams: int
    n_classes: int
    algorithm_version: str


def agreement(reads: npt.ArrayLike) -> AgreementResult:
    """Per-class and whole-exam agreement of ``reads[r, e, c]`` (no confidence intervals)."""
    reads = as_reads(reads)
    n_readers, n_exams, n_classes = reads.shape
    return AgreementResult(
        classes=class_agreement(reads),
        exams=exam_agreement(reads),
        n_readers=n_readers,
        n_exams=n_exams,
        n_classes=n_classes,
        algorithm_version=ALGORITHM_VERSION,
    )
