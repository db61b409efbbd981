"""Grouped confusion counts and ROC AUC (lib.stats.roc) against scikit-learn, group by group."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score

from annotations.lib.stats.roc import grouped_auc, grouped_confusion


def _random_cells(seed: int, n: int, n_groups: int, levels: int | None):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n)
    truth = rng.random(n) < rng.uniform(0.05, 0.6, n_groups)[groups]
    # Few levels: many ties, within and across the two classes.
    scores = rng.integers(0, levels, n) / levels if levels else rng.random(n)
    return groups, truth, scores


@pytest.mark.parametrize(("seed", "levels"), [(1, None), (2, 5), (3, 2), (4, 1000)])
def test_grouped_auc_is_sklearns_roc_auc_of_each_group(seed, levels):
    groups, truth, scores = _random_cells(seed, 5000, 7, levels)
    auc = grouped_auc(groups, truth, scores, n_groups=8)
    for g in range(7):
        mine = groups == g
        assert auc[g] == pytest.approx(roc_auc_score(truth[mine], scores[mine]), rel=1e-12, abs=1e-15)
    assert np.isnan(auc[7])  # no cell at all


def test_grouped_auc_is_undefined_with_one_class_only():
    groups = np.array([0, 0, 1, 1, 1])
    truth = np.array([True, True, False, True, False])
    auc = grouped_auc(groups, truth, np.array([0.2, 0.9, 0.1, 0.8, 0.8]), n_groups=2)
    assert np.isnan(auc[0]) and auc[1] == 0.75  # ties count one half


def test_grouped_confusion_is_sklearns_confusion_matrix_of_each_group():
    groups, truth, scores = _random_cells(5, 3000, 4, 10)
    predicted = scores >= 0.5
    tp, fp, tn, fn = grouped_confusion(groups, truth, predicted, n_groups=4)
    for g in range(4):
        mine = groups == g
        (sk_tn, sk_fp), (sk_fn, sk_tp) = confusion_matrix(truth[mine], predicted[mine], labels=[False, True])
        assert (tp[g], fp[g], tn[g], fn[g]) == (sk_tp, sk_fp, sk_tn, sk_fn)
