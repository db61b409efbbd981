"""Consensus by counting reads: majority vote at a threshold, and unanimity.

Pure numpy; ``reads[r, e, c]`` as in :mod:`.reads`. Consensus labels use the same encoding (1, 0, and
:data:`.reads.MISSING` where there is no decision: no reads, too few reads, or a tie).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, BoolArray, FloatArray, JsonMixin, Reads, _ratio, as_reads

# Relative tolerance for deciding that a positive share equals the threshold exactly (a tie): shares
# are k/n for small integers, so anything this close is the same rational number.
_TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class MajorityVote(JsonMixin):
    """Majority-vote consensus; arrays are exams x classes.

    ``labels`` is 1 where the share of positive reads is above ``threshold``, 0 where it is below, and
    MISSING where it equals the threshold exactly (``tied``: sent to adjudication rather than decided
    by a coin) or where fewer than ``min_reads`` readers read the cell.
    """

    labels: Reads
    positive_fraction: FloatArray
    n_reads: npt.NDArray[np.int32]
    tied: BoolArray
    threshold: float


def majority_vote(
    reads: npt.ArrayLike, *, threshold: float = 0.5, min_reads: int = 1, exam_chunk: int = 4096
) -> MajorityVote:
    """Consensus by share of positive reads ``k / n`` among the ``n`` readers who read the cell.

    Positive iff ``k / n > threshold``, negative iff ``k / n < threshold``, and a tie (MISSING,
    ``tied``) iff ``k / n == threshold`` exactly: ``threshold=0.5`` is a strict majority (2 of 3,
    3 of 4; 1 of 2 is a tie). The end points are one-sided rules instead, where a tie would be
    meaningless: ``threshold=0`` is "any reader marked it", ``threshold=1`` "every reader marked it".

    Counted ``exam_chunk`` exams at a time (every cell is its own vote): the float temporaries of a whole
    100,000-exam batch were hundreds of megabytes.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be between 0 and 1")
    if min_reads < 1:
        raise ValueError("min_reads must be at least 1")
    reads = as_reads(reads)
    shape = reads.shape[1:]
    out = MajorityVote(
        labels=np.empty(shape, dtype=np.int8),
        positive_fraction=np.empty(shape),
        n_reads=np.empty(shape, dtype=np.int32),
        tied=np.empty(shape, dtype=bool),
        threshold=threshold,
    )
    for start in range(0, shape[0], exam_chunk):
        part = slice(start, start + exam_chunk)
        vote = _vote(reads[:, part], threshold, min_reads)
        for name in ("labels", "positive_fraction", "n_reads", "tied"):
            getattr(out, name)[part] = getattr(vote, name)
    return out


def _vote(reads: Reads, threshold: float, min_reads: int) -> MajorityVote:
    valid = reads != MISSING
    n = valid.sum(axis=0, dtype=np.int32)
    k = (reads == 1).sum(axis=0, dtype=np.int32)
    share = _ratio(k, n)
    enough = n >= min_reads
    # Compare k with threshold * n rather than the float share, so 2/3 vs 2/3 is a tie, not noise.
    margin = k - threshold * n
    tied = enough & (np.abs(margin) <= _TIE_TOLERANCE * np.maximum(n, 1))
    if threshold in (0.0, 1.0):
        # "Above 0" and "above 1" are one-sided rules: 0 of n is simply negative, n of n below 1 is
        # impossible to exceed, so n of n is positive when threshold is 1 (everyone agreed).
        tied = np.zeros_like(tied)
        positive = (k > 0) if threshold == 0.0 else (k == n)
    else:
        positive = margin > 0
    labels = np.where(positive, 1, 0).astype(np.int8)
    labels[~enough | tied] = MISSING
    return MajorityVote(labels=labels, positive_fraction=share, n_reads=n, tied=tied, threshold=threshold)


def unanimous(reads: npt.ArrayLike, *, min_reads: int = 2) -> BoolArray:
    """``[e, c]``: at least ``min_reads`` readers read the cell and all gave the same value."""
    reads = as_reads(reads)
    n = (reads != MISSING).sum(axis=0)
    k = (reads == 1).sum(axis=0)
    agreed: BoolArray = (n >= min_reads) & ((k == 0) | (k == n))
    return agreed


def unanimous_exams(reads: npt.ArrayLike, *, min_reads: int = 2) -> BoolArray:
    """``[e]``: every class of the exam is unanimous (same label set from every reader)."""
    return unanimous(reads, min_reads=min_reads).all(axis=1)
