"""manage.py evaluate_suggestions: suggestions against reference labels, per class and provider.

The statistics (lib.stats.classification) are checked against scikit-learn, computed here from the same
scores, and against simulated sets whose truth is known analytically (binormal scores). The command runs
end to end on real labelled records imported by the real import_exams, with both sources of truth."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from annotations.lib.stats.bootstrap import bootstrap_weights
from annotations.lib.stats.classification import (
    CI_METHOD,
    NONE,
    class_statistics,
    rhythm_confusion,
    stacked,
    top_rhythm,
    truth_rhythm,
    weighted_auroc,
    weighted_confusion,
)
from annotations.lib.truth_file import TruthFileError, truth_codes, truth_rows_read

RECORDS = Path(__file__).resolve().parent.parent / "data" / "ecg-labelled" / "records"
RECORDS_TSV = RECORDS.parent / "records.tsv"


# --- Statistics against scikit-learn --------------------------------------------------------------------
def _random_set(seed: int, n_exams: int = 300, n_classes: int = 6, levels: int | None = None):
    """Truth, scores (some not scored: NaN) and suggestions at per-class thresholds, with ties when
    `levels` is small."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n_exams, n_classes)) < rng.uniform(0.05, 0.5, n_classes)
    noise = rng.random((n_exams, n_classes))
    scores = np.clip(0.35 * truth + 0.65 * noise, 0.0, 1.0)
    if levels:
        scores = np.round(scores * levels) / levels
    scores[rng.random((n_exams, n_classes)) < 0.1] = np.nan
    thresholds = rng.uniform(0.3, 0.7, n_classes)
    suggested = np.nan_to_num(scores, nan=-1.0) >= thresholds
    return truth, scores, suggested


@pytest.mark.parametrize(("seed", "levels"), [(1, None), (2, 4), (3, 20)])
def test_point_estimates_are_sklearns(seed, levels):
    truth, scores, suggested = _random_set(seed, levels=levels)
    result = class_statistics(truth, scores, suggested, n_resamples=50, seed=seed)
    for k in range(truth.shape[1]):
        t, s, p = truth[:, k], scores[:, k], suggested[:, k]
        tn, fp, fn, tp = confusion_matrix(t, p, labels=[False, True]).ravel()
        assert (result.tp[k], result.fp[k], result.tn[k], result.fn[k]) == (tp, fp, tn, fn)
        assert (result.positives[k], result.negatives[k]) == (t.sum(), (~t).sum())
        assert result.point["sensitivity"][k] == pytest.approx(recall_score(t, p), rel=1e-12)
        assert result.point["specificity"][k] == pytest.approx(recall_score(~t, ~p), rel=1e-12)
        assert result.point["ppv"][k] == pytest.approx(precision_score(t, p), rel=1e-12)
        scored = ~np.isnan(s)
        assert result.scored[k] == scored.sum()
        assert result.point["auroc"][k] == pytest.approx(roc_auc_score(t[scored], s[scored]), rel=1e-12)


@pytest.mark.parametrize("levels", [None, 3])
def test_each_resample_is_sklearn_with_the_resample_counts_as_weights(levels):
    truth, scores, suggested = _random_set(7, n_exams=120, levels=levels)
    weights = bootstrap_weights(truth.shape[0], 25, seed=11)
    auc = weighted_auroc(truth, scores, weights)
    tp, fp, tn, fn = weighted_confusion(truth, suggested, weights)
    for b in range(0, 25, 6):
        for k in range(truth.shape[1]):
            scored = ~np.isnan(scores[:, k])
            expected = roc_auc_score(truth[scored, k], scores[scored, k], sample_weight=weights[b, scored])
            assert auc[b, k] == pytest.approx(expected, rel=1e-12)
            counts = confusion_matrix(
                truth[:, k], suggested[:, k], labels=[False, True], sample_weight=weights[b]
            ).ravel()
            assert (tn[b, k], fp[b, k], fn[b, k], tp[b, k]) == tuple(counts)


