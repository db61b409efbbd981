"""The median beat, its fiducial marks and the measurements table in the reading API: sent only when the
batch's suggestion mode shows the suggestion (never in hidden mode, never before the blind read in
two-stage mode, never while prefetching), and computed on demand from the exam's waveform."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch, Suggestion, SuggestionScore
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
MEASURED = {
    "heart_rate_bpm": 72.0,
    "pr_ms": 160.0,
    "qrs_ms": 90.0,
    "qt_ms": 380.0,
    "qtc_bazett_ms": 416.3,
    "qtc_fridericia_ms": 403.5,
    "p_axis_deg": 50.0,
    "qrs_axis_deg": 45.0,
    "t_axis_deg": 40.0,
    "sokolow_lyon_mv": 2.1,  # evidence only: not in the reader's table
}


def _suggest(exam, taxonomy) -> Suggestion:
    suggestion = Suggestion.objects.create(
        exam=exam, provider="openecg-codec", provider_version="6", measurements=MEASURED
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=taxonomy.classes.get(code="SB"), score=0.2
    )
    return suggestion


def _first(mode, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=mode)
    assignment = queue(batch, ana)[0]
    _suggest(assignment.exam, tnmg)
    return assignment


def test_hidden_mode_never_sends_the_median_beat_or_the_table(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/").json()["median"] is None
    assert client.get(f"{API}/{ref(anas)}/?prefetch=1").json()["median"] is None
    done = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    ).json()
    assert done["done"] is True and "context" not in done


def test_shown_mode_sends_the_beat_the_marks_and_the_table_but_not_while_prefetching(
    client_for, ana, bruno, diego, tnmg
):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/?prefetch=1").json()["median"] is None
    median = client.get(f"{API}/{ref(anas)}/").json()["median"]
    assert median["provider"] == "openecg-codec"
    assert median["measurements"] == {k: v for k, v in MEASURED.items() if k != "sokolow_lyon_mv"}
    beat = median["beat"]
    assert beat["sampling_rate"] == 250.0 and beat["start_ms"] == -250.0
    assert beat["n_beats"] >= 8  # 72 bpm over 10 s, edge beats left out
    assert list(beat["leads"]) == anas.exam.lead_names
    assert all(len(row) == 175 for row in beat["leads"].values())
    marks = beat["marks"]
    assert -120 <= marks["qrs_on_ms"] < 0
    assert marks["qrs_off_ms"] - marks["qrs_on_ms"] == pytest.approx(90.0)
    assert marks["qrs_on_ms"] - marks["p_on_ms"] == pytest.approx(160.0)
    assert marks["t_off_ms"] - marks["qrs_on_ms"] == pytest.approx(380.0)


def test_two_stage_sends_them_only_after_the_blind_read(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.TWO_STAGE, ana, bruno, diego, tnmg)
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/").json()["median"] is None
    client.put(
        f"{API}/{ref(anas)}/draft/",
        {"labels": labels("SB"), "revision": 0},
        content_type="application/json",
    )
    assert client.get(f"{API}/{ref(anas)}/").json()["median"] is None  # a blind draft is still blind
    response = client.post(
        f"{API}/{ref(anas)}/submit/",
        {"labels": labels("SB"), "revision": 1},
        content_type="application/json",
    ).json()
    assert response["done"] is False
    assert response["context"]["median"]["beat"]["n_beats"] >= 8
    assert client.get(f"{API}/{ref(anas)}/").json()["median"]["measurements"]["qt_ms"] == 380.0


def test_a_suggestion_without_measurements_gives_an_empty_table_and_no_marks(
    client_for, ana, bruno, diego, tnmg
):
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    anas = queue(batch, ana)[0]
    Suggestion.objects.create(exam=anas.exam, provider="demo-model", provider_version="1")
    median = client_for(ana).get(f"{API}/{ref(anas)}/").json()["median"]
    assert median["measurements"] == {}
    assert median["beat"]["marks"] == {
        "p_on_ms": None,
        "qrs_on_ms": median["beat"]["marks"]["qrs_on_ms"],
        "qrs_off_ms": None,
        "t_off_ms": None,
    }


def test_no_suggestion_no_median(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    anas = queue(batch, ana)[0]
    assert client_for(ana).get(f"{API}/{ref(anas)}/").json()["median"] is None
