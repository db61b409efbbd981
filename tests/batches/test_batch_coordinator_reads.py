"""A coordinator sees every reader's labels (agreement CSVs, releases, exam pages), so cannot read blind in
a batch: nobody who holds the coordinator role is made a reader of one, whether at design, added later,
handed a reader's exams or a skipped slot; and nobody with reads still open is made a coordinator."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role, user_roles
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, UserFactory, batch_for, make_exam

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
    batch = batch_for(
        tnmg, diego, [ana, bruno], [make_exam(seed=i) for i in range(4)], name="Running", readers_per_exam=1
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
    batch_for(tnmg, diego, [ana], [make_exam(seed=1)], name="Open")
    answer = client_for(diego).post(
        f"/people/{ana.pk}/roles/", {"roles": ["reader", "coordinator"]}, follow=True
    )
    assert "reads still open" in answer.content.decode()
    assert user_roles(ana) == {Role.READER}


def test_a_reader_made_coordinator_once_their_reads_are_done_is_handed_none_of_the_exams_added_later(
    client_for, ana, bruno, diego, tnmg
):
    jack = UserFactory(username="jack", roles=[Role.READER])
    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno, jack],
        [make_exam(seed=i) for i in range(3)],
        name="Growing",
        readers_per_exam=2,
    )
    for slot in Assignment.objects.filter(batch=batch, reader=jack):
        read(jack, slot, ["SB"])
    client = client_for(diego)
    made = client.post(f"/people/{jack.pk}/roles/", {"roles": ["reader", "coordinator"]}, follow=True)
    assert set(jack.groups.values_list("name", flat=True)) == {"reader", "coordinator"}, made.content
    jacks_before = Assignment.objects.filter(batch=batch, reader=jack).count()
    later = DatasetFactory(name="later")
    more = [make_exam(later, seed=10 + i) for i in range(4)]
    added = client.post(
        f"/api/v1/batches/{batch.pk}/exams/",
        {"criteria": {"datasets": ["later"]}},
        content_type="application/json",
    )
    assert added.status_code == 201, added.content
    assert added.json()["added"] == 4
    assert Assignment.objects.filter(batch=batch, reader=jack).count() == jacks_before
    for exam in more:
        readers = Assignment.objects.filter(batch=batch, exam=exam).values_list("reader__username", flat=True)
        assert sorted(readers) == ["ana", "bruno"]


def test_a_former_coordinator_is_refused_as_a_reader_naming_when_the_role_ended(client_for, diego, ana, tnmg):
    """Taking the coordinator role away does not take away what its holder saw: every reader's labels,
    downloadable as releases and agreement tables until the last day they held it."""
    hank = UserFactory(username="hank", roles=[Role.COORDINATOR])
    client = client_for(diego)
    saved = client.post(f"/people/{hank.pk}/roles/", {"roles": ["reader"]}, follow=True).content.decode()
    # Said where the role is changed, not first at the next batch design.
    assert "hank was a coordinator until" in saved and "will be refused as a reader" in saved
    make_exam(seed=1)
    body = {
        "name": "Hank reads",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, hank.pk],
        "readers_per_exam": 2,
    }
    answer = client.post("/api/v1/batches/", body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "hank was a coordinator until" in str(answer.json())
    assert not ReviewBatch.objects.exists()
    batch = batch_for(tnmg, diego, [ana], [make_exam(seed=2)], name="Ana alone")
    added = client.post(
        f"/api/v1/batches/{batch.pk}/readers/", {"reader_ids": [hank.pk]}, content_type="application/json"
    )
    assert added.status_code == 400 and "hank was a coordinator until" in added.json()["detail"]
    assert not Assignment.objects.filter(reader=hank).exists()


def test_the_preview_refuses_current_and_former_coordinators_as_creation_does(
    client_for, diego, ana, pi, tnmg
):
    hank = UserFactory(username="hank", roles=[Role.COORDINATOR])
    client_for(diego).post(f"/people/{hank.pk}/roles/", {"roles": ["reader"]})
    make_exam(seed=1)
    for who, says in ((pi, "pi is a coordinator"), (hank, "hank was a coordinator until")):
        body = {
            "name": "Preview",
            "taxonomy_id": tnmg.pk,
            "reader_ids": [ana.pk, who.pk],
            "readers_per_exam": 2,
        }
        answer = client_for(diego).post("/api/v1/batches/preview/", body, content_type="application/json")
        assert answer.status_code == 400, answer.content[:300]
        assert says in str(answer.json())
