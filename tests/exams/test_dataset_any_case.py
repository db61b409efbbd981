"""A dataset is one name in any case, and so is a reference label: every filter and criterion takes them
as a coordinator types them. A script asking for ?dataset=CODE15PROBE of the dataset imported as
"code15probe" was told it held no exam, and a batch designed over it matched nothing."""

from __future__ import annotations

import pytest

from tests.factories import DatasetFactory, ExamFactory, add_reference_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe():
    exams = ExamFactory.create_batch(6, dataset=DatasetFactory(name="code15probe"))
    for exam in exams[:2]:
        add_reference_labels(exam, ("code15", "RBBB"))
    ExamFactory.create_batch(3, dataset=DatasetFactory(name="other"))
    return exams


def test_the_exam_list_filters_a_dataset_named_in_any_case(client_for, diego, probe):
    client = client_for(diego)
    for spelling in ("code15probe", "CODE15PROBE", "Code15Probe"):
        listed = client.get("/api/v1/exams/", {"dataset": spelling}).json()
        assert listed["count"] == 6, spelling
        assert sorted(row["id"] for row in listed["results"]) == sorted(e.pk for e in probe)
        assert client.get("/api/v1/exams/", {"dataset": spelling, "sort": "dataset"}).json()["count"] == 6
    assert client.get("/api/v1/exams/", {"dataset": "code15"}).json()["count"] == 0  # never a prefix


def _preview(client, ana, bruno, tnmg, criteria) -> dict:
    body = {
        "name": "Any case",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": criteria,
    }
    response = client.post("/api/v1/batches/preview/", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_batch_criterion_takes_datasets_and_reference_labels_in_any_case(
    client_for, diego, ana, bruno, tnmg, probe
):
    client = client_for(diego)
    assert _preview(client, ana, bruno, tnmg, {"datasets": ["CODE15PROBE"]})["exams"] == 6
    for label in ("code15:RBBB", "CODE15:rbbb"):
        criteria = {"datasets": ["code15probe"], "reference_labels": [label]}
        chosen = _preview(client, ana, bruno, tnmg, criteria)
        assert chosen["exams"] == 2, label


def test_sorted_by_dataset_the_names_go_in_alphabetical_order_whatever_their_case(client_for, diego):
    """'QA2' went before 'demo' (upper case sorts first by code point): a coordinator reads an alphabet."""
    for name in ("QA2", "demo", "Bravo"):
        ExamFactory(dataset=DatasetFactory(name=name))
    client = client_for(diego)
    listed = client.get("/api/v1/exams/", {"sort": "dataset"}).json()["results"]
    assert [row["dataset"] for row in listed] == ["Bravo", "demo", "QA2"]
    backwards = client.get("/api/v1/exams/", {"sort": "-dataset"}).json()["results"]
    assert [row["dataset"] for row in backwards] == ["QA2", "demo", "Bravo"]
    page = client.get("/exams/").content.decode()
    names = [page.index(f'<option value="{name}"') for name in ("Bravo", "demo", "QA2")]
    assert names == sorted(names)
