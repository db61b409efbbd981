"""Per-reader performance: against a reference (consensus or adjudication), gold exams, and retests.

All functions take ``reads[r, e, c]`` as in :mod:`.reads` and compare cell by cell, skipping cells
where either side is missing. Ratios with an empty denominator (no reference-positive exams for a
sensitivity, say) are NaN, never 0, so "not measurable" cannot be mistaken for "always wrong".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from annotations.lib.stats.bootstrap import _interval, bootstrap_weights

from .coefficients import _confusion_from_pair_counts, binary_confusion, cohen_kappa_from_confusion
from .majority import majority_vote
from .reads import MISSING, FloatArray, JsonMixin, _ratio, as_reads


@dataclass(frozen=True)
class ReaderVsReference(JsonMixin):
    """Each reader against a reference labelling; arrays are readers x classes.

    ``sensitivity = TP / (TP + FN)`` and ``specificity = TN / (TN + FP)`` with the reference as truth;
    ``kappa`` is Cohen's kappa between reader and reference; ``agreement`` the share of equal cells.
    """

    sensitivity: FloatArray
    specificity: FloatArray
    kappa: FloatArray
    agreement: FloatArray
    n_compared: FloatArray
    n_reference_positive: FloatArray


def _reader_vs(confusion: FloatArray) -> ReaderVsReference:
    # confusion[..., i, j]: reader said i, reference said j.
    tp, fn = confusion[..., 1, 1], confusion[..., 0, 1]
    tn, fp = confusion[..., 0, 0], confusion[..., 1, 0]
    n = confusion.sum(axis=(-2, -1))
    return ReaderVsReference(
        sensitivity=_ratio(tp, tp + fn),
        specificity=_ratio(tn, tn + fp),
        kappa=cohen_kappa_from_confusion(confusion),
        agreement=_ratio(tp + tn, n),
        n_compared=n,
        n_reference_positive=tp + fn,
    )


def reader_vs_reference(reads: npt.ArrayLike, reference: npt.ArrayLike) -> ReaderVsReference:
    """Compare every reader with ``reference[e, c]`` (1/0/:data:`MISSING`, e.g. an adjudicated label)."""
    reads = as_reads(reads)
    reference = as_reads(reference, ndim=2)
    if reference.shape != reads.shape[1:]:
        raise ValueError(f"reference must be exams x classes {reads.shape[1:]}, got {reference.shape}")
    return _reader_vs(binary_confusion(reads, reference[None], axis=1))


def reader_vs_consensus(
    reads: npt.ArrayLike, *, threshold: float = 0.5, leave_one_out: bool = True
) -> ReaderVsReference:
    """Compare every reader with the majority vote (:func:`.consensus.majority_vote`).

    With ``leave_one_out`` (default) reader ``r`` is compared with the majority of the *other* readers,
    because a consensus that includes the reader's own vote flatters them (with three readers, a
    reader's vote alone decides every split it sides with). Tied or unread consensus cells are skipped.
    """
    reads = as_reads(reads)
    if not leave_one_out:
        return reader_vs_reference(reads, majority_vote(reads, threshold=threshold).labels)
    confusions = []
    for r in range(reads.shape[0]):
        others = np.delete(reads, r, axis=0)
        reference = majority_vote(others, threshold=threshold).labels
        confusions.append(binary_confusion(reads[r], reference, axis=0))
    return _reader_vs(np.stack(confusions))


@dataclass(frozen=True)
class GoldAccuracy(JsonMixin):
    """Each reader's accuracy on gold-standard exams.

    ``class_accuracy[r, c]``: share of gold exams read where the reader matched the gold label of
    class ``c``; ``label_accuracy[r]``: the same over all (exam, class) cells; ``exam_accuracy[r]``:
    share of gold exams read where every class matched (the whole label set was right).
    """

    class_accuracy: FloatArray
    label_accuracy: FloatArray
    exam_accuracy: FloatArray
    n_gold_exams_read: FloatArray
    reference: ReaderVsReference


def gold_accuracy(reads: npt.ArrayLike, gold: npt.ArrayLike) -> GoldAccuracy:
    """Accuracy of each reader against known labels ``gold[g, c]`` on gold exams ``reads[r, g, c]``."""
    reads = as_reads(reads)
    gold = as_reads(gold, ndim=2)
    if gold.shape != reads.shape[1:]:
        raise ValueError(f"gold must be exams x classes {reads.shape[1:]}, got {gold.shape}")
    compared = (reads != MISSING) & (gold != MISSING)[None]
    correct = compared & (reads == gold[None])
    exam_read = compared.any(axis=2)
    exam_right = exam_read & ~(compared & ~correct).any(axis=2)
    return GoldAccuracy(
        class_accuracy=_ratio(correct.sum(axis=1), compared.sum(axis=1)),
        label_accuracy=_ratio(correct.sum(axis=(1, 2)), compared.sum(axis=(1, 2))),
        exam_accuracy=_ratio(exam_right.sum(axis=1), exam_read.sum(axis=1)),
        n_gold_exams_read=exam_read.sum(axis=1).astype(float),
        reference=reader_vs_reference(reads, gold),
    )


@dataclass(frozen=True)
class IntraReader(JsonMixin):
    """Each reader against their own earlier read of the same exams; arrays are readers x classes."""

    kappa: FloatArray
    agreement: FloatArray
    n_retested: FloatArray
    mean_kappa: FloatArray  # per reader, over classes where kappa is defined


def intra_reader_agreement(first: npt.ArrayLike, retest: npt.ArrayLike) -> IntraReader:
    """Intra-reader Cohen's kappa per class between ``first[r, e, c]`` and ``retest[r, e, c]``.

    Both arrays are aligned: exam ``e`` of reader ``r`` in ``retest`` is the re-read, without sight of the
    first, of exam ``e`` in ``first``; cells missing on either side are skipped.
    """
    first, retest = as_reads(first), as_reads(retest)
    if first.shape != retest.shape:
        raise ValueError(f"first and retest must have the same shape, got {first.shape} and {retest.shape}")
    confusion = binary_confusion(first, retest, axis=1)
    kappa = cohen_kappa_from_confusion(confusion)
    n = confusion.sum(axis=(-2, -1))
    defined = ~np.isnan(kappa)
    return IntraReader(
        kappa=kappa,
        agreement=_ratio(np.trace(confusion, axis1=-2, axis2=-1), n),
        n_retested=n,
        mean_kappa=_ratio(np.where(defined, kappa, 0.0).sum(axis=1), defined.sum(axis=1)),
    )


def retest_summary(
    n: FloatArray, n11: FloatArray, a1: FloatArray, b1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """A reader's two retest figures from per-class pair counts ``[..., classes]``: the mean of Cohen's
    kappa over the classes where it is defined, and the share of equal cells over the classes marked in
    either read (a class never marked agrees by default and would say nothing). ``n``: retested cells,
    ``n11``: marked in both, ``a1``: marked first, ``b1``: marked on retest. Where nothing was marked in
    any retested pair the agreement is 1 (each pair read the same, empty, way)."""
    kappa = cohen_kappa_from_confusion(_confusion_from_pair_counts(n, n11, a1, b1))
    defined = ~np.isnan(kappa)
    mean_kappa = _ratio(np.where(defined, kappa, 0.0).sum(axis=-1), defined.sum(axis=-1))
    marked = (a1 + b1 - n11) > 0
    cells = np.where(marked, n, 0.0).sum(axis=-1)
    equal = np.where(marked, n - a1 - b1 + 2 * n11, 0.0).sum(axis=-1)
    empty = np.where(np.asarray(n).sum(axis=-1) > 0, 1.0, np.nan)
    return mean_kappa, np.where(cells > 0, _ratio(equal, cells), empty)


@dataclass(frozen=True)
class RetestIntervals(JsonMixin):
    """Percentile bootstrap intervals of each reader's retest figures (:func:`retest_summary`), over
    their retested exams resampled as wholes; arrays are per reader, NaN without retests or where the
    figure is undefined in every resample."""

    kappa_low: FloatArray
    kappa_high: FloatArray
    agreement_low: FloatArray
    agreement_high: FloatArray


def retest_intervals(
    first: npt.ArrayLike, retest: npt.ArrayLike, *, n_resamples: int, seed: int, confidence: float = 0.95
) -> RetestIntervals:
    """Intervals for :func:`retest_summary` of ``first[r, e, c]`` against ``retest[r, e, c]``.

    A reader retests a handful of exams, so their kappa of 0.8 may mean anything from 0.3 to 1: each
    reader's own retested exams are resampled (``seed + r``), the cells of one exam together, since one
    exam's classes are read at one sitting."""
    first, retest = as_reads(first), as_reads(retest)
    if first.shape != retest.shape:
        raise ValueError(f"first and retest must have the same shape, got {first.shape} and {retest.shape}")
    out = np.full((4, first.shape[0]), np.nan)
    for r in range(first.shape[0]):
        both = (first[r] != MISSING) & (retest[r] != MISSING)
        exams = both.any(axis=1)
        if not exams.any():
            continue
        both = both[exams]
        said_first, said_again = (first[r][exams] == 1) & both, (retest[r][exams] == 1) & both
        weights = bootstrap_weights(int(exams.sum()), n_resamples, seed + r).astype(float)
        counts = [weights @ x.astype(float) for x in (both, said_first & said_again, said_first, said_again)]
        kappa, agreement = retest_summary(*counts)
        kappa_ci = _interval(kappa[:, None], confidence, (-1.0, 1.0))
        agreement_ci = _interval(agreement[:, None], confidence, (0.0, 1.0))
        out[:, r] = (kappa_ci.lower[0], kappa_ci.upper[0], agreement_ci.lower[0], agreement_ci.upper[0])
    return RetestIntervals(*out)


