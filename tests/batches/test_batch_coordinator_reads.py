"""A coordinator sees every reader's labels (agreement CSVs, releases, exam pages), so cannot read blind in
a batch: nobody who holds the coordinator role is made a reader of one, whether at design, added later,
handed a reader's exams or a skipped slot; and nobody with reads still open is made a coordinator."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role, user_roles
from annotations.services.batches.lifecycle import batch_create
from tests.factories import UserFactory, make_exam

pytestmark = pytest.mark.django_db


@pytest.fixture
def pi(db):
    return UserFactory(username="pi", roles=[Role.COORDINATOR, Role.READER])


def test_a_coordinator_is_refused_as_a_reader_of_a_new_batch(client_for, diego, ana, pi, tnmg):
    make_exam(seed=1)
    body = {"name": "PI reads", "taxonomy_id": tnmg.pk, "reader_ids": [ana.pk, pi.pk], "readers_per_exam": 2}
    answer = client_for(diego).post("/api/v1/batches/", body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "pi is a coordinator" in str(answer.json())
    assert not ReviewBatch.objects.exists()


def test_a_coordinator_is_refused_as_a_reader_added_later_or_handed_exams(
    client_for, diego, ana, bruno, pi, tnmg
):
    batch = batch_create(
        name="Running",
        taxonomy=tnmg,
        exams=[make_exam(seed=i) for i in range(4)],
        readers=[ana, bruno],
        readers_per_exam=1,
        actor=diego,
    )
    client = client_for(diego)
    added = client.post(f"/batches/{batch.pk}/add-readers/", {"readers": [pi.pk]}, follow=True)
    assert "pi is a coordinator" in added.content.decode()
    moved = client.post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": ana.pk, "to_reader": pi.pk}, follow=True
    )
    assert "pi is a coordinator" in moved.content.decode()
    assert not Assignment.objects.filter(reader=pi).exists()


def test_a_reader_with_reads_still_open_is_not_made_a_coordinator(client_for, diego, ana, tnmg):
    batch_create(
        name="Open", taxonomy=tnmg, exams=[make_exam(seed=1)], readers=[ana], readers_per_exam=1, actor=diego
    )
    answer = client_for(diego).post(
        f"/people/{ana.pk}/roles/", {"roles": ["reader", "coordinator"]}, follow=True
    )
    assert "reads still open" in answer.content.decode()
    assert user_roles(ana) == {Role.READER}
