"""A batch whose independence a coordinator turned off, with a reason: one person may read an exam twice.
The reason travels with the batch into its releases (read back from the built files), and the agreement
page and API count and mark the reader pairs whose common exams include such a second read."""

from __future__ import annotations

import json

import pytest

from annotations.models import Assignment, Release
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.builds import release_build
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db
WHY = "test-retest: the same cardiologist a year later"


@pytest.fixture
def again(ana, bruno, diego, tnmg, client_for):
    """ana and bruno read 4 exams in "First"; "Again", independence off with a reason, gives them to ana
    (a second read) and ivan (a first), who both read them as ana did."""
    ivan = UserFactory(username="ivan", roles=["reader"])
    exams = ExamFactory.create_batch(4, dataset=DatasetFactory(name="twice"))
    first = batch_for(tnmg, diego, [ana, bruno], exams, name="First")
    for slot in Assignment.objects.filter(batch=first):
        read(slot.reader, slot, ["SR"])
    spec = {
        "name": "Again",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, ivan.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["twice"]},
        "exclude_seen": False,
        "independence_off_reason": WHY,
    }
    response = client_for(diego).post("/api/v1/batches/", spec, content_type="application/json")
    assert response.status_code == 201, response.content
    batch_id = response.json()["id"]
    for slot in Assignment.objects.filter(batch_id=batch_id):
        read(slot.reader, slot, ["SR"])
    batch_agreement_compute(batch_id)
    return batch_id, ivan


def test_agreement_counts_and_marks_the_pairs_that_include_a_second_read_by_one_person(
    again, ana, diego, client_for
):
    batch_id, _ivan = again
    client = client_for(diego)
    body = client.get(f"/api/v1/batches/{batch_id}/agreement/").json()
    assert body["same_person_reads"] == {"reads": 4, "exams": 4}
    rows = {row["reader"]: row for row in body["pairs"]}
    order = [row["reader"] for row in body["pairs"]]
    assert rows["ana"]["same_person_exams"][order.index("ivan")] == 4
    assert rows["ana"]["same_person_exams"][order.index("ana")] == 0
    page = client.get(f"/batches/{batch_id}/agreement/").content.decode()
    assert 'class="same-person"' in page and 'id="same-person-reads"' in page


def test_the_release_says_independence_was_off_and_why(again, diego, client_for):
    batch_id, _ivan = again
    client = client_for(diego)
    response = client.post(
        "/api/v1/releases/",
        {"batches": [batch_id], "hdf5": False, "name": "again"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)

    def text(name: str) -> str:
        return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()

    card = json.loads(text("dataset_card.json"))
    (row,) = card["batches"]
    assert row["independent_reads"]["independent"] is False
    assert row["independent_reads"]["off_reason"] == WHY
    assert f"Reason given: {WHY}" in text("dataset_card.md")


def test_a_release_of_an_independent_batch_says_so(ana, bruno, diego, tnmg, client_for):
    exams = ExamFactory.create_batch(2, dataset=DatasetFactory(name="once"))
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Once")
    for slot in Assignment.objects.filter(batch=batch):
        read(slot.reader, slot, ["SR"])
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    response = client.post(
        "/api/v1/releases/",
        {"batches": [batch.pk], "hdf5": False, "name": "once"},
        content_type="application/json",
    )
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    card = json.loads(
        b"".join(client.get(f"/releases/{release.pk}/files/dataset_card.json").streaming_content)
    )
    assert card["batches"][0]["independent_reads"]["independent"] is True
    assert card["batches"][0]["independent_reads"]["off_reason"] is None
