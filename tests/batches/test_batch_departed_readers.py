"""A reader who leaves (deactivated on the People page, or no longer given the reader role) keeps the
reads they submitted, but is never handed a new one by the batch: not an escalation's extra read, not
the exams a coordinator adds to the running batch, not the unread exams moved when readers are added.
An exam that has nobody left to add goes to adjudication instead, as when no reader is spare."""

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam
from annotations.services.batches.lifecycle import batch_create
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, ExamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _leave(client, person, how: str) -> None:
    if how == "deactivated":
        assert client.post(f"/people/{person.pk}/active/", {"active": "0"}).status_code == 302
    else:
        assert client.post(f"/people/{person.pk}/roles/", {"roles": ["adjudicator"]}).status_code == 302


@pytest.mark.parametrize("how", ["deactivated", "no-longer-a-reader"])
def test_an_escalation_never_hands_the_extra_read_to_a_reader_who_left(
    client_for, ana, bruno, diego, tnmg, how
):
    jack = UserFactory(username="jack", roles=["reader"])
    exam = ExamFactory()
    batch = batch_create(
        name="E",
        taxonomy=tnmg,
        exams=[exam],
        readers=[ana, bruno, jack],
        readers_per_exam=2,
        actor=diego,
        escalation={"mode": "add_reader", "cap": 1},
        seed=3,
    )
    holders = list(Assignment.objects.filter(batch=batch).order_by("reader__username"))
    spare = ({ana, bruno, jack} - {a.reader for a in holders}).pop()
    _leave(client_for(diego), spare, how)
    read(holders[0].reader, holders[0], ["SB"])
    read(holders[1].reader, holders[1], ["ST"])
    assert not Assignment.objects.filter(batch=batch, reader=spare).exists()
    member = BatchExam.objects.get(batch=batch, exam=exam)
    assert (member.target_reads, member.needs_adjudication) == (2, True)
    assert not AuditEvent.objects.filter(action="batch.escalate_add_reader").exists()


def test_exams_added_to_a_running_batch_go_to_the_readers_still_reading(client_for, ana, bruno, diego, tnmg):
    jack = UserFactory(username="jack", roles=["reader"])
    first = ExamFactory.create_batch(3)
    batch = batch_create(
        name="Growing",
        taxonomy=tnmg,
        exams=first,
        readers=[ana, bruno, jack],
        readers_per_exam=2,
        actor=diego,
    )
    client = client_for(diego)
    _leave(client, jack, "deactivated")
    jacks_before = Assignment.objects.filter(batch=batch, reader=jack).count()
    more = ExamFactory.create_batch(4, dataset=DatasetFactory(name="later"))
    response = client.post(
        f"/api/v1/batches/{batch.pk}/exams/",
        {"criteria": {"datasets": ["later"]}},
        content_type="application/json",
    )
    assert response.status_code in (200, 201), response.content
    assert Assignment.objects.filter(batch=batch, reader=jack).count() == jacks_before
    for exam in more:
        assert set(
            Assignment.objects.filter(batch=batch, exam=exam).values_list("reader__username", flat=True)
        ) == {
            "ana",
            "bruno",
        }


def test_adding_a_reader_moves_no_unread_exam_to_one_who_left(client_for, ana, bruno, diego, tnmg):
    jack = UserFactory(username="jack", roles=["reader"])
    carol = UserFactory(username="carol", roles=["reader"])
    exams = ExamFactory.create_batch(12)
    batch = batch_create(
        name="Moving", taxonomy=tnmg, exams=exams, readers=[ana, bruno, jack], readers_per_exam=1, actor=diego
    )
    client = client_for(diego)
    _leave(client, jack, "deactivated")
    # jack's unread exams go to bruno first (the coordinator's reassignment), leaving jack the lightest.
    assert (
        client.post(
            f"/batches/{batch.pk}/reassign/", {"from_reader": jack.pk, "to_reader": bruno.pk}
        ).status_code
        == 302
    )
    assert not Assignment.objects.filter(batch=batch, reader=jack).exists()
    response = client.post(f"/batches/{batch.pk}/add-readers/", {"readers": [carol.pk]})
    assert response.status_code == 302
    assert not Assignment.objects.filter(batch=batch, reader=jack).exists()
    assert Assignment.objects.filter(batch=batch, reader=carol).count() >= 3
