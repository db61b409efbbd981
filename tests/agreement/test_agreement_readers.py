"""Per-reader metrics against consensus, gold exams and retests, checked against scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, recall_score

from annotations.lib.stats import (
    MISSING,
    gold_accuracy,
    intra_reader_agreement,
    majority_vote,
    reader_vs_consensus,
    reader_vs_reference,
)
from tests.agreement.test_agreement_stats import random_reads


def sklearn_metrics(reader: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    keep = (reader != MISSING) & (reference != MISSING)
    x, y = reader[keep], reference[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sensitivity = recall_score(y, x, pos_label=1, zero_division=np.nan) if (y == 1).any() else np.nan
        specificity = recall_score(y, x, pos_label=0, zero_division=np.nan) if (y == 0).any() else np.nan
        kappa = cohen_kappa_score(x, y, labels=[0, 1]) if keep.any() else np.nan
    return sensitivity, specificity, kappa


def test_reader_against_a_reference_matches_sklearn_recall_and_kappa_on_random_tables():
    for seed in range(20):
        reads = random_reads(seed, n_readers=3, missing=0.2)
        reference = random_reads(500 + seed, n_readers=1, missing=0.1)[0]
        ours = reader_vs_reference(reads, reference)
        for r in range(3):
            for c in range(reads.shape[2]):
                expected = sklearn_metrics(reads[r, :, c], reference[:, c])
                actual = (ours.sensitivity[r, c], ours.specificity[r, c], ours.kappa[r, c])
                np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True)


def test_leave_one_out_consensus_compares_each_reader_with_the_others_only():
    reads = random_reads(3, n_readers=4, missing=0.1)
    ours = reader_vs_consensus(reads)
    for r in range(4):
        others = majority_vote(np.delete(reads, r, axis=0)).labels
        expected = reader_vs_reference(reads[r : r + 1], others)
        np.testing.assert_array_equal(ours.kappa[r], expected.kappa[0])
        np.testing.assert_array_equal(ours.n_compared[r], expected.n_compared[0])


def test_including_the_readers_own_vote_flatters_them():
    reads = random_reads(4, n_readers=3, n_exams=500)
    inclusive = reader_vs_consensus(reads, leave_one_out=False)
    loo = reader_vs_consensus(reads)
    assert np.nanmean(inclusive.kappa) > np.nanmean(loo.kappa)


def test_sensitivity_is_nan_not_zero_when_the_reference_has_no_positives():
    reads = np.array([[[1], [0], [0]]], dtype=np.int8)
    reference = np.array([[0], [0], [0]], dtype=np.int8)
    ours = reader_vs_reference(reads, reference)
    assert np.isnan(ours.sensitivity[0, 0])
    assert ours.specificity[0, 0] == pytest.approx(2 / 3)
    assert ours.n_reference_positive[0, 0] == 0


def test_gold_accuracy_counts_matching_cells_and_fully_right_exams():
    gold = np.array([[1, 0], [0, 0], [1, 1]], dtype=np.int8)
    reads = np.array(
        [
            [[1, 0], [0, 1], [1, 1]],  # one wrong cell, exams 0 and 2 fully right
            [[1, 0], [MISSING, MISSING], [0, 1]],  # skipped exam 1; exam 2 half right
        ],
        dtype=np.int8,
    )
    ours = gold_accuracy(reads, gold)
    np.testing.assert_allclose(ours.label_accuracy, [5 / 6, 3 / 4])
    np.testing.assert_allclose(ours.exam_accuracy, [2 / 3, 1 / 2])
    np.testing.assert_allclose(ours.class_accuracy, [[1, 2 / 3], [1 / 2, 1]])
    np.testing.assert_array_equal(ours.n_gold_exams_read, [3, 2])


def test_gold_accuracy_matches_direct_counting_on_random_tables():
    for seed in range(10):
        reads = random_reads(seed, n_readers=3, n_exams=50, missing=0.2)
        gold = random_reads(900 + seed, n_readers=1, n_exams=50)[0]
        ours = gold_accuracy(reads, gold)
        for r in range(3):
            compared = reads[r] != MISSING
            assert ours.label_accuracy[r] == pytest.approx((reads[r] == gold)[compared].mean(), abs=1e-12)


def test_intra_reader_kappa_matches_sklearn_between_first_read_and_retest():
    for seed in range(20):
        first = random_reads(seed, n_readers=3, n_exams=80, missing=0.1)
        rng = np.random.default_rng(seed)
        retest = np.where(rng.random(first.shape) < 0.1, 1 - first, first).astype(np.int8)
        retest[first == MISSING] = MISSING
        retest[rng.random(first.shape) < 0.05] = MISSING
        ours = intra_reader_agreement(first, retest)
        for r in range(3):
            for c in range(first.shape[2]):
                keep = (first[r, :, c] != MISSING) & (retest[r, :, c] != MISSING)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    expected = cohen_kappa_score(first[r, keep, c], retest[r, keep, c], labels=[0, 1])
                np.testing.assert_allclose(ours.kappa[r, c], expected, rtol=0, atol=1e-9, equal_nan=True)
                assert ours.n_retested[r, c] == keep.sum()


def test_a_reader_who_repeats_themselves_exactly_has_intra_reader_kappa_one():
    first = random_reads(5, n_readers=2)
    ours = intra_reader_agreement(first, first.copy())
    defined = ~np.isnan(ours.kappa)
    assert defined.any()
    np.testing.assert_array_equal(ours.kappa[defined], 1.0)
    np.testing.assert_array_equal(ours.agreement, 1.0)


def _retest_pair(seed: int, n_exams: int, flip: float) -> tuple[np.ndarray, np.ndarray]:
    first = random_reads(seed, n_readers=2, n_exams=n_exams, missing=0.05)
    rng = np.random.default_rng(seed)
    retest = np.where(rng.random(first.shape) < flip, 1 - first, first).astype(np.int8)
    retest[first == MISSING] = MISSING
    return first, retest


def _materialised_figures(first: np.ndarray, retest: np.ndarray) -> tuple[float, float]:
    """One reader's retest figures recomputed on a resample written out row by row, with scikit-learn."""
    kappas, equal, cells = [], 0, 0
    for c in range(first.shape[1]):
        keep = (first[:, c] != MISSING) & (retest[:, c] != MISSING)
        x, y = first[keep, c], retest[keep, c]
        if keep.any() and not (len(set(x)) == 1 and set(x) == set(y)):
            kappas.append(cohen_kappa_score(x, y, labels=[0, 1]))
        if (x == 1).any() or (y == 1).any():
            equal, cells = equal + int((x == y).sum()), cells + int(keep.sum())
    return (float(np.mean(kappas)) if kappas else np.nan), (equal / cells if cells else 1.0)


