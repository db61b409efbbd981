"""The recording cart's own measurements (heart rate, intervals, axes: never its interpretation) as a batch
option: a coordinator chooses whether the batch's readers see them, as many reader studies show the cart's
printout header. Off by default; what was chosen is kept in the design, audited, shown on the dashboard
and written in a release's card, so a reader of the labels knows the conditions they were read under.
Adjudicators see them on every case: they settle disputes with everything the exam carries."""

from __future__ import annotations

import json

import pytest

from annotations.models import AuditEvent, Exam, ReviewBatch
from annotations.services.agreement.compute import batch_agreement_compute
from tests.batches.test_batch_pages import design_post
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
CART = {
    "heart_rate_bpm": 61.0,
    "rr_ms": 982.0,
    "pr_ms": 161.0,
    "qrs_ms": 117.0,
    "qt_ms": 368.0,
    "qtc_ms": 370.0,
    "p_axis_deg": 74.0,
    "qrs_axis_deg": -52.0,
    "t_axis_deg": 57.0,
}


@pytest.fixture
def carted():
    """An exam with a real waveform whose file gave the cart's measurements."""
    exam = make_exam(DatasetFactory(name="carts"), "cart-1")
    Exam.objects.filter(pk=exam.pk).update(device_measurements=CART)
    exam.refresh_from_db()
    return exam


def _api_spec(ana, bruno, tnmg, **extra) -> dict:
    return {
        "name": "Cart",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
        "sample_size": 4,
        **extra,
    }


@pytest.fixture
def archive():
    return ExamFactory.create_batch(6, dataset=DatasetFactory(name="archive"))


