"""Binary classification of many groups of cells at once (a model version x a class each): confusion
counts at a threshold and the threshold-free ROC AUC, without a Python loop over cells or groups.

The AUC is the Mann-Whitney statistic with tied scores ranked at their mean rank (so a positive and a
negative scored alike count one half), the area under the ROC curve with ties drawn as diagonals.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .reads import FloatArray

IntArray = npt.NDArray[np.int64]


def grouped_confusion(
    groups: npt.ArrayLike, truth: npt.ArrayLike, predicted: npt.ArrayLike, n_groups: int
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(tp, fp, tn, fn) per group 0..n_groups-1 of the cells' (group, truth, predicted)."""
    groups = np.asarray(groups, dtype=np.intp)
    truth, predicted = np.asarray(truth, dtype=bool), np.asarray(predicted, dtype=bool)
    # One bincount over group x the four outcomes: 2 * truth + predicted is fn=2, tp=3, tn=0, fp=1.
    counts = np.bincount(groups * 4 + 2 * truth + predicted, minlength=4 * n_groups).reshape(n_groups, 4)
    counts = counts.astype(np.int64)
    return counts[:, 3], counts[:, 1], counts[:, 0], counts[:, 2]


def grouped_auc(
    groups: npt.ArrayLike, truth: npt.ArrayLike, scores: npt.ArrayLike, n_groups: int
) -> FloatArray:
    """ROC AUC per group of the cells' (group, truth, score); NaN where a group lacks either class."""
    groups = np.asarray(groups, dtype=np.intp)
    truth, scores = np.asarray(truth, dtype=bool), np.asarray(scores, dtype=np.float64)
    order = np.lexsort((scores, groups))
    g, s, t = groups[order], scores[order], truth[order]
    n = len(g)
    # Rank within the group (1-based), then every tie (same group, same score) at first + last rank:
    # twice the mean rank, kept in integers so the only rounding is the final division.
    size = np.bincount(g, minlength=n_groups)
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    rank = np.arange(1, n + 1) - start[g]
    new_tie = np.ones(n, dtype=bool)
    new_tie[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    tie = np.cumsum(new_tie) - 1
    tie_first = rank[new_tie]
    tie_last = np.append(rank[np.flatnonzero(new_tie)[1:] - 1], rank[-1:])
    twice_rank = (tie_first + tie_last)[tie]
    positives = np.bincount(g, weights=t, minlength=n_groups).astype(np.int64)
    negatives = size - positives
    twice_rank_sum = np.bincount(g[t], weights=twice_rank[t], minlength=n_groups).astype(np.int64)
    twice_u = twice_rank_sum - positives * (positives + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = twice_u / (2 * positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)
