"""Serial comparison in the reading API: a batch designed with it lists the patient's earlier exams (the
three most recent acquired strictly before this one, same dataset and patient) with a waveform URL scoped
to the reader's assignment; without it nothing. Only waveforms and dates: nothing anybody said about them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from annotations.models import ReferenceLabel, ReviewBatch, Suggestion, SuggestionScore
from annotations.services.reading import LabelInput, annotation_submit
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
MARKER = "MARKER-bruno-read-of-the-earlier-exam"
PRIOR_KEYS = {
    "n",
    "acquired_on",
    "sampling_rate",
    "n_samples",
    "lead_names",
    "gain_uv",
    "waveform_url",
    "waveform_etag",
    "overlay_url",
}


def at(year: int, month: int = 6) -> datetime:
    return datetime(year, month, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def history():
    """Patient P-1 of one dataset: four exams before the current one (2020), one after; and look-alikes
    that are not its earlier exams: another patient, the same id in another dataset, an undated exam."""
    dataset, other = DatasetFactory(name="serial"), DatasetFactory(name="elsewhere")
    exams = {
        year: make_exam(dataset, patient_pseudo_id="P-1", acquired_at=at(year), heart_rate=50 + year % 40)
        for year in (2015, 2016, 2017, 2018, 2020, 2022)
    }
    make_exam(dataset, patient_pseudo_id="P-2", acquired_at=at(2019), seed=1)
    make_exam(other, patient_pseudo_id="P-1", acquired_at=at(2019), seed=2)
    make_exam(dataset, patient_pseudo_id="P-1", acquired_at=None, seed=3)
    return exams


# Serial comparison on, and the same exams handed again batch after batch (independence off, on purpose).
SERIAL = {"serial_comparison": True, "again": True}


def test_a_serial_batch_lists_the_three_most_recent_earlier_exams_of_the_patient(
    client_for, ana, diego, tnmg, history
):
    anas = queue(batch_for(tnmg, diego, [ana], [history[2020]], **SERIAL), ana)[0]
    priors = client_for(ana).get(f"{API}/{ref(anas)}/").json()["priors"]
    assert [p["acquired_on"] for p in priors] == ["2018-06-01", "2017-06-01", "2016-06-01"]
    assert [p["n"] for p in priors] == [1, 2, 3]
    assert priors[0]["waveform_url"] == f"{API}/{ref(anas)}/priors/1/waveform/"
    assert all(set(p) == PRIOR_KEYS for p in priors)
    assert priors[0]["n_samples"] == history[2018].n_samples and priors[0]["gain_uv"] == history[2018].gain_uv
    # While prefetching too: the list is the exam's, not something shown on opening.
    assert client_for(ana).get(f"{API}/{ref(anas)}/?prefetch=1").json()["priors"] == priors


def test_the_earliest_exam_has_none_and_so_has_an_exam_without_patient_or_date(
    client_for, ana, diego, tnmg, history
):
    undated = make_exam(DatasetFactory(name="serial"), patient_pseudo_id="P-1", acquired_at=None, seed=9)
    anonymous = make_exam(DatasetFactory(name="serial"), acquired_at=at(2021), seed=10)
    serial = batch_for(tnmg, diego, [ana], [history[2015], undated, anonymous], **SERIAL)
    for assignment in queue(serial, ana):
        assert client_for(ana).get(f"{API}/{ref(assignment)}/").json()["priors"] == []
        assert client_for(ana).get(f"{API}/{ref(assignment)}/priors/1/waveform/").status_code == 404


def test_without_the_option_nothing_is_listed_and_nothing_served_even_for_the_same_exam(
    client_for, ana, diego, tnmg, history
):
    """The same exam in two batches of the same reader: the option is the batch's, not the exam's."""
    on = queue(batch_for(tnmg, diego, [ana], [history[2020]], **SERIAL), ana)[0]
    off = queue(batch_for(tnmg, diego, [ana], [history[2020]], again=True), ana)[0]
    client = client_for(ana)
    assert client.get(f"{API}/{ref(off)}/").json()["priors"] == []
    assert client.get(f"{API}/{ref(off)}/priors/1/waveform/").status_code == 404
    assert client.get(f"{API}/{ref(on)}/priors/1/waveform/").status_code == 200


def test_a_prior_waveform_is_the_earlier_exams_samples_in_the_current_wire_format(
    client_for, ana, diego, tnmg, history
):
    anas = queue(batch_for(tnmg, diego, [ana], [history[2020]], **SERIAL), ana)[0]
    client = client_for(ana)
    url = f"{API}/{ref(anas)}/priors/2/waveform/"
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    prior = history[2017]
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert response["X-ECG-Samples"] == str(prior.n_samples) and response["X-ECG-Leads"] == ",".join(
        prior.lead_names
    )
    own = client.get(f"{API}/{ref(anas)}/waveform/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.content != own.content  # the earlier exam's samples, not the current one's
    listed = client.get(f"{API}/{ref(anas)}/").json()["priors"][1]
    assert response["ETag"] == f'"{listed["waveform_etag"]}"' != own["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert "private" in response["Cache-Control"]


def test_only_the_reader_of_the_assignment_gets_its_priors_and_only_those_listed(
    client_for, ana, bruno, carla, diego, tnmg, history
):
    serial = batch_for(tnmg, diego, [ana, bruno], [history[2020]], **SERIAL)
    anas, bruno_s = queue(serial, ana)[0], queue(serial, bruno)[0]
    assert client_for(bruno).get(f"{API}/{ref(anas)}/priors/1/waveform/").status_code == 404
    assert client_for(bruno).get(f"{API}/{ref(bruno_s)}/priors/1/waveform/").status_code == 200
    ana_client = client_for(ana)  # one test client: each client_for logs it in as another
    for n in (0, 4, 5, 99):  # the fourth earlier exam (2015) is beyond the three shown; later ones never
        assert ana_client.get(f"{API}/{ref(anas)}/priors/{n}/waveform/").status_code == 404, n
    assert ana_client.get(f"{API}/999999/priors/1/waveform/").status_code == 404
    assert client_for(diego).get(f"{API}/{ref(anas)}/priors/1/waveform/").status_code == 403
    assert client_for(carla).get(f"{API}/{ref(anas)}/priors/1/waveform/").status_code == 403
    serial.status = ReviewBatch.Status.CLOSED
    serial.save(update_fields=["status"])
    assert client_for(ana).get(f"{API}/{ref(anas)}/priors/1/waveform/").status_code == 404


def test_the_client_logged_out_gets_nothing(client, ana, diego, tnmg, history):
    anas = queue(batch_for(tnmg, diego, [ana], [history[2020]], **SERIAL), ana)[0]
    assert client.get(f"{API}/{ref(anas)}/priors/1/waveform/").status_code in (401, 403)


def test_no_label_of_an_earlier_exam_reaches_the_reader(client_for, ana, bruno, diego, tnmg, history):
    """The earlier exam was read by bruno elsewhere, came with reference labels and has a suggestion: the
    prior entries carry none of it, in a batch that shows the current exam's own suggestion."""
    earlier = history[2018]
    elsewhere = queue(batch_for(tnmg, diego, [bruno], [earlier], again=True), bruno)[0]
    annotation_submit(
        actor=bruno, assignment=elsewhere, labels=[LabelInput("AF")], comment=MARKER, revision=0
    )
    ReferenceLabel.objects.create(exam=earlier, code_system="code15", code="1dAVb")
    suggestion = Suggestion.objects.create(
        exam=earlier, provider="openecg-codec", provider_version="6", measurements={"heart_rate_bpm": 133.0}
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="LBBB"), score=0.97
    )
    serial = batch_for(
        tnmg, diego, [ana], [history[2020]], suggestion_mode=ReviewBatch.SuggestionMode.SHOWN, **SERIAL
    )
    anas = queue(serial, ana)[0]
    context = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    priors = context["priors"]
    assert priors and all(set(p) == PRIOR_KEYS for p in priors)
    text = json.dumps(priors)
    for leak in (
        MARKER,
        "AF",
        "1dAVb",
        "code15",
        "LBBB",
        "openecg",
        "heart_rate",
        "label",
        "annotation",
        "suggest",
        "reference",
        "score",
        "comment",
        "serial",
        earlier.external_id,
        "P-1",
    ):
        assert leak not in text, leak
    assert MARKER not in json.dumps(context)
