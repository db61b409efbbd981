"""Per-class agreement statistics agree with the reference libraries, on many seeded random tables.

No database: these are plain functions over numpy arrays. Reference implementations: scikit-learn's
cohen_kappa_score, statsmodels' fleiss_kappa (method "fleiss" and "randolph" = free-marginal) with
aggregate_raters, and the krippendorff package; Gwet's AC1 and the whole-exam measures against direct
loops over exams written from the published formulas.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from annotations.lib.stats import (
    ALGORITHM_VERSION,
    MISSING,
    ReadsError,
    agreement,
    as_reads,
    class_agreement,
    exam_agreement,
    reader_pairs,
    table_coefficients,
)

TOL = 1e-9
SEEDS = range(40)


def random_reads(seed: int, n_readers: int = 3, n_exams: int = 120, n_classes: int = 6, missing: float = 0.0):
    """Reads with per-class prevalence from rare to common, readers who partly agree, optional gaps."""
    rng = np.random.default_rng(seed)
    prevalence = rng.choice([0.02, 0.1, 0.3, 0.5], size=n_classes)
    truth = rng.random((n_exams, n_classes)) < prevalence
    flip = rng.uniform(0.02, 0.3, size=(n_readers, 1, n_classes))
    reads = (truth[None] ^ (rng.random((n_readers, n_exams, n_classes)) < flip)).astype(np.int8)
    reads[rng.random(reads.shape) < missing] = MISSING
    return reads


def quietly(function, *args, **kwargs):
    # The references warn on degenerate tables (which the random ones sometimes are); the values matter.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def sklearn_pairwise(reads: np.ndarray, c: int) -> list[float]:
    out = []
    for a, b in reader_pairs(reads.shape[0]):
        both = (reads[a, :, c] != MISSING) & (reads[b, :, c] != MISSING)
        if not both.any():
            out.append(np.nan)
            continue
        out.append(quietly(cohen_kappa_score, reads[a, both, c], reads[b, both, c], labels=[0, 1]))
    return out


def statsmodels_fleiss(reads: np.ndarray, c: int, method: str = "fleiss") -> float:
    counts, _ = aggregate_raters(reads[:, :, c].T, n_cat=2)
    return quietly(fleiss_kappa, counts, method=method)


def krippendorff_alpha(reads: np.ndarray, c: int) -> float:
    data = reads[:, :, c].astype(float)
    data[data == MISSING] = np.nan
    return quietly(krippendorff.alpha, data, level_of_measurement="nominal", value_domain=[0, 1])


def assert_same(ours, reference, tol: float = TOL) -> None:
    np.testing.assert_allclose(
        np.asarray(ours, float), np.asarray(reference, float), rtol=0, atol=tol, equal_nan=True
    )


# ---------------------------------------------------------------------------------------------------
# Against the reference libraries
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_readers", [2, 3, 5])
def test_fleiss_kappa_matches_statsmodels_on_random_complete_tables(n_readers):
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=n_readers)
        ours = class_agreement(reads)
        assert_same(ours.fleiss_kappa, [statsmodels_fleiss(reads, c) for c in range(reads.shape[2])])


def test_pabak_matches_statsmodels_free_marginal_kappa_on_random_complete_tables():
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=4)
        ours = class_agreement(reads)
        assert_same(ours.pabak, [statsmodels_fleiss(reads, c, "randolph") for c in range(reads.shape[2])])


def test_pabak_of_two_readers_is_twice_observed_agreement_minus_one():
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=2)
        ours = class_agreement(reads)
        observed = (reads[0] == reads[1]).mean(axis=0)
        assert_same(ours.observed_agreement, observed)
        assert_same(ours.pabak, 2 * observed - 1)


def test_fleiss_kappa_matches_statsmodels_when_each_exam_is_read_by_three_of_five_readers():
    # statsmodels needs the same number of ratings per exam, not the same readers: this is that design,
    # and it exercises the missing-read path of our code.
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=5, n_exams=150)
        rng = np.random.default_rng(1000 + seed)
        for e in range(reads.shape[1]):
            reads[rng.choice(5, size=2, replace=False), e, :] = MISSING
        ours = class_agreement(reads)
        for c in range(reads.shape[2]):
            counts = np.stack([(reads[:, :, c] == 0).sum(0), (reads[:, :, c] == 1).sum(0)], axis=1)
            assert_same(ours.fleiss_kappa[c], quietly(fleiss_kappa, counts))


@pytest.mark.parametrize("missing", [0.0, 0.25])
@pytest.mark.parametrize("n_readers", [2, 3, 4])
def test_pairwise_cohen_kappa_matches_sklearn_on_random_tables(n_readers, missing):
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=n_readers, missing=missing)
        ours = class_agreement(reads)
        for c in range(reads.shape[2]):
            assert_same(ours.pairwise_kappa[:, c], sklearn_pairwise(reads, c))


def test_mean_pairwise_kappa_is_the_mean_of_the_defined_sklearn_pairs():
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=4, missing=0.2)
        ours = class_agreement(reads)
        for c in range(reads.shape[2]):
            pairs = np.array(sklearn_pairwise(reads, c))
            defined = ~np.isnan(pairs)
            assert ours.n_pairs_defined[c] == defined.sum()
            assert_same(ours.mean_pairwise_kappa[c], pairs[defined].mean() if defined.any() else np.nan)


@pytest.mark.parametrize("missing", [0.0, 0.3])
@pytest.mark.parametrize("n_readers", [2, 3, 6])
def test_krippendorff_alpha_matches_the_krippendorff_package_on_random_tables(n_readers, missing):
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=n_readers, missing=missing)
        ours = class_agreement(reads)
        assert_same(ours.krippendorff_alpha, [krippendorff_alpha(reads, c) for c in range(reads.shape[2])])


def naive_gwet(reads: np.ndarray, c: int) -> tuple[float, float, float, float]:
    """Gwet (2014) multi-rater formulas, exam by exam: (P_a, pi_1, AC1, Fleiss kappa)."""
    agree, shares = [], []
    for e in range(reads.shape[1]):
        values = [v for v in reads[:, e, c] if v != MISSING]
        n = len(values)
        if n >= 1:
            shares.append(sum(values) / n)
        if n >= 2:
            k = sum(values)
            agree.append((k * (k - 1) + (n - k) * (n - k - 1)) / (n * (n - 1)))
    pa, pi = np.mean(agree), np.mean(shares)
    pe_ac1 = 2 * pi * (1 - pi)
    pe_fleiss = pi**2 + (1 - pi) ** 2
    fleiss = (pa - pe_fleiss) / (1 - pe_fleiss) if pe_fleiss < 1 else np.nan
    return pa, pi, (pa - pe_ac1) / (1 - pe_ac1), fleiss


@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_gwet_ac1_prevalence_and_generalised_fleiss_match_exam_by_exam_formulas(missing):
    for seed in SEEDS:
        reads = random_reads(seed, n_readers=4, n_exams=60, missing=missing)
        ours = class_agreement(reads)
        for c in range(reads.shape[2]):
            pa, pi, ac1, fleiss = naive_gwet(reads, c)
            assert_same(
                [ours.observed_agreement[c], ours.prevalence[c], ours.gwet_ac1[c], ours.fleiss_kappa[c]],
                [pa, pi, ac1, fleiss],
            )


def test_multi_category_table_coefficients_match_statsmodels_and_krippendorff_on_random_tables():
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        n_categories, n_raters = int(rng.integers(2, 6)), int(rng.integers(2, 7))
        ratings = rng.integers(0, n_categories, size=(50, n_raters))
        counts, _ = aggregate_raters(ratings, n_cat=n_categories)
        ours = table_coefficients(counts)
        assert_same(ours.fleiss_kappa, quietly(fleiss_kappa, counts))
        assert_same(ours.brennan_prediger, quietly(fleiss_kappa, counts, method="randolph"))
        reference_alpha = krippendorff.alpha(
            ratings.T.astype(float), level_of_measurement="nominal", value_domain=list(range(n_categories))
        )
        assert_same(ours.krippendorff_alpha, reference_alpha)


# ---------------------------------------------------------------------------------------------------
# Whole-exam measures
# ---------------------------------------------------------------------------------------------------


def test_exact_match_and_jaccard_on_a_hand_worked_example():
    # Exam 0: both {A}; exam 1: {A, B} vs {A} (Jaccard 1/2); exam 2: both nothing (counts as agreement);
    # exam 3: read by one reader only, so not pairable.
    reads = np.array(
        [
            [[1, 0], [1, 1], [0, 0], [1, 1]],
            [[1, 0], [1, 0], [0, 0], [MISSING, MISSING]],
        ],
        dtype=np.int8,
    )
    result = exam_agreement(reads)
    assert result.n_pairable_exams == 3
    assert result.exact_match_rate == pytest.approx(2 / 3, abs=1e-15)
    assert result.mean_jaccard == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-15)


def naive_exam_agreement(reads: np.ndarray) -> tuple[float, float]:
    exact, jaccards = [], []
    for e in range(reads.shape[1]):
        per_pair, identical = [], True
        for a, b in reader_pairs(reads.shape[0]):
            classes = [
                c for c in range(reads.shape[2]) if reads[a, e, c] != MISSING and reads[b, e, c] != MISSING
            ]
            if not classes:
                continue
            set_a = {c for c in classes if reads[a, e, c] == 1}
            set_b = {c for c in classes if reads[b, e, c] == 1}
            per_pair.append(len(set_a & set_b) / len(set_a | set_b) if set_a | set_b else 1.0)
            identical &= set_a == set_b
        if per_pair:
            exact.append(identical)
            jaccards.append(np.mean(per_pair))
    return float(np.mean(exact)), float(np.mean(jaccards))


def test_exact_match_rate_and_mean_jaccard_match_set_by_set_computation_on_random_tables():
    for seed in range(15):
        reads = random_reads(seed, n_readers=3, n_exams=40, n_classes=5, missing=0.15)
        result = exam_agreement(reads)
        assert_same([result.exact_match_rate, result.mean_jaccard], naive_exam_agreement(reads))


# ---------------------------------------------------------------------------------------------------
# Edge cases: defined answers, no NaN surprises, no crashes
# ---------------------------------------------------------------------------------------------------


def test_a_class_nobody_marked_has_undefined_kappas_flagged_and_perfect_ac1_and_pabak():
    reads = random_reads(3, n_readers=3)
    reads[:, :, 0] = 0
    ours = class_agreement(reads)
    assert ours.chance_agreement_is_one[0]
    assert ours.prevalence[0] == 0.0
    assert ours.observed_agreement[0] == 1.0
    assert np.isnan([ours.fleiss_kappa[0], ours.krippendorff_alpha[0], ours.mean_pairwise_kappa[0]]).all()
    assert np.isnan(ours.pairwise_kappa[:, 0]).all()
    assert ours.gwet_ac1[0] == 1.0
    assert ours.pabak[0] == 1.0
    # The reference libraries agree that kappa is undefined there.
    assert np.isnan(statsmodels_fleiss(reads, 0))
    assert np.isnan(sklearn_pairwise(reads, 0)).all()
    # Other classes are unaffected by the degenerate one.
    assert not ours.chance_agreement_is_one[1:].any()


def test_a_class_everybody_marked_everywhere_is_flagged_like_one_nobody_marked():
    reads = random_reads(4, n_readers=3)
    reads[:, :, 2] = 1
    ours = class_agreement(reads)
    assert ours.chance_agreement_is_one[2] and ours.prevalence[2] == 1.0
    assert np.isnan(ours.fleiss_kappa[2]) and np.isnan(ours.krippendorff_alpha[2])
    assert ours.gwet_ac1[2] == 1.0 and ours.pabak[2] == 1.0


def test_one_reader_gives_prevalence_and_nan_agreement_without_warnings():
    reads = random_reads(5, n_readers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = agreement(reads)
    classes = result.classes
    assert_same(classes.prevalence, reads[0].mean(axis=0))
    assert (classes.n_pairable_exams == 0).all()
    for name in ("observed_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "pabak"):
        assert np.isnan(getattr(classes, name)).all(), name
    assert classes.pairwise_kappa.shape == (0, reads.shape[2])
    assert np.isnan(classes.mean_pairwise_kappa).all()
    assert np.isnan(result.exams.exact_match_rate) and result.exams.n_pairable_exams == 0


def test_readers_who_all_agree_get_kappa_one_everywhere():
    reads = np.repeat(random_reads(6, n_readers=1), 4, axis=0)
    ours = class_agreement(reads)
    defined = ~ours.chance_agreement_is_one
    assert defined.any()
    for name in ("observed_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "pabak"):
        assert_same(getattr(ours, name)[defined], 1.0)
    assert_same(ours.pairwise_kappa[:, defined], 1.0)
    assert exam_agreement(reads).exact_match_rate == 1.0


def test_two_readers_who_always_disagree_on_a_balanced_class_get_kappa_minus_one():
    first = np.array([1, 0, 1, 0, 1, 0], dtype=np.int8)
    reads = np.stack([first, 1 - first])[:, :, None]
    ours = class_agreement(reads)
    assert ours.pairwise_kappa[0, 0] == pytest.approx(-1.0, abs=1e-15)
    assert ours.pabak[0] == -1.0
    assert ours.observed_agreement[0] == 0.0


def test_a_pair_that_never_read_the_same_exam_is_nan_and_left_out_of_the_mean():
    reads = random_reads(7, n_readers=3, n_exams=40)
    reads[0, :20] = MISSING
    reads[1, 20:] = MISSING
    ours = class_agreement(reads)
    assert (ours.pairwise_n[0] == 0).all()
    assert np.isnan(ours.pairwise_kappa[0]).all()
    defined = ~np.isnan(ours.pairwise_kappa[1:])
    expected = np.where(defined, ours.pairwise_kappa[1:], 0).sum(0) / defined.sum(0)
    assert_same(ours.mean_pairwise_kappa, expected)


def test_no_exams_at_all_gives_nan_statistics_not_an_exception():
    reads = np.zeros((3, 0, 4), dtype=np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = agreement(reads)
    assert np.isnan(result.classes.fleiss_kappa).all()
    assert (result.classes.n_exams_read == 0).all()


def test_statistics_do_not_depend_on_the_order_of_exams_or_readers():
    reads = random_reads(8, n_readers=4, missing=0.1)
    rng = np.random.default_rng(0)
    shuffled = reads[rng.permutation(4)][:, rng.permutation(reads.shape[1])]
    a, b = class_agreement(reads), class_agreement(shuffled)
    for name in (
        "prevalence",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "pabak",
        "mean_pairwise_kappa",
    ):
        assert_same(getattr(a, name), getattr(b, name), tol=1e-12)


def test_float_reads_with_nan_mean_the_same_as_int8_with_minus_one():
    reads = random_reads(9, missing=0.2)
    as_float = reads.astype(float)
    as_float[reads == MISSING] = np.nan
    assert_same(
        class_agreement(as_float).krippendorff_alpha, class_agreement(reads).krippendorff_alpha, tol=0
    )
    np.testing.assert_array_equal(as_reads(as_float), reads)
    np.testing.assert_array_equal(as_reads(reads.astype(bool) & (reads == 1)), (reads == 1).astype(np.int8))


@pytest.mark.parametrize(
    "bad",
    [
        np.full((2, 3, 1), 2),
        np.full((2, 3, 1), 0.5),
        np.full((2, 3, 1), -3),
        np.zeros((2, 3)),
        # one bad cell among good ones: every cell is checked, not only the extremes' sign
        np.array([[[1], [0], [-2]], [[-1], [1], [0]]]),
        np.array([[[1], [0], [2]], [[-1], [1], [0]]]),
    ],
)
def test_invalid_reads_are_rejected_rather_than_coerced(bad):
    with pytest.raises(ReadsError):
        as_reads(bad)


# ---------------------------------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------------------------------


def test_results_serialise_to_json_with_nan_as_null_and_carry_the_algorithm_version():
    reads = random_reads(10)
    reads[:, :, 0] = 0
    document = json.loads(json.dumps(agreement(reads).to_dict(), allow_nan=False))
    assert document["algorithm_version"] == ALGORITHM_VERSION
    assert document["classes"]["fleiss_kappa"][0] is None
    assert document["classes"]["gwet_ac1"][0] == 1.0
    assert document["classes"]["reader_pairs"] == [[0, 1], [0, 2], [1, 2]]


def test_the_agreement_package_imports_without_django():
    code = "import sys, annotations.lib.stats; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
