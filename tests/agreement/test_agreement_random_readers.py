"""Intervals that hold for a population of readers, near perfect agreement and for patients with several
exams, checked by simulations with a known truth and against the krippendorff package."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.stats import MIN_POSITIVE_EXAMS, bootstrap_agreement, cluster_weights, default_method

# Readers drawn from a population: sensitivity ~ Beta(a, b), false-positive rate ~ Beta(c, d).
FAIR = ((16, 4), (2, 18))  # mean 0.8 and 0.1: kappa about .48
EXPERT = ((196, 4), (1, 199))  # mean 0.98 and 0.005: kappa about .96
FIXED_EXPERTS = ((196000, 4000), (1000, 199000))  # the same, with no spread: two fixed readers


def population_kappa(prevalence: float, population) -> float:
    """Fleiss' kappa of two readers drawn independently from the population, over infinitely many exams:
    P(agree | truth) = E[p]^2 + E[1 - p]^2 for each reader's independent chance p of marking."""
    (a, b), (c, d) = population
    se, fp = a / (a + b), c / (c + d)
    observed = prevalence * (se**2 + (1 - se) ** 2) + (1 - prevalence) * (fp**2 + (1 - fp) ** 2)
    p = prevalence * se + (1 - prevalence) * fp
    chance = p**2 + (1 - p) ** 2
    return (observed - chance) / (1 - chance)


def random_readers(rng, n_readers: int, n_exams: int, prevalence: float, population) -> np.ndarray:
    (a, b), (c, d) = population
    truth = rng.random(n_exams) < prevalence
    se, fp = rng.beta(a, b, n_readers), rng.beta(c, d, n_readers)
    p = np.where(truth[None], se[:, None], fp[:, None])
    return (rng.random((n_readers, n_exams)) < p).astype(np.int8)[:, :, None]


def coverage(n_readers: int, n_exams: int, prevalence: float, population, replications: int) -> float:
    truth = population_kappa(prevalence, population)
    rng = np.random.default_rng(n_readers * 1000 + n_exams)
    covered = 0
    for seed in range(replications):
        reads = random_readers(rng, n_readers, n_exams, prevalence, population)
        result = bootstrap_agreement(reads, n_resamples=200, seed=seed, method=default_method(n_readers))
        interval = result.intervals["fleiss_kappa"]
        covered += bool(interval.lower[0] <= truth <= interval.upper[0])
    return covered / replications


def test_the_default_interval_is_over_readers_too_from_three_readers_on():
    assert default_method(2) == "exams" and default_method(3) == default_method(8) == "exams_and_readers"


@pytest.mark.slow
@pytest.mark.parametrize("n_readers", [3, 5])
def test_the_default_interval_covers_the_population_kappa_of_random_readers(n_readers):
    assert population_kappa(0.3, FAIR) == pytest.approx(0.481, abs=1e-3)
    assert 0.93 <= coverage(n_readers, 300, 0.3, FAIR, 200) <= 0.97


@pytest.mark.slow
@pytest.mark.parametrize(
    "n_readers,population",
    [
        (2, FIXED_EXPERTS),
        # Three experts covered .985 over 8,000 studies with the former variance (exam and reader
        # jackknifes less their interaction, never below either) and Satterthwaite's degrees of freedom
        # over the three; .97 with the reader jackknife plus the exams' common term and Hillis's degrees
        # of freedom (.95 on these 200; docs/agreement-statistics.md).
        (3, EXPERT),
    ],
)
def test_the_default_interval_holds_near_perfect_agreement(n_readers, population):
    # Two readers: intervals over exams, so two fixed readers; from three, readers drawn at random.
    assert population_kappa(0.2, population) == pytest.approx(0.96, abs=0.01)
    assert 0.93 <= coverage(n_readers, 400, 0.2, population, 200) <= 0.97


