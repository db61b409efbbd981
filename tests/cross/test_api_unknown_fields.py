"""A field a request body does not know is refused naming it (400), never dropped: a batch asked for with
its filters beside "criteria" instead of inside it was built over every exam in the archive."""

from __future__ import annotations

import pytest

from annotations.models import Annotation, ReviewBatch
from tests.factories import DatasetFactory, ExamFactory, batch_for
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive():
    ExamFactory.create_batch(3, dataset=DatasetFactory(name="other"))
    return ExamFactory.create_batch(4, dataset=DatasetFactory(name="archive"))


def spec(tnmg, readers, **extra) -> dict:
    return {
        "name": "Filtered",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 2,
        **extra,
    }


@pytest.mark.parametrize("route", ["/api/v1/batches/preview/", "/api/v1/batches/"])
def test_filters_beside_the_criteria_are_refused_saying_where_they_belong(
    client_for, diego, ana, bruno, tnmg, archive, route
):
    client = client_for(diego)
    misplaced = spec(tnmg, [ana, bruno], datasets=["archive"], age_min=39, sex="M")
    response = client.post(route, misplaced, content_type="application/json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert set(errors) == {"datasets", "age_min", "sex"}
    assert all('inside "criteria"' in errors[name][0] for name in errors)
    typo = spec(tnmg, [ana, bruno], criteria={"dataset": ["archive"]}, readers_per_exams=2)
    errors = client.post(route, typo, content_type="application/json").json()
    assert "readers_per_exams" in errors and "dataset" in errors["criteria"]
    assert ReviewBatch.objects.count() == 0
    right = spec(tnmg, [ana, bruno], criteria={"datasets": ["archive"]})
    answer = client.post(route, right, content_type="application/json")
    assert answer.status_code in (200, 201) and answer.json()["exams"] == 4


def test_the_other_request_bodies_refuse_unknown_fields_too(client_for, diego, ana, bruno, tnmg, archive):
    batch = batch_for(tnmg, diego, [ana, bruno], archive, name="Running")
    coordinator = client_for(diego)
    for url, body in (
        (f"/api/v1/batches/{batch.pk}/exams/", {"criteria": {"datasets": ["other"]}, "sample": 1}),
        ("/api/v1/releases/", {"batches": [batch.pk], "hdf": False}),
    ):
        response = coordinator.post(url, body, content_type="application/json")
        assert response.status_code == 400 and set(response.json()) == {sorted(body)[-1]}, response.content
    reader = client_for(ana)
    slot = queue(batch, ana)[0]
    response = reader.put(
        f"/api/v1/reading/assignments/{ref(slot)}/draft/",
        {"labels": [{"code": "SB", "uncertain": False, "certainty": 1}], "revision": 0, "note": "x"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "note" in response.json() and "certainty" in response.json()["labels"]["0"]
    assert not Annotation.objects.filter(assignment=slot).exists()
    response = reader.put(
        "/api/v1/reading/preferences/", {"paper_speed": 50}, content_type="application/json"
    )
    assert response.status_code == 400 and "paper_speed" in response.json()
