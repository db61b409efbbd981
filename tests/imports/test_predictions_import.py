"""Scores made elsewhere, imported as a provider version: `manage.py import_predictions`.

The check on real data: CODE-test's gold standard imported as the reads of a batch, the study network's
own scores (dnn_scores.npy) imported at the paper's thresholds, and the evidence page and API giving per
class the sensitivity, specificity and ROC AUC that scikit-learn gives from the same two files.
Then the refusals (each leaves nothing stored), and `manage.py suggest` printing one exam's output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from sklearn.metrics import roc_auc_score

from annotations.models import AuditEvent, Exam, Suggestion, SuggestionScore
from annotations.selectors.exams.selection import suggestion_scores
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.tasks.agreement import evidence_warm
from tests.agreement.test_code_test import CODES, DATA, N_EXAMS, code15, import_code_test, labels  # noqa: F401 (fixture)
from tests.factories import DatasetFactory, batch_for, make_exam

pytestmark = pytest.mark.django_db

SCORES = DATA / "dnn_scores.npy"
PUBLISHED = {"1dAVb": 0.124, "RBBB": 0.07, "LBBB": 0.05, "SB": 0.278, "AF": 0.390, "ST": 0.174}


def import_predictions(*args: str) -> str:
    out = io.StringIO()
    call_command("import_predictions", *args, stdout=out)
    return out.getvalue()


def published_thresholds() -> list[str]:
    args = []
    for code, value in PUBLISHED.items():
        args += ["--threshold", f"{code}={value}"]
    return args


@pytest.mark.usefixtures("code15")
def test_code_test_network_scores_give_the_evidence_scikit_learn_gives(tmp_path, client, diego):
    batch = import_code_test(tmp_path, diego, ["gold_standard"])
    batch_agreement_compute(batch.pk)
    out = import_predictions(
        "--dataset", "code-test", "--provider", "code-dnn", "--version", "nc2020",
        "--classes", ",".join(CODES), *published_thresholds(), str(SCORES),
    )  # fmt: skip
    assert f"{N_EXAMS} exams" in out
    assert Suggestion.objects.filter(provider="code-dnn", provider_version="nc2020").count() == N_EXAMS
    event = AuditEvent.objects.get(action="suggestions.import")
    assert event.after["provider"] == "code-dnn" and event.after["rows"] == N_EXAMS
    assert len(event.after["sha256"]) == 64

    gold = labels("gold_standard")
    scores = np.load(SCORES)
    client.force_login(diego)
    assert client.get(reverse("api-batch-evidence", args=[batch.pk])).json()["state"] == "computing"
    evidence_warm(batch.pk)  # the worker computes the figures the request asked for
    evidence = client.get(reverse("api-batch-evidence", args=[batch.pk])).json()
    (provider,) = [p for p in evidence["providers"] if p["provider"] == "code-dnn"]
    assert provider["version"] == "nc2020"
    rows = {row["code"]: row for row in provider["classes"]}
    assert set(rows) == set(CODES)
    for column, code in enumerate(CODES):
        truth, score = gold[:, column] == 1, scores[:, column]
        predicted = score >= PUBLISHED[code]
        row = rows[code]
        assert row["threshold"] == PUBLISHED[code]
        assert row["n"] == N_EXAMS
        assert row["sensitivity"] == pytest.approx((predicted & truth).sum() / truth.sum())
        assert row["specificity"] == pytest.approx((~predicted & ~truth).sum() / (~truth).sum())
        assert row["auc"] == pytest.approx(roc_auc_score(truth, score), abs=1e-6)

    page = client.get(reverse("batch-evidence", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "code-dnn" in html and "nc2020" in html


def _small_dataset(n: int = 3):
    dataset = DatasetFactory(name="small")
    return [make_exam(dataset, external_id=f"e{i}", seed=i) for i in range(n)]


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_csv_keyed_by_exam_id_feeds_stratified_sampling_and_the_suggest_command(tmp_path, tnmg, diego):
    exams = _small_dataset()
    path = _csv(tmp_path / "p.csv", ["exam_id", "AF", "SB"], [["e2", 0.9, 0.1], ["e0", 0.2, 0.7]])
    import_predictions("--dataset", "small", "--provider", "offline", "--version", "v1", str(path))
    by_exam = suggestion_scores(diego, [e.pk for e in exams], provider="offline", code="AF")
    assert by_exam == {exams[0].pk: 0.2, exams[1].pk: 0.0, exams[2].pk: 0.9}

    out = io.StringIO()
    call_command("suggest", str(exams[2].pk), "--provider", "offline", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["provider"] == "offline" and shown["version"] == "v1"
    assert shown["scores"] == {"AF": 0.9, "SB": 0.1}
    assert shown["suggested"] == ["AF"]  # default threshold 0.5


def test_scores_saved_by_a_spreadsheet_in_portuguese_import_as_the_original(tmp_path, tnmg, diego):
    """Semicolons between fields, a decimal comma and a byte order mark, as Excel (Brazil) saves CSV."""
    exams = _small_dataset()
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbf" + b"exam_id;AF;SB\r\ne2;0,9;0,1\r\ne0;0,25;0,7\r\n")
    import_predictions("--dataset", "small", "--provider", "offline", "--version", "v1", str(path))
    by_exam = suggestion_scores(diego, [e.pk for e in exams], provider="offline", code="AF")
    assert by_exam == {exams[0].pk: 0.25, exams[1].pk: 0.0, exams[2].pk: 0.9}


@pytest.mark.parametrize(
    ("header", "rows", "options", "message"),
    [
        (["exam_id", "AF"], [["e0", 0.2], ["nope", 0.3]], [], "unknown exam id 'nope'"),
        (["exam_id", "AF"], [["e0", 0.2], ["e0", 0.3]], [], "exam id 'e0' appears twice"),
        (["exam_id", "AF"], [["e0", "nan"]], [], "not a number in [0, 1]"),
        (["exam_id", "AF"], [["e0", 1.5]], [], "not a number in [0, 1]"),
        (["exam_id", "XYZ"], [["e0", 0.5]], [], "unknown class code 'XYZ'"),
        (["exam_id", "AF"], [["e0", 0.5]], ["--threshold", "SB=0.3"], "threshold for SB"),
        (["AF"], [[0.5], [0.5]], [], "2 rows but dataset 'small' has 3 exams"),
    ],
)
def test_bad_csv_files_are_refused_and_store_nothing(tmp_path, tnmg, header, rows, options, message):
    _small_dataset()
    path = _csv(tmp_path / "p.csv", header, rows)
    with pytest.raises(CommandError, match=None) as error:
        import_predictions("--dataset", "small", "--provider", "p", "--version", "1", *options, str(path))
    assert message in str(error.value)
    assert not Suggestion.objects.exists() and not SuggestionScore.objects.exists()
    assert not AuditEvent.objects.filter(action="suggestions.import").exists()


def test_npy_refusals_and_a_version_imported_twice(tmp_path, tnmg):
    exams = _small_dataset()
    good = tmp_path / "good.npy"
    np.save(good, np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=np.float32))
    wrong_rows = tmp_path / "rows.npy"
    np.save(wrong_rows, np.zeros((4, 2)))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[0.1, np.nan], [0.3, 0.4], [0.5, 0.6]]))
    base = ["--dataset", "small", "--provider", "p", "--version", "1"]
    for path, extra, message in [
        (good, [], "--classes is needed"),
        (good, ["--classes", "AF"], "2 columns but 1 classes"),
        (wrong_rows, ["--classes", "AF,SB"], "4 rows but dataset 'small' has 3 exams"),
        (nan, ["--classes", "AF,SB"], "not a number in [0, 1]"),
    ]:
        with pytest.raises(CommandError) as error:
            import_predictions(*base, *extra, str(path))
        assert message in str(error.value)
    assert not Suggestion.objects.exists()

    # NPY rows follow the external ids 0..n-1, so a dataset named otherwise cannot take them by row.
    with pytest.raises(CommandError, match="external id '0'"):
        import_predictions(*base, "--classes", "AF,SB", str(good))
    for i, exam in enumerate(exams):
        Exam.objects.filter(pk=exam.pk).update(external_id=str(i))
    import_predictions(*base, "--classes", "AF,SB", str(good))
    assert SuggestionScore.objects.filter(suggestion__provider="p").count() == 6
    with pytest.raises(CommandError, match="already has scores"):
        import_predictions(*base, "--classes", "AF,SB", str(good))
    assert Suggestion.objects.count() == 3


def test_suggest_runs_a_configured_provider_once_and_prints_its_measurements(tnmg, settings):
    from annotations.services.suggestions import suggestion_providers

    settings.SUGGESTION_PROVIDERS = ["annotations.lib.providers.measurements.MeasurementProvider"]
    suggestion_providers.cache_clear()
    exam = make_exam(heart_rate=75.0, seed=3)
    out = io.StringIO()
    call_command("suggest", str(exam.pk), "--provider", "measurements", "--json", stdout=out)
    shown = json.loads(out.getvalue())
    assert shown["status"] == "ok" and shown["provider"] == "measurements"
    assert shown["measurements"]["heart_rate_bpm"] == pytest.approx(75.0, abs=2.0)
    assert "_scoring" not in shown["measurements"]
    assert all(shown["scores"][code] >= shown["thresholds"][code] for code in shown["suggested"])
    call_command("suggest", str(exam.pk), "--provider", "measurements", stdout=io.StringIO())
    assert Suggestion.objects.filter(exam=exam).count() == 1  # stored once, shown twice
    with pytest.raises(CommandError, match="no suggestion from provider 'nope'"):
        call_command("suggest", str(exam.pk), "--provider", "nope")
    suggestion_providers.cache_clear()


def test_imported_scores_reach_the_taxonomy_of_a_batch_made_afterwards(
    tmp_path,
    tnmg,
    code15,  # noqa: F811 (the imported fixture)
    diego,
    ana,
    settings,
):
    from annotations.services.suggestions import suggestion_providers, suggestions_exam_compute

    exams = _small_dataset()
    path = _csv(tmp_path / "p.csv", ["exam_id", "AF", "SB"], [["e0", 0.8, 0.1]])
    import_predictions("--dataset", "small", "--provider", "offline", "--version", "v1", str(path))
    batch_for(code15, diego, [ana], exams, name="Later")
    settings.SUGGESTION_PROVIDERS = []
    suggestion_providers.cache_clear()
    try:
        for exam in exams:  # what the batch's queued per-exam tasks run
            suggestions_exam_compute(exam.pk)
    finally:
        suggestion_providers.cache_clear()
    scored = SuggestionScore.objects.filter(suggestion__provider="offline", diagnostic_class__taxonomy=code15)
    assert sorted(scored.values_list("diagnostic_class__code", "score")) == [("AF", 0.8), ("SB", 0.1)]