def test_retest_intervals_are_the_percentiles_of_resamples_recomputed_with_sklearn():
    from annotations.lib.stats import bootstrap_weights, retest_intervals

    first, retest = _retest_pair(3, n_exams=12, flip=0.15)
    ours = retest_intervals(first, retest, n_resamples=200, seed=11)
    for r in range(2):
        exams = ((first[r] != MISSING) & (retest[r] != MISSING)).any(axis=1)
        weights = bootstrap_weights(int(exams.sum()), 200, 11 + r)
        figures = []
        for w in weights:
            rows = np.repeat(np.flatnonzero(exams), w)
            figures.append(_materialised_figures(first[r][rows], retest[r][rows]))
        kappa, agreement = np.array(figures).T
        assert ours.kappa_low[r] == pytest.approx(np.nanquantile(kappa, 0.025), abs=1e-9)
        assert ours.kappa_high[r] == pytest.approx(np.nanquantile(kappa, 0.975), abs=1e-9)
        assert ours.agreement_low[r] == pytest.approx(np.quantile(agreement, 0.025), abs=1e-9)
        assert ours.agreement_high[r] == pytest.approx(np.quantile(agreement, 0.975), abs=1e-9)


def test_retest_intervals_cover_a_simulated_readers_true_consistency_about_95_times_in_100():
    """A reader whose retest keeps each of 4 classes' answers with probability 0.85 on exams where each
    class is present with probability 0.3: the kappa their retests estimate is known, and intervals from
    20 retested exams should hold it in about 95 of 100 studies (percentile intervals from so few exams
    run a little narrow)."""
    from annotations.lib.stats import retest_intervals

    rng = np.random.default_rng(7)
    prevalence, keep = 0.3, 0.85
    # Cohen's kappa of a reading against itself with symmetric flips: both margins are p' = p k + (1-p)(1-k).
    marked = prevalence * keep + (1 - prevalence) * (1 - keep)
    chance = marked**2 + (1 - marked) ** 2
    true_kappa = (keep - chance) / (1 - chance)
    covered = 0
    for _study in range(100):
        first = (rng.random((1, 20, 4)) < prevalence).astype(np.int8)
        retest = np.where(rng.random(first.shape) < keep, first, 1 - first).astype(np.int8)
        ours = retest_intervals(first, retest, n_resamples=300, seed=int(rng.integers(1 << 30)))
        covered += ours.kappa_low[0] <= true_kappa <= ours.kappa_high[0]
    assert 85 <= covered <= 100, covered


def test_a_reader_with_no_retest_has_no_interval_and_a_perfect_one_has_a_point_at_one():
    from annotations.lib.stats import retest_intervals

    first = random_reads(5, n_readers=2, n_exams=10)
    retest = first.copy()
    retest[1] = MISSING
    ours = retest_intervals(first, retest, n_resamples=50, seed=0)
    assert (ours.agreement_low[0], ours.agreement_high[0]) == (1.0, 1.0)
    assert np.isnan([ours.kappa_low[1], ours.kappa_high[1], ours.agreement_low[1]]).all()
