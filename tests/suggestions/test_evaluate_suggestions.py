"""manage.py evaluate_suggestions: suggestions against reference labels, per class and provider.

The statistics (lib.stats.classification) are checked against scikit-learn, computed here from the same
scores, and against simulated sets whose truth is known analytically (binormal scores). The command runs
end to end on real labelled records imported by the real import_exams, with both sources of truth."""

from __future__ import annotations

import json
import math
import re
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy.stats import multivariate_normal, norm
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from annotations.lib.providers.measurements import MeasurementProvider
from annotations.lib.stats.bootstrap import bootstrap_weights
from annotations.lib.stats.classification import (
    CI_METHOD,
    NONE,
    RHYTHM_PRECEDENCE,
    class_statistics,
    rhythm_confusion,
    rhythm_labels,
    stacked,
    top_rhythm,
    truth_rhythm,
    weighted_auroc,
    weighted_confusion,
)
from annotations.lib.truth_file import TruthFileError, truth_codes, truth_rows_read
from annotations.models import Dataset, Exam, LatestSuggestionScore, Suggestion, SuggestionScore
from tests.factories import DatasetFactory, make_exam

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
    labels = rhythm_labels(("SR", "ST", "AF", "VT"), truths, found)
    assert labels == ["SR", "ST", "AF", "VT", NONE]
    matrix = rhythm_confusion(truths, found, labels)
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


# --- The command, end to end --------------------------------------------------------------------------------
# One of each of RBBB, sinus rhythm, AF (twice), sinus tachycardia and bradycardia, first-degree AV block,
# and a paroxysmal ventricular tachycardia, which TNMG's crosswalk leaves unmapped.
SOME = ("A0001", "A0002", "A0003", "A0007", "E07502", "JS00006", "JS45542", "HR00003")
MEASUREMENTS = "annotations.lib.providers.measurements.MeasurementProvider"
TAXONOMIES = Path(__file__).resolve().parents[2] / "annotations" / "taxonomies"


def _header_codes(record: str) -> list[str]:
    (dx,) = re.findall(r"^#\s*Dx:(.*)$", (RECORDS / f"{record}.hea").read_text(), flags=re.MULTILINE)
    return [code.strip() for code in dx.split(",") if code.strip()]


def _snomed_to_tnmg() -> dict[str, set[str]]:
    """Read here from the shipped files themselves: each class's maps.snomed and the crosswalk."""
    classes = json.loads((TAXONOMIES / "tnmg.json").read_text())["classes"]
    found: dict[str, set[str]] = {}
    for cls in classes:
        if "snomed" in cls["maps"]:
            found.setdefault(cls["maps"]["snomed"], set()).add(cls["code"])
    crosswalk = json.loads((TAXONOMIES / "reference-maps" / "tnmg.json").read_text())["snomed"]
    for code, target in crosswalk.items():
        found.setdefault(code, set()).add(target)
    return found


@pytest.fixture
def labelled(tnmg, settings):
    """The records of SOME imported by import_exams into dataset "labelled"; the measurement provider
    alone is configured."""
    from annotations.services.suggestions import suggestion_providers

    settings.SUGGESTION_PROVIDERS = [MEASUREMENTS]
    suggestion_providers.cache_clear()
    call_command(
        "import_exams", *(str(RECORDS / f"{r}.hea") for r in SOME), "--dataset", "labelled", "--no-progress"
    )
    yield Dataset.objects.get(name="labelled")
    suggestion_providers.cache_clear()