# --------------------------------------------------------------------------------------------------
# Reader x class table with intervals, and outliers
# --------------------------------------------------------------------------------------------------


# The fewest reference positives, and negatives, from which a reader's kappa on a class may flag them.
MIN_FLAG_CASES = 5


def wilson_interval(successes: npt.ArrayLike, n: npt.ArrayLike, confidence: float = 0.95) -> FloatArray:
    """Wilson score interval of a proportion, ``[2, ...]`` (lower, upper); NaN where ``n`` is 0.

    Wilson rather than Wald because reader x class cells are often small or at 0 or 1, where the Wald
    interval collapses to a point.
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    k, total = np.broadcast_arrays(np.asarray(successes, float), np.asarray(n, float))
    p = _ratio(k, total)
    safe = np.where(total > 0, total, 1.0)
    centre = (p + z * z / (2 * safe)) / (1 + z * z / safe)
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / (1 + z * z / safe)
    return np.stack([np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)])


@dataclass(frozen=True)
class ReaderClassTable(JsonMixin):
    """Each reader against a reference, class by class; arrays are readers x classes.

    ``n_compared`` exams where both the reader and the reference have a value; sensitivity over the
    ``n_reference_positive`` of them, specificity over the ``n_reference_negative``. Intervals are
    ``[2, readers, classes]``: Wilson for sensitivity and specificity, percentile bootstrap over exams for
    kappa (``kappa_defined_fraction`` of the resamples defined it). ``low_*`` flag a reader whose
    interval lies wholly below the median of the other readers' lower bounds for the class: an outlier.
    """

    sensitivity: FloatArray
    specificity: FloatArray
    kappa: FloatArray
    n_compared: FloatArray
    n_reference_positive: FloatArray
    n_reference_negative: FloatArray
    sensitivity_ci: FloatArray
    specificity_ci: FloatArray
    kappa_ci: FloatArray
    kappa_defined_fraction: FloatArray
    low_sensitivity: npt.NDArray[np.bool_]
    low_specificity: npt.NDArray[np.bool_]
    low_kappa: npt.NDArray[np.bool_]

    @property
    def outlier(self) -> npt.NDArray[np.bool_]:
        return self.low_sensitivity | self.low_specificity | self.low_kappa


def leave_one_out_reference(reads: npt.ArrayLike, *, threshold: float = 0.5) -> npt.NDArray[np.int8]:
    """``reference[r, e, c]``: the majority vote of every reader but ``r`` (MISSING where tied/unread)."""
    reads = as_reads(reads)
    return np.stack(
        [
            majority_vote(np.delete(reads, r, axis=0), threshold=threshold).labels
            for r in range(reads.shape[0])
        ]
    ).astype(np.int8)


def _below_others(lower: FloatArray, upper: FloatArray) -> npt.NDArray[np.bool_]:
    """Reader r, class c: the whole interval lies below the median of the other readers' lower bounds,
    i.e. below the intervals of most other readers (a point-estimate rule would flag every reader whose
    estimate merely happens to be lowest)."""
    flags = np.zeros(upper.shape, dtype=bool)
    for r in range(upper.shape[0]):
        others = np.delete(lower, r, axis=0)
        has = np.isfinite(others).any(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(np.where(has, others, 0.0), axis=0)
        flags[r] = has & np.isfinite(upper[r]) & (upper[r] < median)
    return flags


def _kappa_replicates(
    reads: npt.NDArray[np.int8], reference: npt.NDArray[np.int8], n_resamples: int, seed: int, exam_chunk: int
) -> FloatArray:
    """Kappa of every (reader, class) in every exam resample: (resamples, readers, classes)."""
    n_readers, n_exams, n_classes = reads.shape
    if not n_exams:
        return np.full((1, n_readers, n_classes), np.nan)
    # 0/1 features times small integer weights: float32 sums are exact below 2**24 exams.
    exact = np.float32 if n_exams < 2**24 else np.float64
    weights = bootstrap_weights(n_exams, n_resamples, seed)
    sums = np.zeros((n_resamples, 4, n_readers, n_classes))
    # Features and weights are made a chunk of exams at a time: made whole, 1,000 resamples of a
    # 100,000-exam batch held 400 MB of float weights and 90 MB of features beside the counts.
    for start in range(0, n_exams, exam_chunk):
        part = slice(start, start + exam_chunk)
        own, other = reads[:, part], reference[:, part]
        # The four pair counts per (reader, class) summed with each resample's exam weights.
        both = (own != MISSING) & (other != MISSING)
        features = np.stack([both, (own == 1) & both, (other == 1) & both, (own == 1) & (other == 1)])
        sums += np.tensordot(weights[:, part].astype(exact), features.astype(exact), axes=([1], [2]))
    return cohen_kappa_from_confusion(
        _confusion_from_pair_counts(sums[:, 0], sums[:, 3], sums[:, 1], sums[:, 2])
    )


def reader_class_table(
    reads: npt.ArrayLike,
    reference: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    exam_chunk: int = 4096,
) -> ReaderClassTable:
    """Every reader against ``reference`` (exams x classes, or readers x exams x classes when each reader
    has their own, e.g. :func:`leave_one_out_reference`), per class, with n and intervals."""
    reads = as_reads(reads)
    reference = np.asarray(reference)
    reference = as_reads(np.broadcast_to(reference, reads.shape) if reference.ndim == 2 else reference)
    if reference.shape != reads.shape:
        raise ValueError(f"reference must be exams x classes or {reads.shape}, got {reference.shape}")
    confusion = binary_confusion(reads, reference, axis=1)
    versus = _reader_vs(confusion)
    tp, fn = confusion[..., 1, 1], confusion[..., 0, 1]
    tn, fp = confusion[..., 0, 0], confusion[..., 1, 0]
    sensitivity_ci = wilson_interval(tp, tp + fn, confidence)
    specificity_ci = wilson_interval(tn, tn + fp, confidence)
    replicates = _kappa_replicates(reads, reference, n_resamples, seed, exam_chunk)
    defined = ~np.isnan(replicates)
    tail = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa_ci = np.clip(np.nanquantile(replicates, [tail, 1.0 - tail], axis=0), -1.0, 1.0)
    return ReaderClassTable(
        sensitivity=versus.sensitivity,
        specificity=versus.specificity,
        kappa=versus.kappa,
        n_compared=versus.n_compared,
        n_reference_positive=tp + fn,
        n_reference_negative=tn + fp,
        sensitivity_ci=sensitivity_ci,
        specificity_ci=specificity_ci,
        kappa_ci=kappa_ci,
        kappa_defined_fraction=defined.mean(axis=0),
        low_sensitivity=_below_others(sensitivity_ci[0], sensitivity_ci[1]),
        low_specificity=_below_others(specificity_ci[0], specificity_ci[1]),
        # A kappa from fewer than MIN_FLAG_CASES reference positives or negatives is a handful of exams'
        # verdict: the bootstrap makes the other readers' intervals a point at 1, and one miss "below".
        low_kappa=_below_others(kappa_ci[0], kappa_ci[1])
        & (tp + fn >= MIN_FLAG_CASES)
        & (tn + fp >= MIN_FLAG_CASES),
    )