def test_readers_that_tie_still_get_the_width_their_exams_give():
    # Each reader misses two positives and marks one negative, all on different exams: every pair has the
    # same kappa, so the reader jackknife is exactly 0 and the common exam term negative. A zero-width
    # interval would claim a certainty nobody has; the readers-fixed variance over exams stands in.
    reads = np.zeros((3, 60, 1), dtype=np.int8)
    reads[:, :20, 0] = 1
    for r in range(3):
        reads[r, [2 * r, 2 * r + 1], 0] = 0
        reads[r, 30 + r, 0] = 1
    result = bootstrap_agreement(reads, n_resamples=20, seed=0, method="exams_and_readers")
    point, interval = result.point.classes.fleiss_kappa[0], result.intervals["fleiss_kappa"]
    assert interval.lower[0] < point - 0.1 and interval.upper[0] > point + 0.05


def test_a_class_with_one_positive_exam_gets_no_interval_and_says_why():
    reads = np.zeros((3, 200, 2), dtype=np.int8)
    reads[:, 0, 0] = 1  # kappa 1 from one exam: [1, 1] claimed a certainty nobody has
    reads[:, :, 1] = (np.random.default_rng(0).random((3, 200)) < 0.3).astype(np.int8)
    for method in ("exams", "exams_and_readers"):
        result = bootstrap_agreement(reads, n_resamples=200, seed=0, method=method)
        assert result.point.classes.fleiss_kappa[0] == 1.0
        assert result.positive_exams.tolist() == [1, int((reads[:, :, 1] == 1).any(axis=0).sum())]
        assert result.too_few_positives.tolist() == [True, False]
        for name in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "mean_pairwise_kappa"):
            assert np.isnan(result.intervals[name].lower[0]) and np.isnan(result.intervals[name].upper[0])
            assert np.isfinite(result.intervals[name].lower[1])
    assert MIN_POSITIVE_EXAMS == 5


def test_krippendorffs_alpha_matches_the_package_and_gets_an_interval_over_readers_too():
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(3)
    reads = random_readers(rng, 4, 150, 0.3, FAIR)
    result = bootstrap_agreement(reads, n_resamples=200, seed=0, method="exams_and_readers")
    expected = krippendorff.alpha(
        reliability_data=reads[:, :, 0].astype(float), level_of_measurement="nominal"
    )
    assert result.point.classes.krippendorff_alpha[0] == pytest.approx(expected, abs=1e-12)
    interval = result.intervals["krippendorff_alpha"]
    assert interval.lower[0] < expected < interval.upper[0]


def test_cluster_weights_draw_the_exams_of_a_patient_together():
    clusters = np.array([0, 0, 0, 1, 2, 2, 3, 4])
    weights = cluster_weights(clusters, 50, seed=1)
    assert weights.shape == (50, 8)
    for members in ([0, 1, 2], [4, 5]):
        assert (weights[:, members] == weights[:, members[:1]]).all()
    # Five patients drawn five times: the exam counts follow, not the number of exams.
    assert ((weights[:, [0, 3, 4, 6, 7]]).sum(axis=1) == 5).all()


def test_patients_with_several_exams_are_resampled_whole():
    # Every patient read twice with the same reads (a repeat ECG): exams that are copies carry no more
    # information than one of them, so resampling patients gives the width of the data without copies.
    rng = np.random.default_rng(4)
    once = random_readers(rng, 2, 200, 0.3, FAIR)
    twice = np.repeat(once, 2, axis=1)
    patients = np.repeat(np.arange(200), 2)
    single = bootstrap_agreement(once, n_resamples=400, seed=0)
    by_exam = bootstrap_agreement(twice, n_resamples=400, seed=0)
    by_patient = bootstrap_agreement(twice, n_resamples=400, seed=0, clusters=patients)
    assert by_patient.unit == "patients" and by_exam.unit == "exams" and "patients" in by_patient.description
    width = lambda r: float(r.intervals["fleiss_kappa"].upper[0] - r.intervals["fleiss_kappa"].lower[0])  # noqa: E731
    assert width(by_patient) == pytest.approx(width(single), rel=0.15)
    assert width(by_exam) < 0.8 * width(single)
    # Exams of patients seen once each stay their own unit: the exam bootstrap, resample for resample.
    lone = bootstrap_agreement(once, n_resamples=100, seed=0, clusters=np.arange(200))
    plain = bootstrap_agreement(once, n_resamples=100, seed=0)
    assert lone.unit == "exams"
    np.testing.assert_array_equal(lone.intervals["fleiss_kappa"].lower, plain.intervals["fleiss_kappa"].lower)
