"""The serial comparison option of a batch (readers see a patient's earlier ECGs, waveform only): chosen by
the coordinator in the designer or the API, kept in the batch's design, audited with its creation and shown
on the batch's dashboard."""

import pytest

from annotations.models import AuditEvent, ReviewBatch
from annotations.selectors.batches.spec import batch_spec
from tests.batches.test_batch_pages import design_post
from tests.factories import DatasetFactory, ExamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive():
    return ExamFactory.create_batch(12, dataset=DatasetFactory(name="archive"))


def _api_spec(ana, bruno, tnmg, **extra) -> dict:
    return {
        "name": "Serial",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
        "sample_size": 4,
        **extra,
    }


def _created(batch: ReviewBatch) -> dict:
    return AuditEvent.objects.get(action="batch.create", target_id=str(batch.pk)).after


def test_the_api_stores_the_option_in_the_design_and_audits_it(client_for, diego, ana, bruno, tnmg, archive):
    client = client_for(diego)
    created = client.post(
        "/api/v1/batches/",
        _api_spec(ana, bruno, tnmg, serial_comparison=True),
        content_type="application/json",
    )
    assert created.status_code == 201
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["serial_comparison"] is True
    assert _created(batch)["serial_comparison"] is True
    progress = client.get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert progress["batch"]["serial_comparison"] is True


def test_the_option_is_off_unless_asked_for_and_must_be_a_boolean(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    created = client.post("/api/v1/batches/", _api_spec(ana, bruno, tnmg), content_type="application/json")
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["serial_comparison"] is False and _created(batch)["serial_comparison"] is False
    assert client.get(f"/api/v1/batches/{batch.pk}/progress/").json()["batch"]["serial_comparison"] is False
    refused = client.post(
        "/api/v1/batches/",
        _api_spec(ana, bruno, tnmg, name="Bad", serial_comparison="sometimes"),
        content_type="application/json",
    )
    assert refused.status_code == 400 and "serial_comparison" in refused.json()
    assert not ReviewBatch.objects.filter(name="Bad").exists()


def test_the_designer_offers_the_option_and_the_dashboard_shows_it(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    form = client.get("/batches/new/").content.decode()
    assert 'name="serial_comparison"' in form and "Show readers the patient&#x27;s earlier ECGs" in form
    response = client.post(
        "/batches/new/", design_post(tnmg, [ana, bruno], action="create", serial_comparison="on")
    )
    batch = ReviewBatch.objects.get()
    assert response.status_code == 302 and batch.design["serial_comparison"] is True
    dashboard = client.get(f"/batches/{batch.pk}/").content.decode()
    assert 'id="serial-comparison"' in dashboard and "earlier ECGs shown" in dashboard


def test_a_dashboard_of_a_batch_without_the_option_says_nothing_of_it(
    client_for, diego, ana, bruno, tnmg, archive
):
    client = client_for(diego)
    client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="create"))
    batch = ReviewBatch.objects.get()
    assert batch.design["serial_comparison"] is False
    assert 'id="serial-comparison"' not in client.get(f"/batches/{batch.pk}/").content.decode()


def test_form_and_api_spellings_of_the_option_give_the_same_spec():
    common = {"name": "B", "taxonomy_id": 1, "reader_ids": [1], "readers_per_exam": 1}
    assert batch_spec({**common, "serial_comparison": None}).serial_comparison is False
    assert batch_spec({**common}).serial_comparison is False
    assert batch_spec({**common, "serial_comparison": True}).serial_comparison is True