def _evaluate(*args: str) -> tuple[dict, str]:
    out, err = StringIO(), StringIO()
    call_command("evaluate_suggestions", "--dataset", "labelled", *args, "--json", stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def _stored(dataset) -> tuple[list[str], dict[str, dict[str, float]]]:
    """External ids, and per exam the scores stored for the TNMG taxonomy's classes."""
    exams = dict(Exam.objects.filter(dataset=dataset).values_list("pk", "external_id"))
    scores: dict[str, dict[str, float]] = {external_id: {} for external_id in exams.values()}
    rows = SuggestionScore.objects.filter(
        suggestion__exam__dataset=dataset, suggestion__provider="measurements"
    )
    for exam_id, code, score in rows.values_list("suggestion__exam_id", "diagnostic_class__code", "score"):
        scores[exams[exam_id]][code] = score
    return sorted(exams.values()), scores


@pytest.mark.django_db
def test_the_command_computes_stores_and_reports_what_sklearn_finds_in_the_stored_scores(labelled):
    report, err = _evaluate("--bootstrap", "200", "--seed", "3")
    provider = MeasurementProvider()
    assert f"measurements: computing {len(SOME)} missing suggestions" in err
    # Stored as the worker stores them: one row per exam, its taxonomy scores and the latest scores.
    assert Suggestion.objects.filter(
        exam__dataset=labelled, provider_version=provider.version
    ).count() == len(SOME)
    assert LatestSuggestionScore.objects.filter(exam__dataset=labelled).exists()
    assert report["truth"]["source"] == "reference labels"
    assert report["truth"]["unmapped"] == {"snomed 425856008": 1}
    assert report["exams"] == len(SOME) and report["truth"]["exams_left_out"] == 0
    assert report["intervals"] == {
        "method": "percentile bootstrap over exams",
        "confidence": 0.95,
        "resamples": 200,
        "seed": 3,
    }
    external_ids, scores = _stored(labelled)
    mapping = _snomed_to_tnmg()
    truth = {e: {t for code in _header_codes(e) for t in mapping.get(code, ())} for e in external_ids}
    checked = 0
    for entry in report["classes"]:
        code = entry["code"]
        t = np.array([code in truth[e] for e in external_ids])
        assert (entry["positives"], entry["negatives"]) == (t.sum(), (~t).sum())
        for row in entry["rows"]:
            assert row["provider"] == "measurements" and code in provider.codes
            s = np.array([scores[e].get(code, np.nan) for e in external_ids])
            p = np.nan_to_num(s, nan=-1.0) >= provider.threshold(code)
            tn, fp, fn, tp = confusion_matrix(t, p, labels=[False, True]).ravel()
            assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (tp, fp, tn, fn)
            if t.any():
                assert row["sensitivity"]["value"] == pytest.approx(recall_score(t, p), abs=1e-4)
                checked += 1
            if (~t).any():
                assert row["specificity"]["value"] == pytest.approx(recall_score(~t, ~p), abs=1e-4)
            if p.any():
                assert row["ppv"]["value"] == pytest.approx(precision_score(t, p), abs=1e-4)
            scored = ~np.isnan(s)
            if t[scored].any() and (~t[scored]).any():
                assert row["auroc"]["value"] == pytest.approx(roc_auc_score(t[scored], s[scored]), abs=1e-4)
                assert row["auroc"]["lower"] <= row["auroc"]["value"] <= row["auroc"]["upper"]
    assert checked >= 3  # AF, SB, ST and 1dAVb have positives here and are the provider's
    assert {e["code"] for e in report["classes"] if not e["rows"]} == {"SR", "RBBB"} - set(provider.codes)

    # Rhythm: the reference's one rhythm label per record against the top-scoring suggested rhythm.
    rhythms = ("VT", "AF", "ST", "SB", "SR")  # the precedence among those these records carry
    reference = [next((c for c in rhythms if c in truth[e]), "none") for e in external_ids]
    found = []
    for e in external_ids:
        mine = {c: s for c, s in scores[e].items() if c in RHYTHM_PRECEDENCE and s >= provider.threshold(c)}
        found.append(max(mine, key=mine.get) if mine else "none")
    labels = report["rhythm"]["labels"]
    assert set(reference) | set(found) <= set(labels) and labels[-1] == "none"
    expected = confusion_matrix(reference, found, labels=labels)
    np.testing.assert_array_equal(report["rhythm"]["matrices"]["measurements"], expected)

    diagnostic = {
        c["code"]
        for c in json.loads((TAXONOMIES / "tnmg.json").read_text())["classes"]
        if c["kind"] == "diagnostic"
    }
    used = {
        c
        for e in external_ids
        for c, s in scores[e].items()
        if c in diagnostic and s >= provider.threshold(c)
    }
    assert report["statements"] == {
        "diagnostic_statements": 69,
        "providers": {
            "measurements": {
                "can_suggest": len(diagnostic & set(provider.codes)),
                "suggested": len(used),
                "codes_suggested": sorted(used),
            }
        },
    }
    again, err = _evaluate("--bootstrap", "200", "--seed", "3")
    assert again == report and err == ""  # nothing computed twice, the same resamples
    other, _ = _evaluate("--bootstrap", "200", "--seed", "4")
    assert other != report


@pytest.mark.django_db
def test_a_truth_file_of_tnmg_codes_is_the_truth_for_the_exams_it_lists(labelled, tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("external_id,codes\nA0001,AF RBBB\nA0002,sr\nA0003,AF\nE07502,ST;1dAVb\n")
    report, _ = _evaluate("--truth", str(path), "--bootstrap", "0")
    assert report["truth"] == {
        "source": str(path),
        "format": "csv",
        "codes": "tnmg",
        "unmapped": {},
        "exams_left_out": len(SOME) - 4,
    }
    assert report["exams"] == 4
    entries = {e["code"]: e for e in report["classes"]}
    assert (entries["AF"]["positives"], entries["AF"]["negatives"]) == (2, 2)
    assert (entries["1dAVb"]["positives"], entries["RBBB"]["positives"]) == (1, 1)
    assert entries["AF"]["rows"][0]["auroc"]["lower"] is None  # no resamples, no interval
    # Suggestions were computed for the listed exams only.
    assert Suggestion.objects.filter(exam__dataset=labelled).count() == 4


@pytest.mark.django_db
def test_the_records_tsv_and_a_snomed_csv_give_what_the_reference_labels_give(labelled, tmp_path):
    from_labels, _ = _evaluate("--bootstrap", "100")
    lines = RECORDS_TSV.read_text().splitlines()
    tsv = tmp_path / "records.tsv"
    tsv.write_text("\n".join([lines[0], *(line for line in lines[1:] if line.split("\t")[0] in SOME)]) + "\n")
    snomed = tmp_path / "snomed.csv"
    snomed.write_text("".join(f"{r},{';'.join(_header_codes(r))}\n" for r in SOME))
    for path, layout in ((tsv, "tsv"), (snomed, "csv")):
        from_file, _ = _evaluate("--truth", str(path), "--bootstrap", "100")
        assert from_file["truth"] == {
            "source": str(path),
            "format": layout,
            "codes": "snomed",
            "unmapped": {"snomed 425856008": 1},
            "exams_left_out": 0,
        }
        assert {k: v for k, v in from_file.items() if k != "truth"} == {
            k: v for k, v in from_labels.items() if k != "truth"
        }


@pytest.mark.django_db
def test_the_text_report_names_its_intervals_tables_and_statements(labelled):
    out = StringIO()
    call_command(
        "evaluate_suggestions", "--dataset", "labelled", "--bootstrap", "50", stdout=out, stderr=StringIO()
    )
    text = out.getvalue()
    assert "95% percentile bootstrap over exams, 50 resamples, seed 0" in text
    assert re.search(r"^AF\s+measurements\s+2\s+6\s+\S", text, flags=re.MULTILINE)
    assert "Rhythm, measurements: rows the reference's rhythm" in text
    assert "Labels no TNMG statement stands for (exams): snomed 425856008 (1)." in text
    assert re.search(r"Statements reached \(of 69 diagnostic\): measurements \d+ can be suggested", text)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "truth", "message"),
    [
        (["--dataset", "nope"], None, "no dataset 'nope'; datasets: labelled"),
        (["--dataset", "labelled", "--provider", "oracle"], None, "no configured provider 'oracle'"),
        (["--dataset", "labelled", "--bootstrap", "-1"], None, "--bootstrap -1"),
        (
            ["--dataset", "labelled"],
            "A0001,AF\nX9,SR\nY9,SR\n",
            "dataset 'labelled' has no exam X9 (line 2), Y9",
        ),
        (["--dataset", "labelled"], "A0001,AF\nA0002,SINUS\n", "unknown TNMG codes: SINUS (line 2)"),
        (["--dataset", "labelled"], "A0001,AF\nA0001,SR\n", "A0001 is listed twice"),
        (["--dataset", "labelled"], "", "is empty"),
    ],
)
def test_bad_input_is_refused_naming_what_is_wrong_and_computes_nothing(
    labelled, tmp_path, args, truth, message
):
    if truth is not None:
        (tmp_path / "truth.csv").write_text(truth)
        args = [*args, "--truth", str(tmp_path / "truth.csv")]
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("evaluate_suggestions", *args, stdout=StringIO(), stderr=StringIO())
    assert not Suggestion.objects.exists()


