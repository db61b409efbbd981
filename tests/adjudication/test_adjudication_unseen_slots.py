"""An adjudicator is kept away from exams they know, not from every exam that once stood in their name.

A slot never opened in a batch that closed, or one the system set aside before its reader opened it (the
reader was made adjudicator only), is an exam that person never saw: the batch designer already lets them
read it again, and the adjudication queue must let them decide it. A slot of a running batch still waiting
to be read keeps them away, since deciding would show them the others' labels before their own read.
"""

import pytest

from annotations.models import Assignment
from annotations.selectors.batches.closures import CLOSED_WITHOUT_READ
from tests.adjudication.test_adjudication import disputed, read, secret_readers  # noqa: F401
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.helpers import ref

pytestmark = pytest.mark.django_db


def _queue(client_for, person) -> list[tuple[int, int]]:
    items = client_for(person).get("/api/v1/adjudication/").json()
    return [(item["batch_id"], item["exam_id"]) for item in items]


def _stuck(client_for, diego, batch) -> bool:
    return 'id="stuck-disputes"' in client_for(diego).get(f"/batches/{batch.pk}/").content.decode()


def test_a_slot_never_opened_in_a_closed_batch_does_not_keep_its_reader_from_adjudicating(
    client_for,
    diego,
    tnmg,
    disputed,  # noqa: F811
):
    batch, exam = disputed
    rita = UserFactory(username="rita", roles=["reader", "adjudicator"])
    elsewhere = batch_for(tnmg, diego, [rita], [exam], name="Closed early")
    assert _queue(client_for, rita) == []  # she may still read it: no one's labels before her own
    queue_page = client_for(rita).get("/adjudication/").content.decode()
    assert "Exams you hold a read of in any batch, made or still to make, are never listed" in queue_page
    assert _stuck(client_for, diego, batch)
    assert client_for(diego).post(f"/batches/{elsewhere.pk}/close/").status_code == 302
    assert Assignment.objects.get(batch=elsewhere, reader=rita).status == Assignment.Status.PENDING
    assert _queue(client_for, rita) == [(batch.pk, exam.pk)]
    assert not _stuck(client_for, diego, batch)
    response = client_for(rita).post(
        f"/adjudication/{batch.pk}/{exam.pk}/",
        {"version": "0", "decision-1dAVb": "absent", "rationale": "PR 180"},
    )
    assert response.status_code == 302


def test_a_slot_set_aside_unopened_when_its_reader_became_adjudicator_only_does_not_keep_them_away(
    client_for,
    ana,
    diego,
    tnmg,
    disputed,  # noqa: F811
):
    batch, exam = disputed
    rita = UserFactory(username="rita", roles=["reader", "adjudicator"])
    other = make_exam(heart_rate=88.0, seed=3)
    elsewhere = batch_for(tnmg, diego, [rita, ana], [exam, other], name="Both read both")
    read(rita, elsewhere, other, ["SB"])  # she knows this one, and not the tied exam
    coordinator = client_for(diego)
    assert coordinator.post(f"/people/{rita.pk}/roles/", {"roles": ["adjudicator"]}).status_code == 302
    response = coordinator.post(
        f"/batches/{elsewhere.pk}/reassign/", {"from_reader": rita.pk, "to_reader": ana.pk}, follow=True
    )
    assert "set aside" in response.content.decode()
    slot = Assignment.objects.get(batch=elsewhere, reader=rita, exam=exam)
    assert slot.status == Assignment.Status.SKIPPED and slot.started_at is None
    assert _queue(client_for, rita) == [(batch.pk, exam.pk)]
    assert not _stuck(client_for, diego, batch)


def test_a_slot_still_to_read_in_a_running_batch_keeps_its_reader_away(
    client_for,
    diego,
    tnmg,
    disputed,  # noqa: F811
):
    batch, exam = disputed
    rita = UserFactory(username="rita", roles=["reader", "adjudicator"])
    batch_for(tnmg, diego, [rita], [exam], name="Running")
    assert _queue(client_for, rita) == []
    assert client_for(rita).get(f"/adjudication/{batch.pk}/{exam.pk}/").status_code == 404


@pytest.mark.parametrize("reason", CLOSED_WITHOUT_READ)
def test_a_reader_whose_skip_reason_copies_a_system_closure_still_holds_the_exam(
    client_for,
    diego,
    tnmg,
    disputed,  # noqa: F811
    reason,
):
    """The system's closures are told from a reader's skip by who closed the slot, not by its words: a
    reader who types a set-aside reason still skipped the exam, counts as a skip and may not adjudicate it."""
    batch, exam = disputed
    rita = UserFactory(username="rita", roles=["reader", "adjudicator"])
    elsewhere = batch_for(tnmg, diego, [rita], [exam], name="Rita reads it")
    slot = Assignment.objects.get(batch=elsewhere, reader=rita)
    skipped = client_for(rita).post(
        f"/api/v1/reading/assignments/{ref(slot)}/skip/", {"reason": reason}, content_type="application/json"
    )
    assert skipped.status_code == 200
    assert _queue(client_for, rita) == []
    assert client_for(rita).get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/").status_code == 404
    progress = client_for(diego).get(f"/api/v1/batches/{elsewhere.pk}/progress/").json()
    assert progress["skipped"] == 1
    assert [r["skipped"] for r in progress["readers"]] == [1]