def test_a_class_without_positives_or_negatives_has_no_sensitivity_or_auroc():
    truth = np.array([[False, True]] * 5)
    scores = np.linspace(0.1, 0.9, 5)[:, None].repeat(2, axis=1)
    result = class_statistics(truth, scores, scores >= 0.5, n_resamples=20, seed=0)
    assert math.isnan(result.point["sensitivity"][0]) and math.isnan(result.point["auroc"][0])
    assert result.point["specificity"][0] == pytest.approx(2 / 5)  # 0.5, 0.7 and 0.9 reach 0.5
    assert math.isnan(result.point["specificity"][1]) and math.isnan(result.lower["auroc"][1])
    assert result.point["sensitivity"][1] == pytest.approx(3 / 5)


def test_intervals_are_seeded_percentiles_over_exams():
    truth, scores, suggested = _random_set(5, n_exams=80)
    first = class_statistics(truth, scores, suggested, n_resamples=200, seed=3)
    again = class_statistics(truth, scores, suggested, n_resamples=200, seed=3)
    other = class_statistics(truth, scores, suggested, n_resamples=200, seed=4)
    assert CI_METHOD == "percentile"
    np.testing.assert_array_equal(first.lower["auroc"], again.lower["auroc"])
    assert not np.array_equal(first.lower["auroc"], other.lower["auroc"])
    # The percentiles of the very resamples bootstrap_weights draws for this seed.
    weights = bootstrap_weights(truth.shape[0], 200, seed=3)
    replicates = weighted_auroc(truth, scores, weights)
    np.testing.assert_allclose(first.lower["auroc"], np.nanquantile(replicates, 0.025, axis=0), rtol=1e-12)
    np.testing.assert_allclose(first.upper["auroc"], np.nanquantile(replicates, 0.975, axis=0), rtol=1e-12)
    assert (first.lower["sensitivity"] <= first.point["sensitivity"]).all()
    assert (first.point["sensitivity"] <= first.upper["sensitivity"]).all()


def test_no_resample_gives_point_estimates_without_intervals():
    truth, scores, suggested = _random_set(9, n_exams=40)
    result = class_statistics(truth, scores, suggested, n_resamples=0, seed=0)
    assert np.isnan(result.lower["auroc"]).all() and not np.isnan(result.point["auroc"]).all()


# --- Simulated sets with a known truth ------------------------------------------------------------------
def _binormal(rng, n_pos: int, n_neg: int, separation: float):
    """Scores in [0, 1] (a logistic of binormal values): AUROC is Phi(separation / sqrt(2)), and at a
    threshold logistic(c) sensitivity is 1 - Phi(c - separation) and specificity Phi(c)."""
    values = np.concatenate([rng.normal(separation, 1.0, n_pos), rng.normal(0.0, 1.0, n_neg)])
    truth = np.arange(n_pos + n_neg) < n_pos
    return truth, 1.0 / (1.0 + np.exp(-values))


def _binormal_auroc_standard_error(separation: float, n_pos: int, n_neg: int) -> float:
    """The exact standard error of the Mann-Whitney AUROC for binormal scores (Bamber 1975): its variance
    is [A(1 - A) + (n_pos - 1)(P_xxy - A^2) + (n_neg - 1)(P_xyy - A^2)] / (n_pos n_neg), where P_xxy is
    the chance that two positives both outscore one negative. X1 - Y and X2 - Y are normal with variance
    2 and covariance 1 (correlation 1/2), so P_xxy = P_xyy = Phi2(d / sqrt 2, d / sqrt 2; 1/2)."""
    auc = norm.cdf(separation / math.sqrt(2))
    z = separation / math.sqrt(2)
    both = multivariate_normal(mean=[0, 0], cov=[[1, 0.5], [0.5, 1]]).cdf([z, z])
    variance = auc * (1 - auc) + (n_pos - 1 + n_neg - 1) * (both - auc**2)
    return math.sqrt(variance / (n_pos * n_neg))


