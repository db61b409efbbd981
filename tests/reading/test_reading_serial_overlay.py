"""Serial comparison's overlay in the reading API: the median beats of the open exam and of one earlier
exam of the patient, each with its acquisition date, and the change of each interval and axis between them,
as MUSE compares serial ECGs. Only where the batch shows earlier exams, only through the reader's own
assignment, and the measurements only from a source the batch already shows its readers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from annotations.models import Exam, ReviewBatch, Suggestion, SuggestionScore
from annotations.services.reading import LabelInput, annotation_submit
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
MARKER = "MARKER-bruno-read-of-the-earlier-exam"
ROWS = [
    "heart_rate_bpm",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
]


@pytest.fixture
def pair():
    """Patient P-9: an exam of 2018 at 95 bpm and the one read now, of 2021, at 58 bpm."""
    dataset = DatasetFactory(name="serial")
    earlier = make_exam(
        dataset, patient_pseudo_id="P-9", acquired_at=datetime(2018, 3, 4, tzinfo=UTC), heart_rate=95
    )
    current = make_exam(
        dataset, patient_pseudo_id="P-9", acquired_at=datetime(2021, 5, 6, tzinfo=UTC), heart_rate=58, seed=4
    )
    return earlier, current


# Serial comparison on, and the same exams handed again batch after batch (independence off, on purpose).
SERIAL = {"serial_comparison": True, "again": True}


def test_the_overlay_gives_both_median_beats_with_their_dates_aligned_on_qrs_onset(
    client_for, ana, diego, tnmg, pair
):
    anas = queue(batch_for(tnmg, diego, [ana], [pair[1]], **SERIAL), ana)[0]
    got = client_for(ana).get(f"{API}/{ref(anas)}/priors/1/overlay/")
    assert got.status_code == 200
    body = got.json()
    assert body["earlier"]["acquired_on"] == "2018-03-04" and body["current"]["acquired_on"] == "2021-05-06"
    for side in ("earlier", "current"):
        beat = body[side]["beat"]
        assert set(beat["leads"]) == {
            "I",
            "II",
            "III",
            "aVR",
            "aVL",
            "aVF",
            "V1",
            "V2",
            "V3",
            "V4",
            "V5",
            "V6",
        }
        assert beat["qrs_onset_ms"] is not None and beat["start_ms"] < beat["qrs_onset_ms"] < 0
        assert beat["n_beats"] >= 5
    # Hidden suggestions and no cart measurements shown: no numbers at all, the beats alone.
    assert body["measurements"] == {"source": None, "rows": []}


def test_with_the_cart_shown_the_table_gives_each_change_from_the_carts_measurements(
    client_for, ana, diego, tnmg, pair
):
    Exam.objects.filter(pk=pair[0].pk).update(
        device_measurements={
            "heart_rate_bpm": 95,
            "pr_ms": 150,
            "qrs_ms": 88,
            "qt_ms": 330,
            "qrs_axis_deg": 40,
        }
    )
    Exam.objects.filter(pk=pair[1].pk).update(
        device_measurements={
            "heart_rate_bpm": 58,
            "pr_ms": 210,
            "qrs_ms": 132,
            "qt_ms": 430,
            "qrs_axis_deg": -35,
        }
    )
    anas = queue(batch_for(tnmg, diego, [ana], [pair[1]], device_measurements_shown=True, **SERIAL), ana)[0]
    body = client_for(ana).get(f"{API}/{ref(anas)}/priors/1/overlay/").json()
    assert body["measurements"]["source"] == "cart"
    rows = {row["key"]: row for row in body["measurements"]["rows"]}
    assert list(rows) == ROWS
    assert rows["pr_ms"] == {"key": "pr_ms", "earlier": 150, "current": 210, "change": 60}
    assert rows["qrs_axis_deg"]["change"] == -75
    assert rows["heart_rate_bpm"]["change"] == -37
    assert rows["t_axis_deg"] == {"key": "t_axis_deg", "earlier": None, "current": None, "change": None}


def test_where_the_suggestion_is_shown_the_table_is_measured_from_the_signals(
    client_for, ana, diego, tnmg, pair
):
    """Known truth: the synthetic exams beat at 95 and 58 bpm."""
    suggestion = Suggestion.objects.create(exam=pair[1], provider="measurements", provider_version="2")
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="SB"), score=0.9
    )
    anas = queue(
        batch_for(tnmg, diego, [ana], [pair[1]], suggestion_mode=ReviewBatch.SuggestionMode.SHOWN, **SERIAL),
        ana,
    )[0]
    client = client_for(ana)
    assert client.get(f"{API}/{ref(anas)}/").status_code == 200  # opened: its suggestion is shown
    body = client.get(f"{API}/{ref(anas)}/priors/1/overlay/").json()
    assert body["measurements"]["source"] == "computed"
    rows = {row["key"]: row for row in body["measurements"]["rows"]}
    assert rows["heart_rate_bpm"]["earlier"] == pytest.approx(95, abs=3)
    assert rows["heart_rate_bpm"]["current"] == pytest.approx(58, abs=3)
    assert rows["heart_rate_bpm"]["change"] == pytest.approx(
        rows["heart_rate_bpm"]["current"] - rows["heart_rate_bpm"]["earlier"], abs=0.2
    )
    for key in ("pr_ms", "qrs_ms", "qt_ms"):
        assert rows[key]["current"] is not None and rows[key]["earlier"] is not None, key


def test_only_the_reader_of_a_serial_batch_gets_it_and_never_anybodys_read(
    client_for, ana, bruno, carla, diego, tnmg, pair
):
    serial = batch_for(tnmg, diego, [ana, bruno], [pair[1]], **SERIAL)
    anas = queue(serial, ana)[0]
    # bruno read the earlier exam in another batch; nothing of it may reach ana.
    older = queue(batch_for(tnmg, diego, [bruno], [pair[0]], again=True), bruno)[0]
    annotation_submit(
        actor=bruno, assignment=older.pk, labels=[LabelInput(code="SB")], comment=MARKER, revision=0
    )
    body = client_for(ana).get(f"{API}/{ref(anas)}/priors/1/overlay/")
    assert (
        body.status_code == 200
        and MARKER not in json.dumps(body.json())
        and "SB" not in json.dumps(body.json())
    )
    assert client_for(bruno).get(f"{API}/{ref(anas)}/priors/1/overlay/").status_code == 404
    assert client_for(carla).get(f"{API}/{ref(anas)}/priors/1/overlay/").status_code == 403
    ana_client = client_for(ana)
    for n in (0, 2, 4):
        assert ana_client.get(f"{API}/{ref(anas)}/priors/{n}/overlay/").status_code == 404, n
    plain = queue(batch_for(tnmg, diego, [ana], [pair[1]], again=True), ana)[0]
    assert ana_client.get(f"{API}/{ref(plain)}/priors/1/overlay/").status_code == 404
    assert ana_client.get(f"{API}/{ref(plain)}/").json()["priors"] == []
    listed = ana_client.get(f"{API}/{ref(anas)}/").json()["priors"][0]
    assert listed["overlay_url"] == f"{API}/{ref(anas)}/priors/1/overlay/"


def test_a_batch_showing_computed_measurements_to_blind_readers_gives_the_measured_changes(
    client_for, ana, diego, tnmg, pair
):
    """Hidden suggestions, but the batch's `blind_measurements` shows the computed measurements."""
    anas = queue(
        batch_for(tnmg, diego, [ana], [pair[1]], blind_measurements="cart_and_computed", **SERIAL), ana
    )[0]
    body = client_for(ana).get(f"{API}/{ref(anas)}/priors/1/overlay/").json()
    assert body["measurements"]["source"] == "computed"
    rows = {row["key"]: row for row in body["measurements"]["rows"]}
    assert rows["heart_rate_bpm"]["earlier"] == pytest.approx(95, abs=3)
    assert rows["heart_rate_bpm"]["current"] == pytest.approx(58, abs=3)
    assert rows["qrs_axis_deg"]["current"] is not None
