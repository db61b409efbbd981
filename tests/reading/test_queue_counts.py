"""A reader's progress figures, through the API they read them from: the reading context's queue line and
the worklist. Each counts the reader's own slots of each batch by status, whatever their other batches and
the other readers of the same batch hold."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from annotations.models import Assignment
from annotations.services.batches.lifecycle import batch_close
from tests.factories import batch_for
from tests.reading.helpers import queue, ref

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


def _set(assignment: Assignment, status: str) -> None:
    now = timezone.now()
    stamps = {"submitted_at": now} if status == Assignment.Status.SUBMITTED else {}
    skipped = {"skipped_at": now, "skip_code": "other", "skip_reason": "noise"}
    stamps |= skipped if status == Assignment.Status.SKIPPED else {}
    Assignment.objects.filter(pk=assignment.pk).update(status=status, **stamps)


@pytest.fixture
def study(ana, bruno, diego, tnmg):
    """ana reads 6 exams of "Main" (2 submitted, 1 skipped, 1 draft, 2 unread) and 3 of "Other" (1 submitted);
    bruno has read everything of "Main"; "Old" is closed."""
    main = batch_for(tnmg, diego, [ana, bruno], 6, name="Main", seed=9, due_date=datetime.date(2031, 5, 1))
    other = batch_for(tnmg, diego, [ana], 3, name="Other", seed=9, due_date=datetime.date(2030, 1, 1))
    old = batch_for(tnmg, diego, [ana], 2, name="Old", seed=9)
    mine = queue(main, ana)
    for assignment, status in zip(
        mine[:4],
        (Assignment.Status.SUBMITTED, Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED, "in_progress"),
        strict=True,
    ):
        _set(assignment, status)
    for assignment in queue(main, bruno):
        _set(assignment, Assignment.Status.SUBMITTED)
    _set(queue(other, ana)[0], Assignment.Status.SUBMITTED)
    batch_close(batch=old, actor=diego)
    return {"main": main, "other": other, "old": old, "mine": mine}


def test_the_queue_line_counts_the_readers_own_slots_of_the_batch(client_for, ana, study):
    client = client_for(ana)
    unread = study["mine"][4]
    answer = client.get(f"{API}/{ref(unread)}/").json()["assignment"]["queue"]
    assert answer == {"total": 6, "open": 3}  # a draft and two unread; bruno's and "Other"'s not counted


def test_a_prefetch_counts_the_exam_being_left_as_done_only_when_it_is_an_open_one_of_the_batch(
    client_for, ana, bruno, study
):
    client = client_for(ana)
    draft, unread, last = study["mine"][3], study["mine"][4], study["mine"][5]
    other_open = queue(study["other"], ana)[1]

    def ahead(coming_from: int) -> dict:
        return client.get(f"{API}/{ref(last)}/?prefetch=1&from={ref(coming_from)}").json()["assignment"][
            "queue"
        ]

    assert ahead(unread.pk) == {"total": 6, "open": 2}
    assert ahead(draft.pk) == {"total": 6, "open": 2}
    assert ahead(study["mine"][0].pk) == {"total": 6, "open": 3}  # already submitted
    assert ahead(other_open.pk) == {"total": 6, "open": 3}  # another batch's exam
    theirs = queue(study["main"], bruno)[5]
    _set(theirs, Assignment.Status.PENDING)
    assert ahead(theirs.pk) == {"total": 6, "open": 3}  # another reader's open exam of the same batch


def test_the_worklist_gives_each_active_batch_its_figures_soonest_due_first(client_for, ana, bruno, study):
    entries = client_for(ana).get("/api/v1/worklist/").json()
    figures = [
        (e["batch_name"], e["total"], e["done"], e["drafts"], e["skipped"], e["remaining"]) for e in entries
    ]
    assert figures == [("Other", 3, 1, 0, 0, 2), ("Main", 6, 2, 1, 1, 3)]  # "Old" is closed
    assert [e["batch_name"] for e in client_for(bruno).get("/api/v1/worklist/").json()] == ["Main"]
