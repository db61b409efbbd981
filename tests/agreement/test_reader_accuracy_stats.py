"""Sensitivity and specificity with Wilson intervals, and a reader's drift over their reads, checked
against statsmodels and in simulations with known truth."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

from annotations.lib.stats.accuracy import (
    MISSING,
    confusion_counts,
    logistic_trend,
    majority_of_others,
    reader_drift,
    sens_spec,
)


def test_counts_leave_out_missing_reference_cells():
    reader = np.array([1, 1, 0, 0, 1, 0, 1])
    reference = np.array([1, 0, 1, 0, MISSING, 0, 1])
    counts = confusion_counts(reader, reference)
    assert (counts.tp, counts.fp, counts.fn, counts.tn, counts.n_left_out) == (2, 1, 1, 2, 1)


@pytest.mark.parametrize(
    ("tp", "fn", "tn", "fp"), [(18, 2, 70, 10), (0, 5, 12, 0), (7, 0, 0, 3), (1, 1, 1, 1)]
)
def test_intervals_are_statsmodels_wilson(tp, fn, tn, fp):
    figures = sens_spec(tp=tp, fp=fp, fn=fn, tn=tn)
    low, high = proportion_confint(tp, tp + fn, alpha=0.05, method="wilson")
    assert figures.sensitivity == pytest.approx(tp / (tp + fn))
    assert (figures.sensitivity_low, figures.sensitivity_high) == pytest.approx((low, high), abs=1e-12)
    if tn + fp:
        low, high = proportion_confint(tn, tn + fp, alpha=0.05, method="wilson")
        assert (figures.specificity_low, figures.specificity_high) == pytest.approx((low, high), abs=1e-12)
    else:
        assert np.isnan(figures.specificity) and np.isnan(figures.specificity_low)


def test_labels_other_than_0_and_1_are_refused():
    with pytest.raises(ValueError, match="reader must hold 0, 1 only"):
        confusion_counts([1, 2], [1, 0])
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_counts([1, 0], [1, 0, 1])


def test_an_empty_denominator_is_not_a_zero():
    figures = sens_spec(tp=0, fp=0, fn=0, tn=4)
    assert np.isnan(figures.sensitivity) and np.isnan(figures.sensitivity_high)
    assert figures.specificity == 1.0


def test_majority_of_others_leaves_out_ties_and_too_few_others():
    # votes of the other reads: positive, total
    positive = np.array([2, 1, 0, 3, 1, 2])
    total = np.array([2, 2, 2, 4, 1, 3])
    assert majority_of_others(positive, total).tolist() == [1, MISSING, 0, 1, MISSING, 1]


def test_the_trend_is_statsmodels_logit():
    rng = np.random.default_rng(4)
    position = np.sort(rng.random(300))
    correct = rng.random(300) < 1 / (1 + np.exp(-(2.0 - 1.5 * position)))
    trend = logistic_trend(correct.astype(int), np.ones(300, int), position)
    fit = sm.Logit(correct.astype(float), sm.add_constant(position)).fit(disp=0)
    assert trend.slope == pytest.approx(fit.params[1], rel=1e-8)
    assert trend.se == pytest.approx(fit.bse[1], rel=1e-6)
    assert trend.p_value == pytest.approx(fit.pvalues[1], rel=1e-6)


def test_grouped_counts_give_the_same_trend_as_the_cells():
    rng = np.random.default_rng(5)
    trials = rng.integers(0, 4, 120)
    position = np.linspace(0, 1, 120)
    successes = rng.binomial(trials, 0.8 - 0.3 * position)
    cells_x = np.repeat(position, trials)
    cells_y = np.concatenate([[1] * s + [0] * (t - s) for s, t in zip(successes, trials, strict=True)])
    fit = sm.Logit(cells_y.astype(float), sm.add_constant(cells_x)).fit(disp=0)
    trend = logistic_trend(successes, trials, position)
    assert trend.slope == pytest.approx(fit.params[1], rel=1e-8)
    assert trend.p_value == pytest.approx(fit.pvalues[1], rel=1e-6)
    assert trend.n == int(trials.sum())


def test_no_trend_where_every_call_is_right_or_there_is_nothing():
    assert np.isnan(logistic_trend(np.ones(10, int), np.ones(10, int), np.linspace(0, 1, 10)).p_value)
    assert np.isnan(logistic_trend(np.zeros(0, int), np.zeros(0, int), np.zeros(0)).slope)


def _reads(rng, n_reads: int, prevalence: float, sensitivity: np.ndarray, specificity: float):
    """One class read n_reads times in order; sensitivity[i] the chance read i finds a present finding."""
    truth = (rng.random(n_reads) < prevalence).astype(int)
    hit = rng.random(n_reads) < np.where(truth == 1, sensitivity, 1 - specificity)
    return truth, hit.astype(int)


def test_a_reader_whose_sensitivity_drifts_from_9_to_6_is_flagged():
    rng = np.random.default_rng(11)
    flagged = 0
    for _ in range(50):
        truth, said = _reads(rng, 1000, 0.4, np.linspace(0.9, 0.6, 1000), 0.95)
        drift = reader_drift(np.arange(1000), said[:, None], truth[:, None])
        flagged += drift.sensitivity_trend.p_value < 0.05
        assert drift.sensitivity_trend.slope < 0
    assert flagged >= 45  # power of the test at this size, measured: 50 of 50
    first, last = drift.quarters[0], drift.quarters[-1]
    assert first.sensitivity > 0.8 and last.sensitivity < 0.72


def test_a_stable_reader_is_flagged_at_about_the_nominal_rate():
    rng = np.random.default_rng(12)
    p_values = []
    for _ in range(400):
        truth, said = _reads(rng, 400, 0.4, np.full(400, 0.8), 0.9)
        drift = reader_drift(np.arange(400), said[:, None], truth[:, None])
        p_values += [drift.sensitivity_trend.p_value, drift.specificity_trend.p_value]
    rate = np.mean(np.array(p_values) < 0.05)
    assert 0.03 <= rate <= 0.075, rate


def test_quarters_split_the_reads_in_submission_order_and_cells_left_out_do_not_count():
    # 8 reads of 2 classes; read order is given by rank, not by row.
    rank = np.array([7, 6, 5, 4, 3, 2, 1, 0])
    said = np.array([[1, 0]] * 4 + [[0, 0]] * 4)
    reference = np.array([[1, 0]] * 4 + [[1, MISSING]] * 4)
    drift = reader_drift(rank, said, reference)
    assert [q.n_reads for q in drift.quarters] == [2, 2, 2, 2]
    # the last 4 rows are the first 4 reads: all misses.
    assert [q.sensitivity for q in drift.quarters] == [0.0, 0.0, 1.0, 1.0]
    assert [q.tn for q in drift.quarters] == [0, 0, 2, 2]


def test_sensitivity_against_truth_covers_at_the_nominal_rate():
    rng = np.random.default_rng(13)
    covered = 0
    for _ in range(1000):
        truth, said = _reads(rng, 120, 0.3, np.full(120, 0.85), 0.9)
        figures = confusion_counts(said, truth).figures()
        covered += figures.sensitivity_low <= 0.85 <= figures.sensitivity_high
    assert 0.93 <= covered / 1000 <= 0.975
