"""Tables a statistical reviewer cannot fault, at the numpy level: exams read once stay out of agreement,
intervals stay in range and say when only part of the resamples defined them, a two-way bootstrap over
exams and readers, and a reader x class table with n, intervals and outliers."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.stats import (
    MISSING,
    agreement,
    bootstrap_agreement,
    class_agreement,
    leave_one_out_reference,
    reader_class_table,
)
from annotations.lib.stats.coefficients import binary_confusion, cohen_kappa_from_confusion


def disagreeing_pairs_and_single_reads() -> np.ndarray:
    """Two readers split 1-1 on ten exams; thirty more exams read by one reader only, all positive."""
    reads = np.full((2, 40, 1), MISSING, dtype=np.int8)
    reads[0, :10, 0], reads[1, :10, 0] = 1, 0
    reads[0, 10:, 0] = 1
    return reads


def test_exams_read_once_do_not_enter_agreement():
    reads = disagreeing_pairs_and_single_reads()
    result = bootstrap_agreement(reads, n_resamples=200, seed=1)
    assert result.n_exams_dropped == 30
    # Only the ten pairable exams count: complete disagreement on a 50% class is kappa -1, not -4.5.
    assert result.point.classes.fleiss_kappa[0] == pytest.approx(-1.0)
    assert result.point.classes.prevalence[0] == pytest.approx(0.5)
    assert result.point.n_exams == 10


@pytest.mark.parametrize("seed", range(5))
def test_no_interval_leaves_the_range_of_its_coefficient(seed):
    rng = np.random.default_rng(seed)
    reads = (rng.random((3, 25, 4)) < 0.3).astype(np.int8)
    reads[rng.random(reads.shape[:2]) < 0.5] = MISSING  # many exams read once or never
    for method in ("exams", "exams_and_readers"):
        result = bootstrap_agreement(reads, n_resamples=300, seed=seed, method=method)
        for name, interval in result.intervals.items():
            low, high = (
                (-1.0, 1.0)
                if "kappa" in name or name in ("gwet_ac1", "pabak", "krippendorff_alpha")
                else (
                    0.0,
                    1.0,
                )
            )
            for bound in (interval.lower, interval.upper):
                finite = np.asarray(bound)[np.isfinite(bound)]
                assert ((finite >= low) & (finite <= high)).all(), (method, name, finite)


def test_an_interval_from_part_of_the_resamples_is_flagged_with_its_fraction():
    # One exam everybody marked among 40 nobody did: kappa 1.0, undefined whenever that exam is not drawn.
    reads = np.zeros((3, 40, 2), dtype=np.int8)
    reads[:, 0, 0] = 1
    reads[:, :, 1] = rng_marks = (np.random.default_rng(0).random((3, 40)) < 0.4).astype(np.int8)
    assert rng_marks.any()
    result = bootstrap_agreement(reads, n_resamples=1000, seed=3)
    interval = result.intervals["fleiss_kappa"]
    assert result.point.classes.fleiss_kappa[0] == 1.0
    assert 0.55 < interval.defined_fraction[0] < 0.7  # 1 - (39/40)**40 = 0.64
    assert interval.partial.tolist() == [True, False]


def two_way_reads(seed: int, n_readers: int = 5, n_exams: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.random(n_exams) < 0.3
    sensitivity = np.linspace(0.4, 0.95, n_readers)
    p = np.where(truth[None], sensitivity[:, None], 0.05)
    return (rng.random((n_readers, n_exams)) < p).astype(np.int8)[:, :, None]


def test_the_two_way_bootstrap_is_wider_when_readers_differ_and_needs_three_readers():
    reads = two_way_reads(0)
    exams = bootstrap_agreement(reads, n_resamples=400, seed=0)
    both = bootstrap_agreement(reads, n_resamples=400, seed=0, method="exams_and_readers")
    assert exams.method == "exams" and both.method == "exams_and_readers"
    assert "readers" in both.description and "conditional" in exams.description
    np.testing.assert_array_equal(both.point.classes.fleiss_kappa, exams.point.classes.fleiss_kappa)
    for name in ("fleiss_kappa", "gwet_ac1", "mean_pairwise_kappa"):
        width_exams = exams.intervals[name].upper - exams.intervals[name].lower
        width_both = both.intervals[name].upper - both.intervals[name].lower
        assert (width_both > width_exams).all(), name
    with pytest.raises(ValueError, match="three readers"):
        bootstrap_agreement(reads[:2], n_resamples=10, seed=0, method="exams_and_readers")


def test_a_two_way_replicate_never_pairs_a_reader_with_its_own_copy():
    # A resample that drew the same reader three times has no pair of distinct readers: undefined, not 1.
    reads = two_way_reads(1, n_readers=3, n_exams=60)
    result = bootstrap_agreement(reads, n_resamples=2000, seed=5, method="exams_and_readers")
    # 3 of the 27 ordered draws use one reader only: about 11% of resamples define no kappa.
    assert 0.85 < result.intervals["fleiss_kappa"].defined_fraction[0] < 0.93
    assert result.intervals["prevalence"].defined_fraction[0] == 1.0


def test_reader_class_table_against_the_others_matches_direct_counts_and_flags_a_poor_reader():
    rng = np.random.default_rng(7)
    truth = rng.random((300, 3)) < np.array([0.3, 0.05, 0.2])
    sensitivity = np.array([[0.9, 0.9, 0.9], [0.9, 0.9, 0.9], [0.9, 0.05, 0.9], [0.9, 0.9, 0.9]])
    reads = np.where(
        truth[None], rng.random((4, 300, 3)) < sensitivity[:, None], rng.random((4, 300, 3)) < 0.03
    )
    reads = reads.astype(np.int8)
    reference = leave_one_out_reference(reads)
    table = reader_class_table(reads, reference, n_resamples=300, seed=0)
    for r in range(4):
        confusion = binary_confusion(reads[r], reference[r], axis=0)
        np.testing.assert_allclose(table.kappa[r], cohen_kappa_from_confusion(confusion), atol=1e-12)
        positives = confusion[:, 1, 1] + confusion[:, 0, 1]
        np.testing.assert_array_equal(table.n_reference_positive[r], positives)
        np.testing.assert_allclose(table.sensitivity[r], confusion[:, 1, 1] / positives)
    assert (table.sensitivity_ci[0] <= table.sensitivity + 1e-12).all()
    assert (table.sensitivity <= table.sensitivity_ci[1] + 1e-12).all()
    assert (table.kappa_ci[0] <= table.kappa_ci[1]).all()
    # Reader 2 misses the rare class: flagged there, and nowhere else.
    assert table.outlier[2, 1] and table.low_sensitivity[2, 1]
    assert table.outlier.sum() == 1


def test_a_kappa_from_a_single_reference_positive_flags_nobody():
    """14 gold exams, one of them positive for the class: every reader who marked it has kappa 1 with a
    degenerate interval, so the one who missed it lay "below the others" on one exam (the statistician's
    walk: a reader flagged on AF from 14 exams with one positive). Too few positives or negatives in the
    reference to tell a reader apart: no kappa flag."""
    gold = np.zeros((14, 1), dtype=np.int8)
    gold[0, 0] = 1
    reads = np.stack([gold, gold, gold, np.zeros_like(gold)])
    table = reader_class_table(reads, gold, n_resamples=300, seed=0)
    assert table.kappa[3, 0] == 0.0 and not table.low_kappa[3, 0] and not table.outlier[3, 0]


def test_reader_class_table_against_gold_labels_of_some_exams_only():
    reads = np.array([[[1, 0], [0, 0], [1, 1], [0, 1]], [[1, 0], [1, 0], [1, 1], [0, 0]]], dtype=np.int8)
    gold = np.full((4, 2), MISSING, dtype=np.int8)
    gold[:2] = [[1, 0], [0, 0]]
    table = reader_class_table(reads, gold, n_resamples=50, seed=0)
    assert table.n_compared.tolist() == [[2, 2], [2, 2]]
    assert table.sensitivity[:, 0].tolist() == [1.0, 1.0]
    assert table.specificity[:, 0].tolist() == [1.0, 0.0]
    assert np.isnan(table.sensitivity[:, 1]).all()  # nobody positive in gold: not measurable


def test_agreement_of_class_agreement_is_unchanged_by_the_package_entry_point():
    reads = two_way_reads(3)
    np.testing.assert_array_equal(agreement(reads).classes.fleiss_kappa, class_agreement(reads).fleiss_kappa)
