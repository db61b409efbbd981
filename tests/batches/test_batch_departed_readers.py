"""A reader who leaves (deactivated on the People page, or no longer given the reader role) keeps the
reads they submitted, but is never handed a new one by the batch: not an escalation's extra read, not
the exams a coordinator adds to the running batch, not the unread exams moved when readers are added.
An exam that has nobody left to add goes to adjudication instead, as when no reader is spare."""

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db


def _leave(client, person, how: str) -> None:
    if how == "deactivated":
        assert client.post(f"/people/{person.pk}/active/", {"active": "0"}).status_code == 302
    elif how == "made-coordinator":  # still a reader by role, but one who sees every reader's labels
        roles = {"roles": ["reader", "coordinator"]}
        assert client.post(f"/people/{person.pk}/roles/", roles).status_code == 302
        assert set(person.groups.values_list("name", flat=True)) == {"reader", "coordinator"}
    elif how == "coordinator-for-a-while":  # a reader again, who saw every reader's labels meanwhile
        for roles in (["reader", "coordinator"], ["reader"]):
            assert client.post(f"/people/{person.pk}/roles/", {"roles": roles}).status_code == 302
        assert set(person.groups.values_list("name", flat=True)) == {"reader"}
    else:
        assert client.post(f"/people/{person.pk}/roles/", {"roles": ["adjudicator"]}).status_code == 302


@pytest.mark.parametrize(
    "how", ["deactivated", "no-longer-a-reader", "made-coordinator", "coordinator-for-a-while"]
)
def test_an_escalation_never_hands_the_extra_read_to_a_reader_who_left(
    client_for, ana, bruno, diego, tnmg, how
):
    jack = UserFactory(username="jack", roles=["reader"])
    exam = ExamFactory()
    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno, jack],
        [exam],
        name="E",
        readers_per_exam=2,
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
    batch = batch_for(tnmg, diego, [ana, bruno, jack], first, name="Growing", readers_per_exam=2)
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
    batch = batch_for(tnmg, diego, [ana, bruno, jack], exams, name="Moving", readers_per_exam=1)
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


def _dashboard(client, batch) -> str:
    return client.get(f"/batches/{batch.pk}/").content.decode()


def test_a_reader_who_left_with_exams_nobody_else_may_take_does_not_hold_the_batch_open(
    client_for, ana, bruno, diego, tnmg
):
    """Every reader reads every exam (k=3 of 3): when jack leaves, no reader of the batch may take his
    unread exams. Reassigning them sets them aside for handing on, instead of leaving them with jack for
    ever; a reader added later takes them, and the batch completes."""
    jack = UserFactory(username="jack", roles=["reader"])
    carol = UserFactory(username="carol", roles=["reader"])
    exams = ExamFactory.create_batch(2)
    batch = batch_for(tnmg, diego, [ana, bruno, jack], exams, name="All read all")
    for reader in (ana, bruno):
        for slot in Assignment.objects.filter(batch=batch, reader=reader):
            read(reader, slot, ["SB"])
    client = client_for(diego)
    _leave(client, jack, "deactivated")

    page = _dashboard(client, batch)
    assert 'id="readers-left"' in page and "jack" in page.split('id="readers-left"')[1].split("</p>")[0]
    progress = client.get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert [r["left"] for r in progress["readers"]] == [False, False, True]  # ana, bruno, jack
    assert progress["waiting_on_departed"] == [{"username": "jack", "unread": 2}]  # as the page says

    response = client.post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": jack.pk, "to_reader": ana.pk}, follow=True
    )
    said = response.content.decode()
    assert "2 unread exams of jack, who left the study, set aside" in said, said
    assert not Assignment.objects.filter(batch=batch, reader=jack, status=Assignment.Status.PENDING).exists()
    page = _dashboard(client, batch)
    assert 'id="readers-left"' not in page  # nothing waits on jack any more
    skips = client.get(f"/api/v1/batches/{batch.pk}/progress/").json()["skips"]
    assert [(s["reader"], s["candidates"]) for s in skips] == [("jack", []), ("jack", [])]
    assert all("left the study" in s["reason"] for s in skips)
    assert progress_of(client, batch)["coverage"]["skipped"] == 0  # nobody's skip: jack did not skip them
    states = {row["state"] for row in client.get(f"/batches/{batch.pk}/").context["exams"]["rows"]}
    assert states == {"short"}  # waiting on the coordinator, not on a reader

    assert client.post(f"/batches/{batch.pk}/add-readers/", {"readers": [carol.pk]}).status_code == 302
    skips = progress_of(client, batch)["skips"]
    assert [[c["username"] for c in s["candidates"]] for s in skips] == [["carol"], ["carol"]]
    for skip in skips:
        url = f"/api/v1/batches/{batch.pk}/skips/{skip['assignment_id']}/hand-on/"
        assert client.post(url, {"reader_id": carol.pk}, content_type="application/json").status_code == 201
    for slot in Assignment.objects.filter(batch=batch, reader=carol):
        read(carol, slot, ["SB"])
    coverage = progress_of(client, batch)["coverage"]
    assert (coverage["exams_complete"], coverage["exams"], coverage["skipped"]) == (2, 2, 0)


def progress_of(client, batch) -> dict:
    return client.get(f"/api/v1/batches/{batch.pk}/progress/").json()


def test_a_reader_still_reading_keeps_the_exams_the_new_reader_already_reads(
    client_for, ana, bruno, diego, tnmg
):
    """The set-aside is for those who left: a reader still reading keeps them, as before."""
    exams = ExamFactory.create_batch(2)
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Both")
    client = client_for(diego)
    response = client.post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    assert "2 exams stay with bruno" in response.content.decode()
    assert Assignment.objects.filter(batch=batch, reader=bruno, status=Assignment.Status.PENDING).count() == 2
    assert 'id="readers-left"' not in _dashboard(client, batch)
