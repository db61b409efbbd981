"""The benchmark's figures against scikit-learn, to 1e-9: per class, micro and macro, on the point
estimate and on bootstrap resamples (scikit-learn with the draw counts as sample weights)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from annotations.lib.stats.benchmark import (
    counts_at,
    ranked_figures,
    score,
    threshold_figures,
    thresholds_max_f1,
)
from annotations.lib.stats.bootstrap import bootstrap_weights

CLASSES = ["a", "b", "c"]


def data(seed: int = 1, n: int = 300):
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, 3)) < [0.1, 0.3, 0.5]).astype(int)
    # Rounded scores: many ties, which is where AUROC and AP conventions differ.
    scores = np.round(np.clip(truth * 0.3 + rng.random((n, 3)) * 0.7, 0, 1), 2)
    return truth, scores


def test_point_figures_equal_scikit_learn():
    truth, scores = data()
    thresholds = np.array([0.5, 0.4, 0.6])
    result = score(truth, scores, thresholds, classes=CLASSES, n_resamples=50)
    predicted = (scores >= thresholds).astype(int)
    for k, code in enumerate(CLASSES):
        fig = result.figures[code]
        tn, fp, _fn, _tp = confusion_matrix(truth[:, k], predicted[:, k]).ravel()
        assert fig["auroc"].value == pytest.approx(roc_auc_score(truth[:, k], scores[:, k]), abs=1e-12)
        assert fig["auprc"].value == pytest.approx(
            average_precision_score(truth[:, k], scores[:, k]), abs=1e-12
        )
        assert fig["sensitivity"].value == pytest.approx(
            recall_score(truth[:, k], predicted[:, k]), abs=1e-12
        )
        assert fig["specificity"].value == pytest.approx(tn / (tn + fp), abs=1e-12)
        assert fig["ppv"].value == pytest.approx(precision_score(truth[:, k], predicted[:, k]), abs=1e-12)
        assert fig["f1"].value == pytest.approx(f1_score(truth[:, k], predicted[:, k]), abs=1e-12)
        assert fig["f1"].low <= fig["f1"].value <= fig["f1"].high
    micro, macro = result.figures["micro"], result.figures["macro"]
    assert micro["auroc"].value == pytest.approx(roc_auc_score(truth, scores, average="micro"), abs=1e-12)
    assert micro["auprc"].value == pytest.approx(
        average_precision_score(truth, scores, average="micro"), abs=1e-12
    )
    assert micro["f1"].value == pytest.approx(f1_score(truth, predicted, average="micro"), abs=1e-12)
    assert macro["auroc"].value == pytest.approx(roc_auc_score(truth, scores, average="macro"), abs=1e-12)
    assert macro["f1"].value == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert macro["ppv"].value == pytest.approx(precision_score(truth, predicted, average="macro"), abs=1e-12)


def test_each_resample_equals_scikit_learn_with_the_draw_counts_as_weights():
    truth, scores = data(2, 120)
    weights = bootstrap_weights(120, 5, seed=3)
    for k in range(3):
        ranked = ranked_figures(truth[:, k], scores[:, k], weights)
        predicted = scores[:, k] >= 0.5
        figures = threshold_figures(*counts_at(truth[:, k], predicted, weights))
        for b, w in enumerate(weights):
            sw = w.astype(float)
            assert ranked["auroc"][b] == pytest.approx(
                roc_auc_score(truth[:, k], scores[:, k], sample_weight=sw), abs=1e-9
            )
            assert ranked["auprc"][b] == pytest.approx(
                average_precision_score(truth[:, k], scores[:, k], sample_weight=sw), abs=1e-9
            )
            assert figures["f1"][b] == pytest.approx(
                f1_score(truth[:, k], predicted, sample_weight=sw), abs=1e-9
            )


def test_the_interval_covers_a_known_sensitivity_about_95_times_in_100():
    """Simulation with a known truth: a reader calling 80% of 60 positives and 5% of 240 negatives."""
    rng = np.random.default_rng(7)
    covered = 0
    trials = 100
    for _ in range(trials):
        truth = np.zeros((300, 1), int)
        truth[:60] = 1
        calls = np.where(truth == 1, rng.random((300, 1)) < 0.8, rng.random((300, 1)) < 0.05).astype(int)
        fig = score(
            truth, calls, [0.5], classes=["x"], ranked=False, n_resamples=300, seed=int(rng.integers(1e9))
        )
        sens = fig.figures["x"]["sensitivity"]
        covered += sens.low <= 0.8 <= sens.high
    assert 88 <= covered <= 99


def test_readers_get_no_ranked_figures_and_a_class_without_positives_no_sensitivity():
    truth = np.array([[0, 1], [0, 0], [0, 1], [0, 0]])
    result = score(truth, truth, [0.5, 0.5], classes=["x", "y"], ranked=False, n_resamples=20)
    assert "auroc" not in result.figures["x"]
    assert result.figures["x"]["sensitivity"].value is None
    assert result.figures["y"]["f1"].value == 1.0
    assert result.figures["macro"]["specificity"].value == 1.0


def test_thresholds_that_maximise_f1_equal_a_search_over_every_score():
    truth, scores = data(4, 200)
    chosen = thresholds_max_f1(truth, scores)
    for k in range(3):
        best = max(f1_score(truth[:, k], scores[:, k] >= t) for t in np.unique(scores[:, k]))
        assert f1_score(truth[:, k], scores[:, k] >= chosen[k]) == pytest.approx(best, abs=1e-12)


def test_shapes_that_differ_are_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        score(np.zeros((3, 2)), np.zeros((3, 3)), [0.5, 0.5], classes=["a", "b"])
