"""The exam page shows a coordinator what each model said about the exam: every provider version's
scores per statement (those over the provider's threshold marked), its global measurements, and the
versions that failed with their reason; readers never reach the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from annotations.models import DiagnosticClass, ReferenceLabel, Suggestion, SuggestionScore
from tests.factories import DatasetFactory, DiagnosticClassFactory, ExamFactory, batch_for

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def exam(tnmg):
    exam = ExamFactory(dataset=DatasetFactory(name="archive"))
    af, rbbb = (DiagnosticClass.objects.get(taxonomy=tnmg, code=code) for code in ("AF", "RBBB"))
    af_elsewhere = DiagnosticClassFactory(code="AF", name="AF of another taxonomy")
    older = Suggestion.objects.create(
        exam=exam, provider="m", provider_version="1", computed_at=T0, measurements={"heart_rate_bpm": 58.0}
    )
    SuggestionScore.objects.create(suggestion=older, diagnostic_class=af, score=0.2)
    newer = Suggestion.objects.create(
        exam=exam,
        provider="m",
        provider_version="2",
        computed_at=T0.replace(hour=10),
        measurements={
            "heart_rate_bpm": 61.1,
            "pr_ms": 155.0,
            "qrs_ms": 63.5,
            "qtc_bazett_ms": 395.0,
            "qrs_axis_deg": 44.1,
            "rr_sd_ms": 15.2,  # not one of the global measurements: left out
            "_scoring": {"thresholds": {"AF": 0.5, "RBBB": 0.5}},
        },
    )
    for diagnostic_class, score in ((af, 0.914), (af_elsewhere, 0.914), (rbbb, 0.123)):
        SuggestionScore.objects.create(suggestion=newer, diagnostic_class=diagnostic_class, score=score)
    failed = {"status": "failed", "error": "no R peak found", "computed_at": T0.replace(hour=8)}
    Suggestion.objects.create(exam=exam, provider="n", provider_version="7", **failed)
    return exam


def section(page: str) -> str:
    start = page.index('id="suggestions"')
    return page[start : page.index("</section>", start)]


def test_the_exam_page_shows_each_models_scores_measurements_and_failures(client_for, diego, tnmg, exam):
    response = client_for(diego).get(f"/exams/{exam.pk}/")
    assert response.status_code == 200
    shown = section(response.content.decode())
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown))
    # Newest version first; the failed one with its reason.
    assert text.index("m 2") < text.index("m 1") < text.index("n 7")
    assert "no R peak found" in text and "Failed" in text
    af = DiagnosticClass.objects.get(taxonomy=tnmg, code="AF").name
    newest = shown[shown.index("m 2") : shown.index("m 1")]
    row = r'<tr(?: class="(suggested)")?><td>([^<]+)</td><td>([^<]+)</td><td>([\d.]+)</td>'
    rows = re.findall(row, newest)
    assert rows == [("suggested", "AF", af, "0.91"), ("", "RBBB", rows[1][2], "0.12")]  # one row per code
    measured = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", newest))
    for shown_value in ("61.1 bpm", "155 ms", "63.5 ms", "395 ms", "44.1°"):
        assert shown_value in measured
    assert "15.2" not in measured


def test_an_exam_no_model_has_seen_says_so(client_for, diego, tnmg):
    exam = ExamFactory(dataset=DatasetFactory(name="archive"))
    shown = section(client_for(diego).get(f"/exams/{exam.pk}/").content.decode())
    assert "No model has computed suggestions for this exam." in shown


def test_a_reader_cannot_open_the_exam_page(client_for, ana, exam):
    assert client_for(ana).get(f"/exams/{exam.pk}/").status_code == 404


def test_the_api_gives_the_exam_as_its_page_shows_it(client_for, diego, ana, tnmg, exam):
    ReferenceLabel.objects.create(exam=exam, code_system="code15", code="AF", source="dataset")
    batch = batch_for(tnmg, diego, [ana], [exam], name="Holding")
    body = client_for(diego).get(f"/api/v1/exams/{exam.pk}/").json()
    assert body["id"] == exam.pk and body["dataset"] == "archive"
    assert body["reference_labels"] == [
        {"code_system": "code15", "code": "AF", "likelihood": None, "source": "dataset"}
    ]
    assert body["batches"] == [{"id": batch.pk, "name": "Holding", "status": "active"}]
    assert [(s["provider"], s["version"], s["status"]) for s in body["suggestions"]] == [
        ("m", "2", "ok"),
        ("m", "1", "ok"),
        ("n", "7", "failed"),
    ]
    newest = body["suggestions"][0]
    assert [(s["code"], round(s["score"], 3), s["suggested"]) for s in newest["scores"]] == [
        ("AF", 0.914, True),
        ("RBBB", 0.123, False),
    ]
    assert newest["measurements"] == {
        "heart_rate_bpm": 61.1,
        "pr_ms": 155.0,
        "qrs_ms": 63.5,
        "qtc_bazett_ms": 395.0,
        "qrs_axis_deg": 44.1,
    }
    assert body["suggestions"][2]["error"] == "no R peak found"
    assert client_for(ana).get(f"/api/v1/exams/{exam.pk}/").status_code == 403
    assert client_for(diego).get("/api/v1/exams/999999/").status_code == 404
