"""The weighted bootstrap equals recomputing on materialised resamples, and is seeded and sane."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.stats import (
    MISSING,
    agreement,
    bootstrap_agreement,
    bootstrap_replicates,
    bootstrap_weights,
)
from annotations.lib.stats.stats import CLASS_STATISTICS
from tests.agreement.test_agreement_stats import random_reads


def test_bootstrap_weights_are_seeded_counts_of_exams_drawn_with_replacement():
    weights = bootstrap_weights(500, 20, seed=7)
    assert weights.shape == (20, 500)
    assert (weights.sum(axis=1) == 500).all()
    np.testing.assert_array_equal(weights, bootstrap_weights(500, 20, seed=7))
    assert not np.array_equal(weights, bootstrap_weights(500, 20, seed=8))
    # About 1 - 1/e of the exams appear in a resample.
    assert 0.6 < (weights > 0).mean() < 0.66


@pytest.mark.parametrize("n_readers,missing", [(2, 0.0), (3, 0.2), (5, 0.3)])
def test_weighted_replicates_equal_statistics_of_materialised_resamples(n_readers, missing):
    reads = random_reads(11, n_readers=n_readers, n_exams=300, n_classes=7, missing=missing)
    weights = bootstrap_weights(reads.shape[1], 6, seed=3)
    # A small chunk so that the chunked accumulation is exercised.
    classes, exams = bootstrap_replicates(reads, weights, exam_chunk=37)
    for b in range(weights.shape[0]):
        resample = reads[:, np.repeat(np.arange(reads.shape[1]), weights[b])]
        direct = agreement(resample)
        for name in (*CLASS_STATISTICS, "n_pairable_exams", "pairwise_n"):
            np.testing.assert_allclose(
                getattr(classes, name)[b], getattr(direct.classes, name), rtol=0, atol=1e-12, equal_nan=True
            )
        for name in ("exact_match_rate", "mean_jaccard", "n_pairable_exams"):
            np.testing.assert_allclose(
                getattr(exams, name)[b], getattr(direct.exams, name), rtol=0, atol=1e-12
            )


def test_unit_weights_reproduce_the_point_estimate():
    reads = random_reads(12, n_readers=3, missing=0.1)
    classes, exams = bootstrap_replicates(reads, np.ones((1, reads.shape[1]), dtype=np.uint8))
    point = agreement(reads)
    for name in CLASS_STATISTICS:
        np.testing.assert_allclose(
            getattr(classes, name)[0], getattr(point.classes, name), atol=1e-12, equal_nan=True
        )
    assert exams.mean_jaccard[0] == pytest.approx(float(point.exams.mean_jaccard), abs=1e-12)


def test_bootstrap_intervals_are_reproducible_with_a_seed_and_change_with_another():
    reads = random_reads(13, n_readers=3, n_exams=400)
    first = bootstrap_agreement(reads, n_resamples=200, seed=42)
    again = bootstrap_agreement(reads, n_resamples=200, seed=42)
    other = bootstrap_agreement(reads, n_resamples=200, seed=43)
    for name, interval in first.intervals.items():
        np.testing.assert_array_equal(interval.lower, again.intervals[name].lower)
        np.testing.assert_array_equal(interval.upper, again.intervals[name].upper)
    assert not np.allclose(first.intervals["fleiss_kappa"].lower, other.intervals["fleiss_kappa"].lower)


def test_intervals_bracket_the_estimate_and_narrow_with_more_exams():
    small = bootstrap_agreement(random_reads(14, n_exams=200, n_classes=4), n_resamples=300, seed=1)
    large = bootstrap_agreement(random_reads(14, n_exams=3200, n_classes=4), n_resamples=300, seed=1)
    for result in (small, large):
        for name in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "observed_agreement"):
            point = getattr(result.point.classes, name)
            interval = result.intervals[name]
            ok = ~np.isnan(point)
            assert (interval.lower[ok] <= point[ok] + 1e-12).all() and (
                point[ok] <= interval.upper[ok] + 1e-12
            ).all()
        interval = result.intervals["mean_jaccard"]
        assert interval.lower <= result.point.exams.mean_jaccard <= interval.upper
    width = lambda r: r.intervals["fleiss_kappa"].upper - r.intervals["fleiss_kappa"].lower  # noqa: E731
    # Sixteen times the exams: about a quarter of the width (square-root law), certainly under half.
    assert (width(large) < 0.5 * width(small)).all()


def test_percentile_interval_covers_the_true_kappa_about_95_percent_of_the_time():
    # Simulation with a known population kappa: two readers with symmetric 10% noise on a 30%-prevalent
    # truth. Coverage of 95% intervals over 60 replications should be within binomial noise of 0.95.
    rng = np.random.default_rng(2024)
    prevalence, flip = 0.3, 0.1
    p1 = prevalence * (1 - flip) + (1 - prevalence) * flip
    both_agree = (1 - flip) ** 2 + flip**2
    true_kappa = (both_agree - (p1**2 + (1 - p1) ** 2)) / (1 - (p1**2 + (1 - p1) ** 2))
    covered = 0
    for seed in range(60):
        truth = rng.random(300) < prevalence
        reads = (truth[None] ^ (rng.random((2, 300)) < flip)).astype(np.int8)[:, :, None]
        interval = bootstrap_agreement(reads, n_resamples=300, seed=seed).intervals["mean_pairwise_kappa"]
        covered += interval.lower[0] <= true_kappa <= interval.upper[0]
    assert 50 <= covered <= 60


def test_a_rare_class_reports_how_often_its_kappa_was_defined_across_resamples():
    reads = np.zeros((3, 200, 2), dtype=np.int8)
    reads[:, 0, 0] = 1  # one exam, all readers positive: many resamples miss it entirely
    reads[:, :, 1] = random_reads(15, n_exams=200, n_classes=1)[:, :, 0]
    result = bootstrap_agreement(reads, n_resamples=400, seed=0)
    defined = result.intervals["fleiss_kappa"].defined_fraction
    # P(exam drawn at least once) = 1 - (1 - 1/200)^200 ~ 0.634.
    assert 0.55 < defined[0] < 0.72
    assert defined[1] == 1.0
    # AC1 is defined in every resample, including those where nobody marked the class.
    assert result.intervals["gwet_ac1"].defined_fraction[0] == 1.0


def test_bootstrap_handles_one_reader_and_missing_reads_without_crashing():
    reads = random_reads(16, n_readers=1, n_exams=50)
    result = bootstrap_agreement(reads, n_resamples=50, seed=0)
    assert np.isnan(result.intervals["fleiss_kappa"].lower).all()
    assert (result.intervals["fleiss_kappa"].defined_fraction == 0).all()
    # Exams read once do not enter agreement: with one reader nothing does, unless asked to keep them.
    assert result.n_exams_dropped == 50 and (result.intervals["prevalence"].defined_fraction == 0).all()
    kept = bootstrap_agreement(reads, n_resamples=50, seed=0, min_reads=1)
    assert (kept.intervals["prevalence"].defined_fraction == 1).all()
    reads = random_reads(16, n_readers=3, n_exams=50, missing=0.5)
    reads[:, 0] = MISSING
    bootstrap_agreement(reads, n_resamples=50, seed=0)