def test_the_api_keeps_the_option_in_the_design_audits_it_and_the_progress_says_it(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    created = client.post(
        "/api/v1/batches/",
        _api_spec(ana, bruno, tnmg, device_measurements_shown=True),
        content_type="application/json",
    )
    assert created.status_code == 201
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["device_measurements_shown"] is True
    audit = AuditEvent.objects.get(action="batch.create", target_id=str(batch.pk)).after
    assert audit["device_measurements_shown"] is True
    progress = client.get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert progress["batch"]["device_measurements_shown"] is True


def test_the_option_is_off_unless_asked_for_and_must_be_a_boolean(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    created = client.post("/api/v1/batches/", _api_spec(ana, bruno, tnmg), content_type="application/json")
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["device_measurements_shown"] is False
    assert (
        client.get(f"/api/v1/batches/{batch.pk}/progress/").json()["batch"]["device_measurements_shown"]
        is False
    )
    refused = client.post(
        "/api/v1/batches/",
        _api_spec(ana, bruno, tnmg, name="Bad", device_measurements_shown="maybe"),
        content_type="application/json",
    )
    assert refused.status_code == 400 and "device_measurements_shown" in refused.json()
    assert not ReviewBatch.objects.filter(name="Bad").exists()


def test_the_designer_offers_the_option_and_the_dashboard_shows_it(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    form = client.get("/batches/new/").content.decode()
    assert 'name="device_measurements_shown"' in form and "Show readers the recording cart" in form
    response = client.post(
        "/batches/new/", design_post(tnmg, [ana, bruno], action="create", device_measurements_shown="on")
    )
    batch = ReviewBatch.objects.get()
    assert response.status_code == 302 and batch.design["device_measurements_shown"] is True
    dashboard = client.get(f"/batches/{batch.pk}/").content.decode()
    assert 'id="device-measurements-shown"' in dashboard and "the cart's measurements shown" in dashboard
    # The same readers and exams again: independent reads turned off, with the page's reason field.
    off = {"exclude_seen_offered": "1", "independence_off_reason": "the same exams without the option"}
    client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="create", name="Plain", **off))
    plain = ReviewBatch.objects.get(name="Plain")
    assert plain.design["device_measurements_shown"] is False
    assert 'id="device-measurements-shown"' not in client.get(f"/batches/{plain.pk}/").content.decode()


def test_a_reader_of_a_batch_that_shows_them_gets_the_cart_s_measurements_with_the_exam(
    client_for, ana, diego, tnmg, carted
):
    anas = queue(batch_for(tnmg, diego, [ana], [carted], device_measurements_shown=True), ana)[0]
    context = client_for(ana).get(f"{API}/{ref(anas)}/").json()
    assert context["exam"]["device_measurements"] == CART
    # It is the exam's, not something shown on opening: the prefetched context carries it too.
    prefetched = client_for(ana).get(f"{API}/{ref(anas)}/?prefetch=1").json()
    assert prefetched["exam"]["device_measurements"] == CART


def test_an_exam_whose_file_gave_none_reads_empty_in_a_batch_that_shows_them(client_for, ana, diego, tnmg):
    anas = queue(batch_for(tnmg, diego, [ana], [make_exam()], device_measurements_shown=True), ana)[0]
    assert client_for(ana).get(f"{API}/{ref(anas)}/").json()["exam"]["device_measurements"] == {}


def test_the_same_exam_in_a_batch_that_does_not_show_them_gives_its_reader_nothing(
    client_for, ana, bruno, diego, tnmg, carted
):
    batch_for(tnmg, diego, [bruno], [carted], device_measurements_shown=True)
    anas = queue(batch_for(tnmg, diego, [ana], [carted], device_measurements_shown=False), ana)[0]
    body = client_for(ana).get(f"{API}/{ref(anas)}/").content.decode()
    assert json.loads(body)["exam"]["device_measurements"] is None
    # Nowhere else in the answer either (the keys: the numbers alone could match an etag by chance).
    assert "rr_ms" not in body and "qtc_ms" not in body and "qrs_axis_deg" not in body


def test_the_reader_s_printout_carries_them_only_where_the_batch_shows_them(
    client_for, ana, bruno, diego, tnmg, carted
):
    shown = queue(batch_for(tnmg, diego, [ana], [carted], device_measurements_shown=True), ana)[0]
    page = client_for(ana).get(f"/read/{ref(shown)}/print/").content.decode()
    assert 'id="print-device-measurements"' in page
    assert "QRS 117 ms" in page and "RR 982 ms" in page and "QRS axis -52°" in page
    hidden = queue(batch_for(tnmg, diego, [bruno], [carted], device_measurements_shown=False), bruno)[0]
    page = client_for(bruno).get(f"/read/{ref(hidden)}/print/").content.decode()
    assert 'id="print-device-measurements"' not in page and "RR 982 ms" not in page


def test_the_adjudicator_sees_the_cart_s_measurements_on_the_case_and_in_its_api(
    client_for, ana, bruno, carla, diego, tnmg, carted
):
    from tests.adjudication.test_adjudication import read

    batch = batch_for(tnmg, diego, [ana, bruno], [carted], device_measurements_shown=False)
    read(ana, batch, carted, ["SB", "1dAVb"])
    read(bruno, batch, carted, ["SB"])
    batch_agreement_compute(batch.pk)
    page = client_for(carla).get(f"/adjudication/{batch.pk}/{carted.pk}/").content.decode()
    assert 'id="case-device-measurements"' in page
    assert "PR 161 ms" in page and "QTc (the device&#x27;s formula) 370 ms" in page
    case = client_for(carla).get(f"/api/v1/adjudication/{batch.pk}/{carted.pk}/").json()
    assert case["exam"]["device_measurements"] == CART


def test_a_release_card_says_what_each_batch_s_readers_were_shown(ana, bruno, carla, diego, tnmg, tmp_path):
    from annotations.selectors.releases.plan import export_plan
    from annotations.services.releases.export import ExportOptions, export_write
    from tests.exporting import labelled_study

    carol = UserFactory(username="carol", roles=["reader"])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    batch = study.batch
    batch.design = {**batch.design, "device_measurements_shown": True, "serial_comparison": False}
    batch.save(update_fields=["design"])
    result = export_write(
        export_plan([batch.pk]),
        tmp_path,
        ExportOptions(hdf5=False),
        title="t",
        release_date="2026-01-01T00:00:00Z",
    )
    row = result.card["batches"][0]
    assert row["readers_were_shown"] == {
        "suggestions": "hidden",
        "earlier_ecgs": False,
        "device_measurements": True,
        "blind_measurements": "cart",  # a batch made before the setting: its cart option means "cart"
    }
    card = json.loads((tmp_path / "dataset_card.json").read_text())
    assert card["batches"][0]["readers_were_shown"]["device_measurements"] is True
    markdown = (tmp_path / "dataset_card.md").read_text()
    assert "| Also shown to readers |" in markdown and "| the cart's measurements |" in markdown
