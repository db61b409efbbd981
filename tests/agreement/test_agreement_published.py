"""Published worked examples: our coefficients reproduce the figures printed in the literature.

Each test names its source and checks the published (rounded) figure at the precision printed, and
our exact value against the reference library where one exists, to 1e-9.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from annotations.lib.stats import MISSING, class_agreement, cohen_kappa_from_confusion, table_coefficients

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin
# 76(5), 378-382, Table 1: 30 psychiatric patients, 6 diagnoses each, into depression, personality
# disorder, schizophrenia, neurosis, other. Rows are counts per category (as distributed in the R
# package irr as `diagnoses`).
FLEISS_1971 = np.array(
    [
        [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
        [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
        [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
        [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
        [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
        [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
    ]
)  # fmt: skip


def test_fleiss_1971_psychiatric_diagnoses_give_kappa_0_430():
    ours = table_coefficients(FLEISS_1971)
    assert round(float(ours.fleiss_kappa), 3) == 0.430
    assert float(ours.fleiss_kappa) == pytest.approx(fleiss_kappa(FLEISS_1971), abs=1e-9)


def test_fleiss_1971_per_category_kappas_are_our_per_class_binary_kappas():
    # Fleiss (1971) also gives kappa per category (that category against all others): 0.245, 0.245,
    # 0.520, 0.471, 0.566, as reproduced by irr's kappam.fleiss(detail=TRUE). That is exactly our
    # per-class statistic, so rebuild one-vs-rest reads (6 readers x 30 exams x 5 classes) from the table.
    reads = np.zeros((6, 30, 5), dtype=np.int8)
    for exam, row in enumerate(FLEISS_1971):
        diagnoses = np.repeat(np.arange(5), row)
        reads[np.arange(6), exam, diagnoses] = 1
    ours = class_agreement(reads)
    np.testing.assert_array_equal(np.round(ours.fleiss_kappa, 3), [0.245, 0.245, 0.520, 0.471, 0.566])
    for c in range(5):
        binary = np.stack([6 - FLEISS_1971[:, c], FLEISS_1971[:, c]], axis=1)
        assert ours.fleiss_kappa[c] == pytest.approx(fleiss_kappa(binary), abs=1e-9)


def test_wikipedia_fleiss_kappa_example_gives_0_210():
    # Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories; the article
    # gives p_j = 0.143, 0.200, 0.279, 0.150, 0.229, P-bar = 0.378, P-bar_e = 0.213 and kappa = 0.210.
    table = np.array(
        [
            [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
        ]
    )  # fmt: skip
    ours = table_coefficients(table)
    np.testing.assert_array_equal(np.round(ours.category_prevalence, 3), [0.143, 0.200, 0.279, 0.150, 0.229])
    assert round(float(ours.observed_agreement), 3) == 0.378
    assert round(float(ours.fleiss_kappa), 3) == 0.210
    assert float(ours.fleiss_kappa) == pytest.approx(fleiss_kappa(table), abs=1e-9)


def test_krippendorff_reliability_data_with_missing_values_gives_alpha_0_743():
    # Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability, section C: 4 observers,
    # 12 units, values 1-5, with missing values; nominal alpha = 0.743. (The same data is Gwet's 2014
    # handbook example `cac.raw4raters`.) Observers are rows, NaN is missing.
    nan = np.nan
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    counts = np.stack([(data == value).sum(axis=0) for value in range(1, 6)], axis=1)
    ours = float(table_coefficients(counts).krippendorff_alpha)
    assert round(ours, 3) == 0.743
    assert ours == pytest.approx(krippendorff.alpha(data, level_of_measurement="nominal"), abs=1e-9)


def test_cohen_kappa_two_by_two_textbook_example_gives_0_4():
    # Wikipedia, "Cohen's kappa", first worked example: 50 grant proposals, both readers "yes" 20, A yes
    # B no 5, A no B yes 10, both "no" 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    confusion = np.array([[15, 10], [5, 20]])  # [A said i, B said j], i and j = no, yes
    assert float(cohen_kappa_from_confusion(confusion)) == pytest.approx(0.4, abs=1e-12)
    a = np.repeat([1, 1, 0, 0], [20, 5, 10, 15])
    b = np.repeat([1, 0, 1, 0], [20, 5, 10, 15])
    reads = np.stack([a, b]).astype(np.int8)[:, :, None]
    ours = class_agreement(reads)
    assert ours.pairwise_kappa[0, 0] == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)
    assert ours.pairwise_kappa[0, 0] == pytest.approx(0.4, abs=1e-12)
    # PABAK (Byrt, Bishop & Carlin 1993) = 2 p_o - 1 = 0.4 as well on this table.
    assert ours.pabak[0] == pytest.approx(0.4, abs=1e-12)


def test_gwet_abstractors_table_gives_published_ac1_kappa_pi_brennan_prediger_and_alpha():
    # Gwet, K. L. (2014), Handbook of Inter-Rater Reliability, 4th ed.; the 3x3 table of 2 abstractors
    # classifying 100 pregnancies as ectopic / AIU / NIU, shipped as `cont3x3abstractors` in Gwet's R
    # package irrCAC, whose vignette prints: Cohen's kappa 0.7964094, Scott's pi 0.7962397, Gwet's AC1
    # 0.8493305, Brennan-Prediger 0.835, Krippendorff's alpha 0.7972585, percent agreement 0.89.
    confusion = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
    rater_a = np.repeat(np.repeat(np.arange(3), 3), confusion.ravel())
    rater_b = np.repeat(np.tile(np.arange(3), 3), confusion.ravel())
    counts = np.stack([(rater_a == j).astype(int) + (rater_b == j) for j in range(3)], axis=1)
    ours = table_coefficients(counts)
    assert float(ours.observed_agreement) == pytest.approx(0.89, abs=1e-12)
    assert float(ours.gwet_ac1) == pytest.approx(0.8493305, abs=5e-8)
    assert float(ours.fleiss_kappa) == pytest.approx(0.7962397, abs=5e-8)  # Scott's pi for two raters
    assert float(ours.brennan_prediger) == pytest.approx(0.835, abs=1e-12)
    assert float(ours.krippendorff_alpha) == pytest.approx(0.7972585, abs=5e-8)
    assert float(cohen_kappa_from_confusion(confusion)) == pytest.approx(0.7964094, abs=5e-8)
    assert float(cohen_kappa_from_confusion(confusion)) == pytest.approx(
        cohen_kappa_score(rater_a, rater_b), abs=1e-9
    )
    alpha = krippendorff.alpha(np.stack([rater_a, rater_b]).astype(float), level_of_measurement="nominal")
    assert float(ours.krippendorff_alpha) == pytest.approx(alpha, abs=1e-9)


def test_published_examples_survive_the_per_class_path_with_missing_reads():
    # The Krippendorff example again, one-vs-rest for value 3: our per-class path with MISSING must
    # agree with the package on the same binary data (guards the reads -> counts conversion).
    nan = np.nan
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    binary = np.where(np.isnan(data), np.nan, (data == 3).astype(float))
    reads = np.where(np.isnan(binary), MISSING, binary).astype(np.int8)[:, :, None]
    ours = class_agreement(reads).krippendorff_alpha[0]
    assert ours == pytest.approx(krippendorff.alpha(binary, level_of_measurement="nominal"), abs=1e-9)