def test_a_large_binormal_set_gives_the_analytical_values():
    rng = np.random.default_rng(2024)
    n_pos, n_neg, separations = 3000, 6000, (0.5, 1.0, 2.0)
    columns = [_binormal(rng, n_pos, n_neg, d) for d in separations]
    truth = np.stack([t for t, _ in columns], axis=1)
    scores = np.stack([s for _, s in columns], axis=1)
    cut = 0.8  # threshold logistic(0.8) on every class
    result = class_statistics(truth, scores, scores >= 1 / (1 + math.exp(-cut)), n_resamples=400, seed=1)
    for k, d in enumerate(separations):
        auc, sens, spec = norm.cdf(d / math.sqrt(2)), 1 - norm.cdf(cut - d), norm.cdf(cut)
        error = _binormal_auroc_standard_error(d, n_pos, n_neg)
        # Within 4 standard errors of the truth (a 1 in 15,000 miss), each by its own sampling error.
        assert result.point["auroc"][k] == pytest.approx(auc, abs=4 * error)
        assert result.point["sensitivity"][k] == pytest.approx(
            sens, abs=4 * math.sqrt(sens * (1 - sens) / n_pos)
        )
        assert result.point["specificity"][k] == pytest.approx(
            spec, abs=4 * math.sqrt(spec * (1 - spec) / n_neg)
        )
        # The interval is as wide as the normal one from that standard error, give or take a fifth.
        width = result.upper["auroc"][k] - result.lower["auroc"][k]
        assert width == pytest.approx(2 * 1.96 * error, rel=0.2)


def test_the_auroc_interval_covers_the_true_value_about_95_percent_of_the_time():
    rng = np.random.default_rng(77)
    separation, true_auc = 1.2, norm.cdf(1.2 / math.sqrt(2))
    covered = []
    for run in range(300):
        truth, scores = _binormal(rng, 100, 200, separation)
        result = class_statistics(
            truth[:, None], scores[:, None], scores[:, None] >= 0.5, n_resamples=300, seed=run
        )
        covered.append(result.lower["auroc"][0] <= true_auc <= result.upper["auroc"][0])
    # 300 runs: a coverage of 95% gives a share within [0.91, 0.99] with probability > 0.99 (its
    # standard error is 0.013); an 80% interval, or one of the wrong tails, falls far outside.
    assert 0.91 <= np.mean(covered) <= 0.99


# --- Stack and rhythm -------------------------------------------------------------------------------------
def test_the_stack_suggests_what_any_provider_does_and_scores_the_maximum():
    first = np.array([[0.2, np.nan], [0.9, 0.1]])
    second = np.array([[0.6, np.nan], [np.nan, 0.3]])
    scores, suggested = stacked([first, second], [first >= 0.5, second >= 0.25])
    np.testing.assert_array_equal(scores, [[0.6, np.nan], [0.9, 0.3]])
    np.testing.assert_array_equal(suggested, [[True, False], [True, True]])


