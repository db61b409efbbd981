"""The reading API hands the reader the exam's acquisition moment beside age and sex (the patient's
context, not anybody's labels), null where the exam has none; the queue's end says the batch is finished."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import labels, queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


@pytest.fixture
def details(ana, diego, tnmg):
    dataset = DatasetFactory(name="details")
    dated = make_exam(dataset, age=0, sex="M", acquired_at=datetime(2021, 5, 6, 14, 30, tzinfo=UTC))
    undated = make_exam(dataset, seed=1, age=None, sex="U", acquired_at=None)
    batch = batch_for(tnmg, diego, [ana], [dated, undated], name="Details")
    return batch, {a.exam_id: a for a in queue(batch, ana)}, dated, undated


def test_the_context_carries_the_acquisition_moment_age_and_sex(client_for, ana, details):
    _, assignments, dated, undated = details
    client = client_for(ana)
    shown = client.get(f"{API}/{ref(assignments[dated.pk])}/").json()["exam"]
    assert (shown["acquired_at"], shown["age"], shown["sex"]) == ("2021-05-06T14:30:00Z", 0, "M")
    missing = client.get(f"{API}/{ref(assignments[undated.pk])}/").json()["exam"]
    assert (missing["acquired_at"], missing["age"], missing["sex"]) == (None, None, "U")


def test_the_printout_says_not_recorded_and_an_age_of_zero(client_for, ana, details):
    _, assignments, dated, undated = details
    client = client_for(ana)
    printed = client.get(reverse("reader-print", args=[ref(assignments[dated.pk])])).content.decode()
    assert "Acquired 2021-05-06 14:30 · Age 0 · male · 10.0 s at 500 Hz" in printed
    printed = client.get(reverse("reader-print", args=[ref(assignments[undated.pk])])).content.decode()
    assert "Acquisition date not recorded · Age not recorded · sex not recorded" in printed


def test_continuing_a_finished_batch_says_it_is_finished(client_for, ana, details):
    batch, assignments, _, _ = details
    client = client_for(ana)
    for assignment in assignments.values():
        submitted = client.post(
            f"{API}/{ref(assignment)}/submit/",
            {"labels": labels("SB"), "comment": "", "revision": 0},
            content_type="application/json",
        )
        assert submitted.status_code == 200
    home = client.get(f"{reverse('reader-next')}?batch={batch.pk}", follow=True)
    assert "Batch “Details” finished: nothing left to read in your queue. Thank you!" in home.content.decode()
