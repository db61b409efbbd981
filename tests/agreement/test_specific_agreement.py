"""Specific agreement (positive and negative), the prevalence and bias indices, and whole-exam agreement on
the exams that carry a finding: against the published formulas computed here by hand, and against
simulated readers whose truth is known.

References: two raters, PSA = 2a/(2a+b+c) and NSA = 2d/(2d+b+c) (Dice 1945; Fleiss 1975); many raters,
Uebersax's generalisation ``sum_e k_e(k_e-1) / sum_e k_e(n_e-1)``, which is the pooled pairwise table
``sum_p 2a_p / sum_p (2a_p+b_p+c_p)``; prevalence index |a-d|/n and bias index |b-c|/n (Byrt, Bishop &
Carlin 1993)."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from annotations.lib.stats import MISSING
from annotations.lib.stats.specific import specific_agreement


def two_by_two(x: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
    both = (x != MISSING) & (y != MISSING)
    a = int(((x == 1) & (y == 1) & both).sum())
    b = int(((x == 1) & (y == 0) & both).sum())
    c = int(((x == 0) & (y == 1) & both).sum())
    d = int(((x == 0) & (y == 0) & both).sum())
    return a, b, c, d


def random_reads(rng, n_readers, n_exams, n_classes, prevalence=0.1, missing=0.0) -> np.ndarray:
    reads = (rng.random((n_readers, n_exams, n_classes)) < prevalence).astype(np.int8)
    absent = rng.random((n_readers, n_exams)) < missing
    reads[absent] = MISSING
    return reads


def test_two_readers_equal_the_published_two_by_two_formulas():
    rng = np.random.default_rng(1)
    reads = random_reads(rng, 2, 300, 5, prevalence=0.2)
    result = specific_agreement(reads, n_resamples=50, seed=0)
    for c in range(5):
        a, b, cc, d = two_by_two(reads[0, :, c], reads[1, :, c])
        n = a + b + cc + d
        assert result.positive[c] == pytest.approx(2 * a / (2 * a + b + cc), abs=1e-12)
        assert result.negative[c] == pytest.approx(2 * d / (2 * d + b + cc), abs=1e-12)
        assert result.prevalence_index[c] == pytest.approx(abs(a - d) / n, abs=1e-12)
        assert result.bias_index[c] == pytest.approx(abs(b - cc) / n, abs=1e-12)


def brute_force_specific(reads: np.ndarray, c: int, value: int) -> float:
    """Over every exam, ordered pairs of its readers: both said ``value`` / the first said ``value``."""
    agree = first = 0
    for e in range(reads.shape[1]):
        readers = [r for r in range(reads.shape[0]) if reads[r, e, c] != MISSING]
        for r, s in permutations(readers, 2):
            if reads[r, e, c] == value:
                first += 1
                agree += reads[s, e, c] == value
    return agree / first


def test_many_readers_with_missing_reads_equal_uebersax_and_the_pooled_pairwise_tables():
    rng = np.random.default_rng(2)
    reads = random_reads(rng, 5, 120, 4, prevalence=0.15, missing=0.3)
    result = specific_agreement(reads, n_resamples=50, seed=0)
    for c in range(4):
        assert result.positive[c] == pytest.approx(brute_force_specific(reads, c, 1), abs=1e-12)
        assert result.negative[c] == pytest.approx(brute_force_specific(reads, c, 0), abs=1e-12)
        tables = [two_by_two(reads[r, :, c], reads[s, :, c]) for r in range(5) for s in range(r + 1, 5)]
        pooled = sum(2 * a for a, *_ in tables) / sum(2 * a + b + cc for a, b, cc, _ in tables)
        assert result.positive[c] == pytest.approx(pooled, abs=1e-12)
        indices = [(abs(a - d) / (a + b + cc + d), abs(b - cc) / (a + b + cc + d)) for a, b, cc, d in tables]
        assert result.prevalence_index[c] == pytest.approx(np.mean([p for p, _ in indices]), abs=1e-12)
        assert result.bias_index[c] == pytest.approx(np.mean([q for _, q in indices]), abs=1e-12)
        assert result.n_pairs[c] == 10


def test_exams_with_a_finding_exact_match_and_jaccard_by_hand():
    # Three readers, four exams, three classes. Exam 0: nobody marked anything (left out). Exam 1: all
    # three marked {0}: exact, Jaccard 1. Exam 2: {0,1}, {0}, missing: Jaccard 1/2, not exact. Exam 3:
    # {2}, {}, {2}: pairs 0/1, 1, 0/1 -> Jaccard 1/3, not exact. Exam 4 read once with a finding: left out.
    m = MISSING
    reads = np.array(
        [
            [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]],
            [[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0], [m, m, m]],
            [[0, 0, 0], [1, 0, 0], [m, m, m], [0, 0, 1], [m, m, m]],
        ],
        dtype=np.int8,
    )
    result = specific_agreement(reads, n_resamples=50, seed=0)
    assert result.n_exams_with_findings == 3
    assert result.exact_match_rate_with_findings == pytest.approx(1 / 3)
    assert result.mean_jaccard_with_findings == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_undefined_where_nobody_marked_or_everybody_marked():
    reads = np.zeros((3, 20, 2), dtype=np.int8)
    reads[:, :, 1] = 1
    result = specific_agreement(reads, n_resamples=20, seed=0)
    assert np.isnan(result.positive[0]) and result.negative[0] == 1.0
    assert result.positive[1] == 1.0 and np.isnan(result.negative[1])
    assert np.isnan(result.positive_ci[:, 0]).all() and result.positive_defined[0] == 0.0
    assert result.prevalence_index[0] == 1.0 and result.bias_index[0] == 0.0
    assert result.n_exams_with_findings == 20 and result.exact_match_rate_with_findings == 1.0


def test_reproducible_and_interval_around_the_estimate():
    rng = np.random.default_rng(3)
    reads = random_reads(rng, 4, 200, 3, prevalence=0.2, missing=0.1)
    one = specific_agreement(reads, n_resamples=200, seed=7)
    two = specific_agreement(reads, n_resamples=200, seed=7)
    assert np.array_equal(one.positive_ci, two.positive_ci)
    assert (one.positive_ci[0] <= one.positive).all() and (one.positive <= one.positive_ci[1]).all()
    assert (one.negative_ci[0] <= one.negative).all() and (one.negative <= one.negative_ci[1]).all()
    low, high = one.exact_match_rate_with_findings_ci
    assert low <= one.exact_match_rate_with_findings <= high


# --- Simulated readers with known sensitivity and specificity: the truth of every figure is known -----


def simulate(rng, n_exams, prevalence, sensitivity, specificity, n_classes=1):
    """Readers independent given the truth; reader r has ``sensitivity[r]`` and ``specificity[r]``."""
    truth = rng.random((n_exams, n_classes)) < prevalence
    se = np.asarray(sensitivity)[:, None, None]
    sp = np.asarray(specificity)[:, None, None]
    draw = rng.random((len(sensitivity), n_exams, n_classes))
    return np.where(truth[None], draw < se, draw >= sp).astype(np.int8)


def true_specific(prevalence, se, sp):
    """Population PSA and NSA of exchangeable readers: P(both +)/P(one +) and P(both -)/P(one -)."""
    both_pos = prevalence * se**2 + (1 - prevalence) * (1 - sp) ** 2
    one_pos = prevalence * se + (1 - prevalence) * (1 - sp)
    both_neg = prevalence * (1 - se) ** 2 + (1 - prevalence) * sp**2
    return both_pos / one_pos, both_neg / (1 - one_pos)


def test_simulation_recovers_the_known_specific_agreement_and_indices():
    rng = np.random.default_rng(11)
    prevalence, se, sp = 0.05, 0.8, 0.97
    reads = simulate(rng, 60_000, prevalence, [se] * 4, [sp] * 4)
    result = specific_agreement(reads, n_resamples=100, seed=1)
    psa, nsa = true_specific(prevalence, se, sp)
    assert result.positive[0] == pytest.approx(psa, abs=0.01)
    assert result.negative[0] == pytest.approx(nsa, abs=0.002)
    both_pos = prevalence * se**2 + (1 - prevalence) * (1 - sp) ** 2
    both_neg = prevalence * (1 - se) ** 2 + (1 - prevalence) * sp**2
    assert result.prevalence_index[0] == pytest.approx(both_neg - both_pos, abs=0.005)
    assert result.bias_index[0] < 0.005  # readers alike: no bias beyond sampling noise


def test_simulation_bias_index_of_a_reader_who_marks_more():
    rng = np.random.default_rng(12)
    prevalence = 0.2
    reads = simulate(rng, 60_000, prevalence, [0.9, 0.6], [0.8, 0.98])
    result = specific_agreement(reads, n_resamples=20, seed=1)
    marks = [prevalence * se + (1 - prevalence) * (1 - sp) for se, sp in ((0.9, 0.8), (0.6, 0.98))]
    assert result.bias_index[0] == pytest.approx(abs(marks[0] - marks[1]), abs=0.006)


def test_simulation_exact_match_on_exams_with_a_finding():
    rng = np.random.default_rng(13)
    prevalence, se, sp, n_classes = 0.05, 0.85, 0.98, 4
    reads = simulate(rng, 60_000, prevalence, [se, se], [sp, sp], n_classes=n_classes)
    result = specific_agreement(reads, n_resamples=20, seed=1)
    both_pos = prevalence * se**2 + (1 - prevalence) * (1 - sp) ** 2
    both_neg = prevalence * (1 - se) ** 2 + (1 - prevalence) * sp**2
    agree_all, none = (both_pos + both_neg) ** n_classes, both_neg**n_classes
    assert result.exact_match_rate_with_findings == pytest.approx((agree_all - none) / (1 - none), abs=0.01)


def test_simulation_intervals_cover_the_known_truth():
    """95% percentile intervals over exams cover the true PSA and NSA in about 95% of simulated studies."""
    rng = np.random.default_rng(21)
    prevalence, se, sp = 0.15, 0.8, 0.95
    psa, nsa = true_specific(prevalence, se, sp)
    studies = 200
    covered = np.zeros(2)
    for study in range(studies):
        reads = simulate(rng, 300, prevalence, [se] * 3, [sp] * 3)
        result = specific_agreement(reads, n_resamples=200, seed=study)
        covered[0] += result.positive_ci[0, 0] <= psa <= result.positive_ci[1, 0]
        covered[1] += result.negative_ci[0, 0] <= nsa <= result.negative_ci[1, 0]
    # Binomial(200, 0.95) lies within 0.90-0.99 with probability > 0.99.
    assert ((covered / studies) >= 0.90).all() and ((covered / studies) <= 0.99).all(), covered / studies