@pytest.mark.django_db
def test_a_missing_truth_file_or_a_dataset_without_labels_is_refused(labelled, tmp_path):
    with pytest.raises(CommandError, match=re.escape(f"{tmp_path / 'gone.csv'}: no such file")):
        call_command("evaluate_suggestions", "--dataset", "labelled", "--truth", str(tmp_path / "gone.csv"))
    make_exam(DatasetFactory(name="unlabelled"))
    with pytest.raises(CommandError, match="no exam of dataset 'unlabelled' has a reference label"):
        call_command("evaluate_suggestions", "--dataset", "unlabelled")
    assert not Suggestion.objects.exists()


@pytest.mark.django_db
def test_with_two_providers_each_class_gets_a_stack_row(labelled, settings):
    from annotations.services.suggestions import suggestion_providers

    settings.SUGGESTION_PROVIDERS = [MEASUREMENTS, "annotations.lib.providers.quality.QualityProvider"]
    suggestion_providers.cache_clear()
    report, err = _evaluate("--bootstrap", "0")
    assert "quality: computing 8 missing suggestions" in err
    assert [p["name"] for p in report["providers"]] == ["measurements", "quality"]
    for entry in report["classes"]:
        rows = {row.pop("provider"): row for row in entry["rows"]}
        if not rows:
            continue
        # The two declare different codes: the stack is the one that scores the class.
        (own,) = set(rows) - {"stack"}
        assert rows["stack"] == rows[own], entry["code"]
        assert own == ("quality" if entry["code"].startswith("Q_") else "measurements")
    assert set(report["rhythm"]["matrices"]) == {"measurements", "stack"}  # quality suggests no rhythm
    reached = report["statements"]["providers"]
    assert reached["quality"]["can_suggest"] == 0  # technical statements are not diagnostic ones
    assert reached["stack"] == reached["measurements"]
