"""Consensus helpers: majority vote, unanimity, and the Dawid-Skene latent truth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from annotations.lib.stats import MISSING, dawid_skene, majority_vote, unanimous, unanimous_exams


def cell(*values: int) -> np.ndarray:
    """One exam, one class, read by len(values) readers (use MISSING for an absent read)."""
    return np.array(values, dtype=np.int8)[:, None, None]


@pytest.mark.parametrize(
    "values,label,tied",
    [
        ((1, 1, 0), 1, False),
        ((1, 0, 0), 0, False),
        ((1, 0), MISSING, True),
        ((1, 1, 0, 0), MISSING, True),
        ((1, 1, 1, 0), 1, False),
        ((1, MISSING, 1), 1, False),
        ((MISSING, MISSING, MISSING), MISSING, False),
    ],
)
def test_strict_majority_decides_and_flags_exact_ties_for_adjudication(values, label, tied):
    vote = majority_vote(cell(*values))
    assert vote.labels[0, 0] == label
    assert vote.tied[0, 0] == tied


def test_configurable_threshold_moves_the_decision():
    reads = cell(1, 0, 0)  # one of three
    assert majority_vote(reads, threshold=0.5).labels[0, 0] == 0
    assert majority_vote(reads, threshold=0.25).labels[0, 0] == 1
    assert majority_vote(reads, threshold=0.0).labels[0, 0] == 1  # "any reader"
    assert majority_vote(cell(1, 1, 0), threshold=2 / 3).tied[0, 0]  # exactly two thirds is a tie
    assert majority_vote(cell(1, 1, 0), threshold=1.0).labels[0, 0] == 0  # "every reader"
    assert majority_vote(cell(1, 1, 1), threshold=1.0).labels[0, 0] == 1
    assert majority_vote(cell(0, 0, 0), threshold=0.0).labels[0, 0] == 0


def test_min_reads_leaves_thinly_read_cells_undecided():
    vote = majority_vote(cell(1, MISSING, MISSING), min_reads=2)
    assert vote.labels[0, 0] == MISSING and not vote.tied[0, 0]
    assert vote.n_reads[0, 0] == 1 and vote.positive_fraction[0, 0] == 1.0


def test_majority_vote_matches_counting_on_random_reads():
    rng = np.random.default_rng(0)
    reads = rng.integers(-1, 2, size=(5, 300, 4)).astype(np.int8)
    vote = majority_vote(reads)
    for e in range(300):
        for c in range(4):
            values = [v for v in reads[:, e, c] if v != MISSING]
            if not values:
                assert vote.labels[e, c] == MISSING
                continue
            k, n = sum(values), len(values)
            expected = 1 if 2 * k > n else 0 if 2 * k < n else MISSING
            assert vote.labels[e, c] == expected


def test_unanimity_needs_enough_readers_and_identical_values():
    reads = np.array(
        [
            [[1, 0], [1, 1], [0, 1]],
            [[1, 0], [1, 0], [MISSING, 1]],
            [[1, 0], [1, 1], [MISSING, 1]],
        ],
        dtype=np.int8,
    )
    np.testing.assert_array_equal(unanimous(reads), [[True, True], [True, False], [False, True]])
    np.testing.assert_array_equal(unanimous(reads, min_reads=3), [[True, True], [True, False], [False, True]])
    np.testing.assert_array_equal(unanimous_exams(reads), [True, False, False])


# ---------------------------------------------------------------------------------------------------
# Dawid-Skene
# ---------------------------------------------------------------------------------------------------


def simulate(
    seed: int, sensitivity, specificity, n_exams=3000, n_classes=3, prevalence=0.3, reads_per_exam=None
):
    """Readers with known error rates label a synthetic truth; optionally each exam gets a random subset."""
    rng = np.random.default_rng(seed)
    se, sp = np.asarray(sensitivity, float), np.asarray(specificity, float)
    truth = rng.random((n_exams, n_classes)) < prevalence
    p_positive = np.where(truth[None], se[:, None, None], 1 - sp[:, None, None])
    reads = (rng.random((len(se), n_exams, n_classes)) < p_positive).astype(np.int8)
    if reads_per_exam is not None:
        for e in range(n_exams):
            absent = rng.choice(len(se), size=len(se) - reads_per_exam, replace=False)
            reads[absent, e, :] = MISSING
    return truth, reads


def accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    return float((labels == truth).mean())


def test_latent_truth_beats_majority_vote_when_readers_differ_in_reliability():
    # One excellent, one good and three poor readers; each exam read by three of the five.
    se, sp = [0.97, 0.9, 0.65, 0.62, 0.6], [0.97, 0.92, 0.7, 0.64, 0.62]
    for seed in range(3):
        truth, reads = simulate(seed, se, sp, reads_per_exam=3)
        ds = dawid_skene(reads)
        assert ds.converged.all()
        assert accuracy(ds.labels, truth) > accuracy(majority_vote(reads).labels, truth) + 0.03


def test_latent_truth_is_at_least_as_good_as_majority_vote_when_readers_are_alike():
    # Equally reliable readers: Dawid-Skene can only add the prevalence prior, so it should not lose
    # (tolerance: one exam in a thousand, for the noise of estimating the weights).
    for seed in range(3):
        truth, reads = simulate(100 + seed, [0.8] * 5, [0.8] * 5)
        mv = accuracy(majority_vote(reads).labels, truth)
        assert accuracy(dawid_skene(reads).labels, truth) >= mv - 1e-3


def test_latent_truth_recovers_each_readers_sensitivity_specificity_and_the_prevalence():
    se, sp = np.array([0.95, 0.85, 0.7, 0.6]), np.array([0.9, 0.8, 0.9, 0.7])
    truth, reads = simulate(7, se, sp, n_exams=20000, n_classes=2, reads_per_exam=3)
    ds = dawid_skene(reads)
    # Compare with each reader's actual error rates on this sample, so that only the latent-truth
    # inference is judged, not the sampling noise of the simulation.
    read = reads != MISSING
    sample_se = ((reads == 1) & truth[None]).sum(axis=1) / (read & truth[None]).sum(axis=1)
    sample_sp = ((reads == 0) & ~truth[None]).sum(axis=1) / (read & ~truth[None]).sum(axis=1)
    assert np.abs(ds.sensitivity - sample_se).max() < 0.04
    assert np.abs(ds.specificity - sample_sp).max() < 0.03
    assert np.abs(ds.prevalence - truth.mean(axis=0)).max() < 0.02


def test_posterior_is_bayes_rule_under_the_fitted_parameters():
    # At convergence the posterior must be the E-step of the fitted model: check it with a direct
    # per-exam product of likelihoods (not the vectorised log-odds the implementation uses).
    _, reads = simulate(8, [0.9, 0.8, 0.7], [0.85, 0.9, 0.75], n_exams=400, n_classes=2)
    reads[0, :50] = MISSING
    ds = dawid_skene(reads, tolerance=1e-12, max_iterations=5000)
    for c in range(2):
        for e in range(0, 400, 7):
            like1, like0 = ds.prevalence[c], 1 - ds.prevalence[c]
            for r in range(3):
                if reads[r, e, c] == 1:
                    like1 *= ds.sensitivity[r, c]
                    like0 *= 1 - ds.specificity[r, c]
                elif reads[r, e, c] == 0:
                    like1 *= 1 - ds.sensitivity[r, c]
                    like0 *= ds.specificity[r, c]
            assert ds.posterior[e, c] == pytest.approx(like1 / (like1 + like0), abs=1e-8)


def test_latent_truth_posterior_is_probability_and_unread_exams_get_the_prior():
    _, reads = simulate(9, [0.9, 0.8, 0.7], [0.85, 0.9, 0.75], n_exams=300, n_classes=2)
    reads[:, :10] = MISSING
    ds = dawid_skene(reads)
    assert ((ds.posterior >= 0) & (ds.posterior <= 1)).all()
    np.testing.assert_allclose(ds.posterior[:10], np.broadcast_to(ds.prevalence, (10, 2)))
    assert (ds.labels[:10] == MISSING).all()
    assert np.isfinite(ds.log_likelihood).all()


def test_latent_truth_is_defined_for_a_class_nobody_marked_and_for_one_reader():
    reads = np.zeros((3, 100, 2), dtype=np.int8)
    reads[:, :30, 1] = 1
    ds = dawid_skene(reads)
    assert (ds.labels[:, 0] == 0).all() and ds.posterior[:, 0].max() < 0.5
    assert (ds.labels[:30, 1] == 1).all() and (ds.labels[30:, 1] == 0).all()
    single = dawid_skene(reads[:1])
    np.testing.assert_array_equal(single.labels, reads[0])


def test_log_likelihood_does_not_decrease_with_more_em_iterations():
    _, reads = simulate(10, [0.9, 0.7, 0.6], [0.9, 0.6, 0.7], n_exams=500, n_classes=2)
    # Without the pseudo-count this is plain maximum-likelihood EM, which never decreases the likelihood.
    values = [
        dawid_skene(reads, max_iterations=n, tolerance=0, pseudo_count=0.0).log_likelihood
        for n in (1, 2, 5, 20, 100)
    ]
    assert all((later >= earlier - 1e-9).all() for earlier, later in itertools.pairwise(values))
    assert (values[-1] > values[0]).all()
