"""A running batch changed through the API alone, as a research engineer scripting a study does: close it,
add readers, hand one reader's unread exams to another. Each answers what the dashboard's buttons say,
refuses bad input with a clear 4xx that changes nothing, and is audited."""

from collections import Counter

import pytest

from annotations.models import Assignment, AuditEvent, ReviewBatch
from tests.factories import ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(ana, bruno, diego, tnmg):
    return batch_for(
        tnmg, diego, [ana, bruno], ExamFactory.create_batch(10), name="Scripted", readers_per_exam=1, seed=3
    )


def _slots() -> list[tuple]:
    return sorted(Assignment.objects.values_list("pk", "reader_id", "position", "status"))


def _next_exam(client) -> str | None:
    """The reference of the reader's next exam, None when their queue has none."""
    answer = client.get("/api/v1/reading/next/")
    assert answer.status_code == 200, answer.content
    return answer.json()["next_assignment_id"]


def test_closing_a_batch_through_the_api_stops_its_queue_and_says_when(client_for, batch, ana, diego):
    assert _next_exam(client_for(ana)) is not None
    answer = client_for(diego).post(f"/api/v1/batches/{batch.pk}/close/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    batch.refresh_from_db()
    assert body["id"] == batch.pk and body["status"] == "closed" and body["closed_at"]
    assert batch.status == ReviewBatch.Status.CLOSED
    assert _next_exam(client_for(ana)) is None
    event = AuditEvent.objects.get(action="batch.close")
    assert event.after == {"status": "closed", "unread_left": 10}
    again = client_for(diego).post(f"/api/v1/batches/{batch.pk}/close/")
    assert again.status_code == 200 and again.json()["closed_at"] == body["closed_at"]
    assert AuditEvent.objects.filter(action="batch.close").count() == 1


@pytest.mark.parametrize("route", ["close/", "readers/", "reassign/"])
def test_only_a_coordinator_changes_a_batch_and_an_unknown_one_is_404(
    client_for, batch, ana, carla, diego, route
):
    before = _slots()
    for person in (ana, carla):
        assert client_for(person).post(f"/api/v1/batches/{batch.pk}/{route}", {}).status_code == 403
    assert client_for(diego).post(f"/api/v1/batches/{batch.pk + 999}/{route}", {}).status_code == 404
    assert _slots() == before
    assert not AuditEvent.objects.filter(action__in=["batch.close", "batch.add_readers", "batch.reassign"])


def test_readers_added_through_the_api_take_unread_exams_until_loads_are_even(client_for, batch, diego):
    carol = UserFactory(username="carol", roles=["reader"])
    dave = UserFactory(username="dave", roles=["reader"])
    answer = client_for(diego).post(
        f"/api/v1/batches/{batch.pk}/readers/",
        {"reader_ids": [carol.pk, dave.pk]},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["readers"] == ["carol", "dave"] and body["gold_added"] == 0
    loads = Counter(Assignment.objects.filter(batch=batch).values_list("reader__username", flat=True))
    assert set(loads) == {"ana", "bruno", "carol", "dave"} and max(loads.values()) - min(loads.values()) <= 1
    assert body["moved"] == loads["carol"] + loads["dave"] == 4
    assert _next_exam(client_for(carol)) is not None
    assert AuditEvent.objects.get(action="batch.add_readers").after["readers"] == ["carol", "dave"]


def test_adding_anyone_but_an_active_reader_outside_the_batch_is_400_naming_each(
    client_for, batch, ana, carla, diego
):
    gone = UserFactory(username="gone", roles=["reader"])
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    fine = UserFactory(username="fine", roles=["reader"])
    chief = UserFactory(username="chief", roles=["reader", "coordinator"])
    before = _slots()
    answer = client_for(diego).post(
        f"/api/v1/batches/{batch.pk}/readers/",
        {"reader_ids": [fine.pk, ana.pk, carla.pk, gone.pk, chief.pk, 987654]},
        content_type="application/json",
    )
    assert answer.status_code == 400
    said = answer.json()["detail"]
    for part in (
        "ana already reads this batch",
        "carla is not a reader",
        "gone is deactivated",
        "chief is a coordinator",
        "987654",
    ):
        assert part in said, said
    assert "fine" not in said
    for body in ({}, {"reader_ids": []}, {"reader_ids": ["x"]}, {"readers": [fine.pk]}):
        refused = client_for(diego).post(
            f"/api/v1/batches/{batch.pk}/readers/", body, content_type="application/json"
        )
        assert refused.status_code == 400, (body, refused.content)
    assert _slots() == before
    assert not AuditEvent.objects.filter(action="batch.add_readers").exists()


def test_a_closed_batch_takes_no_reader_and_moves_no_exam(client_for, batch, ana, bruno, diego):
    client_for(diego).post(f"/api/v1/batches/{batch.pk}/close/")
    carol = UserFactory(username="carol", roles=["reader"])
    before = _slots()
    added = client_for(diego).post(
        f"/api/v1/batches/{batch.pk}/readers/", {"reader_ids": [carol.pk]}, content_type="application/json"
    )
    moved = client_for(diego).post(
        f"/api/v1/batches/{batch.pk}/reassign/",
        {"from_reader_id": bruno.pk, "to_reader_id": carol.pk},
        content_type="application/json",
    )
    assert (added.status_code, moved.status_code) == (409, 409), (added.content, moved.content)
    assert "closed" in added.json()["detail"] and "closed" in moved.json()["detail"]
    assert _slots() == before


def test_reassigning_through_the_api_moves_the_unread_exams_and_counts_them(
    client_for, batch, ana, bruno, diego
):
    carol = UserFactory(username="carol", roles=["reader"])
    unread = Assignment.objects.filter(batch=batch, reader=bruno, status="pending").count()
    answer = client_for(diego).post(
        f"/api/v1/batches/{batch.pk}/reassign/",
        {"from_reader_id": bruno.pk, "to_reader_id": carol.pk},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["moved"] == unread == 5
    assert body["reader_left"] is False and body["kept_because_already_assigned"] == 0
    assert not Assignment.objects.filter(batch=batch, reader=bruno, status="pending").exists()
    assert Assignment.objects.filter(batch=batch, reader=carol).count() == 5
    assert _next_exam(client_for(bruno)) is None and _next_exam(client_for(carol)) is not None
    assert AuditEvent.objects.get(action="batch.reassign").after["moved"] == 5


def test_a_reassign_between_wrong_accounts_is_400_saying_why(client_for, batch, ana, bruno, carla, diego):
    outsider = UserFactory(username="outsider", roles=["reader"])
    before = _slots()
    cases = [
        ({"from_reader_id": ana.pk, "to_reader_id": ana.pk}, "two different readers"),
        ({"from_reader_id": outsider.pk, "to_reader_id": ana.pk}, "outsider does not read this batch"),
        ({"from_reader_id": bruno.pk, "to_reader_id": carla.pk}, "carla is not a reader"),
        ({"from_reader_id": 987654, "to_reader_id": ana.pk}, "no account with id 987654"),
        ({"from_reader_id": bruno.pk}, "to_reader_id"),
        ({"from_reader": bruno.pk, "to_reader": ana.pk}, "from_reader"),
    ]
    for body, said in cases:
        answer = client_for(diego).post(
            f"/api/v1/batches/{batch.pk}/reassign/", body, content_type="application/json"
        )
        assert answer.status_code == 400, (body, answer.content)
        assert said in answer.content.decode(), (body, answer.content)
    assert _slots() == before
    assert not AuditEvent.objects.filter(action="batch.reassign").exists()


def test_the_batch_exam_list_says_which_are_gold_page_by_page_to_coordinators_only(
    client_for, ana, bruno, diego, tnmg
):
    exams = ExamFactory.create_batch(7)
    gold = exams[:2]
    batch = batch_for(
        tnmg, diego, [ana, bruno], exams, name="Gold listed", readers_per_exam=1, seed=3, gold_exams=gold
    )
    client = client_for(diego)
    rows, after, pages = [], "", 0
    while True:
        answer = client.get(f"/api/v1/batches/{batch.pk}/exams/?page_size=3&after={after}")
        assert answer.status_code == 200, answer.content
        page = answer.json()
        rows += page["rows"]
        pages += 1
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert pages == 3 and len(rows) == 7 and len({r["exam_id"] for r in rows}) == 7
    assert {r["exam_id"] for r in rows if r["is_gold"]} == {e.pk for e in gold}
    targets = {r["exam_id"]: r["target"] for r in rows}
    assert all(targets[e.pk] == 2 for e in gold)  # every reader reads a gold exam
    assert all(r["state"] == "reading" and r["submitted"] == 0 for r in rows)
    reading = client.get(f"/api/v1/batches/{batch.pk}/exams/?status=reading").json()
    assert len(reading["rows"]) == 7 and reading["state"] == "reading"
    for query in ("status=done", "page_size=0", "page_size=201", "page_size=x", "after=-1", "after=²"):
        refused = client.get(f"/api/v1/batches/{batch.pk}/exams/?{query}")
        assert refused.status_code == 400, (query, refused.content)
    # Which exams are gold is the coordinator's to know: a reader who knew would read those more carefully.
    for person in (ana, bruno):
        assert client_for(person).get(f"/api/v1/batches/{batch.pk}/exams/").status_code == 403
