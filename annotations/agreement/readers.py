"""Per-reader performance: against a reference (consensus or adjudication), gold exams, and retests.

All functions take ``reads[r, e, c]`` as in :mod:`.reads` and compare cell by cell, skipping cells
where either side is missing. Ratios with an empty denominator (no reference-positive exams for a
sensitivity, say) are NaN, never 0, so "not measurable" cannot be mistaken for "always wrong".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .consensus import majority_vote
from .reads import MISSING, JsonMixin, as_reads
from .stats import FloatArray, _ratio, binary_confusion, cohen_kappa_from_confusion


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

    Both arrays are aligned: exam ``e`` of reader ``r`` in ``retest`` is the blind re-read of exam ``e``
    in ``first``; cells missing on either side are skipped.
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