def test_rhythm_rows_are_the_truths_leading_rhythm_and_columns_the_top_suggested_one():
    codes = ("VT", "AF", "ST", "SR")  # in the order of precedence among several truths
    truth = np.array([[0, 0, 1, 1], [1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=bool)
    assert truth_rhythm(truth, codes) == ["ST", "VT", NONE, "AF"]
    scores = np.array([[0.1, 0.2, 0.9, 0.8], [0.3, 0.7, 0.4, np.nan], [0.1] * 4, [0.6, 0.6, 0.1, 0.1]])
    suggested = scores >= 0.5
    assert top_rhythm(scores, suggested, codes) == ["ST", "AF", NONE, "VT"]  # a tie: precedence decides
    truths = ["SR", "AF", "VT", NONE, "AF", "SR"]
    found = ["SR", "SR", "ST", "AF", "AF", NONE]
    labels, matrix = rhythm_confusion(truths, found, order=("SR", "ST", "AF", "VT"))
    assert labels == ["SR", "ST", "AF", "VT", NONE]
    np.testing.assert_array_equal(matrix, confusion_matrix(truths, found, labels=labels))


# --- Truth files ------------------------------------------------------------------------------------------
TNMG = ("AF", "SR", "RBBB", "1dAVb", "ST", "Q_POOR")
SNOMED = {"164889003": ["AF"], "426783006": ["SR"], "59118001": ["RBBB"], "713427006": ["RBBB"]}


def _file(tmp_path, text: str, name: str = "truth.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_of_tnmg_codes_separated_by_semicolons_or_spaces(tmp_path):
    rows = truth_rows_read(_file(tmp_path, "external_id,codes\nA1,AF;RBBB\nA2, sr  1davb \n\nA3,\n"))
    truth = truth_codes(rows, tnmg_codes=TNMG, snomed_to_tnmg=SNOMED)
    assert (rows.format, truth.code_system) == ("csv", "tnmg")
    assert truth.labels == {"A1": {"AF", "RBBB"}, "A2": {"SR", "1dAVb"}, "A3": set()}
    assert truth.unmapped == {}


def test_a_csv_of_snomed_codes_maps_them_and_lists_those_tnmg_lacks(tmp_path):
    rows = truth_rows_read(_file(tmp_path, "A1,164889003 59118001\nA2,713427006;425856008\nA3,425856008\n"))
    truth = truth_codes(rows, tnmg_codes=TNMG, snomed_to_tnmg=SNOMED)
    assert truth.code_system == "snomed"
    assert truth.labels == {"A1": {"AF", "RBBB"}, "A2": {"RBBB"}, "A3": set()}
    assert truth.unmapped == {"425856008": 2}


def test_the_cinc_records_tsv_gives_each_records_header_codes():
    rows = truth_rows_read(RECORDS_TSV)
    assert rows.format == "tsv" and len(rows.rows) == len(list(RECORDS.glob("*.hea")))
    for header in sorted(RECORDS.glob("*.hea"))[::10]:
        (dx,) = re.findall(r"^#\s*Dx:(.*)$", header.read_text(), flags=re.MULTILINE)
        assert rows.rows[header.stem] == tuple(code.strip() for code in dx.split(","))
    truth = truth_codes(rows, tnmg_codes=TNMG, snomed_to_tnmg=SNOMED)
    assert truth.code_system == "snomed" and truth.labels["A0003"] == {"AF"}


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("", "t.csv", "is empty"),
        ("A1,AF\nA2,SR\nA1,RBBB\n", "t.csv", "A1 is listed twice (lines 1 and 3)"),
        ("A1,AF;AFIB\nA2,RBBB STACH\n", "t.csv", "unknown TNMG codes: AFIB (line 1), STACH (line 2)"),
        (
            "A1,AF\nA2,164889003\n",
            "t.csv",
            "mixes TNMG codes [AF (line 1)] and SNOMED CT codes [164889003 (line 2)]",
        ),
        ("A1,164889003;AF1\n", "t.csv", "not SNOMED CT codes: AF1 (line 1)"),
        ("A1,AF,RBBB\n", "t.csv", "line 1 has 3 columns"),
        (",AF\n", "t.csv", "line 1 names no exam"),
        ("record\tdx\nA1\t164889003\n", "t.tsv", "no snomed_ct_dx column"),
    ],
)
def test_a_bad_truth_file_is_refused_naming_what_is_wrong(tmp_path, text, name, message):
    with pytest.raises(TruthFileError, match=re.escape(message)):
        truth_codes(truth_rows_read(_file(tmp_path, text, name)), tnmg_codes=TNMG, snomed_to_tnmg=SNOMED)


def test_a_missing_truth_file_is_named(tmp_path):
    with pytest.raises(TruthFileError, match=re.escape(f"{tmp_path / 'nope.csv'}: no such file")):
        truth_rows_read(tmp_path / "nope.csv")
