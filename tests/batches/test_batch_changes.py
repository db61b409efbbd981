"""Changing a running batch: reassigning, adding exams and readers, closing; each change audited."""

from collections import Counter

import pytest
from django.utils import timezone

from annotations.models import AdjudicationView, Assignment, AuditEvent, ReviewBatch
from annotations.services.batches.lifecycle import BatchDesignError, batch_close
from annotations.services.batches.queues import batch_add_exams, batch_add_readers, batch_reassign
from tests.factories import ExamFactory, UserFactory, batch_for
from tests.reading.helpers import ref

pytestmark = pytest.mark.django_db


def _one_reader_each(name: str, exams: int, readers, coordinator, taxonomy, **design):
    """A running batch of `exams` exams, each read by one of `readers`, seed 3."""
    return batch_for(
        taxonomy,
        coordinator,
        readers,
        ExamFactory.create_batch(exams),
        name=name,
        readers_per_exam=1,
        seed=3,
        **design,
    )


@pytest.fixture
def batch(ana, bruno, diego, tnmg):
    return _one_reader_each("Running", 10, [ana, bruno], diego, tnmg)


# A reassign from a reader still reading: nothing of theirs but unread first reads moves.
STILL = {
    "reader_left": False,
    "drafts_handed_on": 0,
    "drafts_kept": 0,
    "set_aside_untaken": 0,
    "kept_because_seen_elsewhere": 0,
    "retests_too_close": 0,
    "retests_withdrawn": 0,
    "kept_because_retest_follows": 0,
    "kept_back": {
        "exams": 0,
        "by_reason": {"saw_dispute": 0, "read_before": 0, "skipped_after_opening": 0, "saw_suggestion": 0},
        "by_reader": [],
    },
}


def queue(batch, reader):
    return list(Assignment.objects.filter(batch=batch, reader=reader).order_by("position"))


def submit_first(batch, reader, n):
    for assignment in queue(batch, reader)[:n]:
        assignment.status, assignment.submitted_at = Assignment.Status.SUBMITTED, timezone.now()
        assignment.save()


def test_reassigning_moves_only_unread_exams_to_the_end_of_the_other_queue(batch, ana, bruno, diego):
    submit_first(batch, ana, 2)
    ana_exams = [a.exam_id for a in queue(batch, ana)]
    outcome = batch_reassign(batch=batch, from_reader=ana, to_reader=bruno, actor=diego)
    assert outcome == {
        "moved": 3,
        "kept_because_already_assigned": 0,
        "kept_because_dispute_seen": 0,
        **STILL,
    }
    assert [a.exam_id for a in queue(batch, ana)] == ana_exams[:2]
    bruno_queue = queue(batch, bruno)
    assert [a.position for a in bruno_queue] == list(range(10 - 2))
    assert {a.exam_id for a in bruno_queue[-3:]} == set(ana_exams[2:])
    assert AuditEvent.objects.get(action="batch.reassign").after["moved"] == 3


def test_an_exam_the_new_reader_already_has_stays_with_the_old_reader(ana, bruno, diego, tnmg):
    batch = batch_for(tnmg, diego, [ana, bruno], ExamFactory.create_batch(4), name="k2")
    outcome = batch_reassign(batch=batch, from_reader=ana, to_reader=bruno, actor=diego)
    assert outcome == {
        "moved": 0,
        "kept_because_already_assigned": 4,
        "kept_because_dispute_seen": 0,
        **STILL,
    }
    pairs = Counter(Assignment.objects.filter(batch=batch).values_list("reader_id", "exam_id"))
    assert set(pairs.values()) == {1}


def test_added_exams_get_k_readers_at_the_end_of_the_queues_and_loads_stay_within_one(
    batch, ana, bruno, diego
):
    submit_first(batch, ana, 5)
    new = ExamFactory.create_batch(5)
    assert batch_add_exams(batch=batch, exams=new, actor=diego) == 5
    assert batch_add_exams(batch=batch, exams=new, actor=diego) == 0
    loads = Counter(Assignment.objects.filter(batch=batch).values_list("reader_id", flat=True))
    assert sorted(loads.values()) == [7, 8]
    for reader in (ana, bruno):
        positions = [a.position for a in queue(batch, reader)]
        assert positions == list(range(len(positions)))
    assert Assignment.objects.filter(batch=batch, exam__in=new).count() == 5


def test_a_new_reader_takes_unread_exams_until_loads_are_within_one(batch, ana, bruno, diego):
    carol = UserFactory(username="carol", roles=["reader"])
    submit_first(batch, ana, 5)  # ana has read all of hers: only bruno's unread exams can move
    moved = batch_add_readers(batch=batch, readers=[carol], actor=diego).moved
    loads = Counter(Assignment.objects.filter(batch=batch).values_list("reader__username", flat=True))
    # Only bruno's unread exams can move, and only until bruno and carol are within one.
    assert moved == 2
    assert loads == {"ana": 5, "bruno": 3, "carol": 2}
    assert AuditEvent.objects.get(action="batch.add_readers").after["moved"] == 2


def test_a_new_reader_of_an_untouched_batch_evens_out_the_loads(batch, ana, bruno, diego):
    carol = UserFactory(username="carol", roles=["reader"])
    assert batch_add_readers(batch=batch, readers=[carol], actor=diego).moved == 3
    loads = Counter(Assignment.objects.filter(batch=batch).values_list("reader__username", flat=True))
    assert sorted(loads.values()) == [3, 3, 4]


def test_a_closed_batch_cannot_change_and_closing_twice_is_harmless(batch, ana, bruno, diego):
    batch_close(batch=batch, actor=diego)
    batch.refresh_from_db()
    assert batch.status == ReviewBatch.Status.CLOSED and batch.closed_at is not None
    assert batch_close(batch=batch, actor=diego).status == ReviewBatch.Status.CLOSED
    assert AuditEvent.objects.filter(action="batch.close").count() == 1
    with pytest.raises(BatchDesignError, match="is closed"):
        batch_add_exams(batch=batch, exams=ExamFactory.create_batch(1), actor=diego)
    with pytest.raises(BatchDesignError, match="is closed"):
        batch_reassign(batch=batch, from_reader=ana, to_reader=bruno, actor=diego)


def test_only_coordinators_change_batches(batch, ana, bruno):
    for change in (
        lambda: batch_reassign(batch=batch, from_reader=ana, to_reader=bruno, actor=ana),
        lambda: batch_add_exams(batch=batch, exams=[], actor=ana),
        lambda: batch_close(batch=batch, actor=bruno),
    ):
        with pytest.raises(PermissionError):
            change()


def test_a_new_reader_reads_every_gold_exam_and_no_one_loses_theirs(client_for, ana, bruno, diego, tnmg):
    """Gold exams are read by every reader of the batch: a reader added later gets each of them (its
    target grows by one), and rebalancing never moves a gold read away from the reader who holds it."""
    from annotations.models import BatchExam

    exams = ExamFactory.create_batch(8)
    gold = exams[:2]
    batch = batch_for(
        tnmg, diego, [ana, bruno], exams, name="Gold", readers_per_exam=1, seed=3, gold_exams=gold
    )
    carol = UserFactory(username="carol", roles=["reader"])
    response = client_for(diego).post(
        f"/batches/{batch.pk}/add-readers/", {"readers": [carol.pk]}, follow=True
    )
    said = response.content.decode()
    assert "and 2 gold exams given to them" in said
    for exam in gold:
        readers = set(
            Assignment.objects.filter(batch=batch, exam=exam).values_list("reader__username", flat=True)
        )
        assert readers == {"ana", "bruno", "carol"}
        assert BatchExam.objects.get(batch=batch, exam=exam).target_reads == 3
    regular = Assignment.objects.filter(batch=batch).exclude(exam__in=gold)
    assert regular.count() == 6  # each regular exam still read once
    loads = Counter(Assignment.objects.filter(batch=batch).values_list("reader__username", flat=True))
    assert max(loads.values()) - min(loads.values()) <= 1
    assert AuditEvent.objects.get(action="batch.add_readers").after["gold_added"] == 2
    # dave saw the dispute of one gold exam: he is given the other only, and told so.
    dave = UserFactory(username="dave", roles=["reader"])
    AdjudicationView.objects.create(batch=batch, exam=gold[0], adjudicator=dave)
    said = client_for(diego).post(f"/batches/{batch.pk}/add-readers/", {"readers": [dave.pk]}, follow=True)
    assert "and 1 gold exams given to them" in said.content.decode()
    assert set(
        Assignment.objects.filter(batch=batch, reader=dave, exam__in=gold).values_list("exam", flat=True)
    ) == {gold[1].pk}


def test_a_deactivated_readers_unread_exams_can_still_be_moved_from_the_dashboard(
    client_for, batch, ana, bruno, diego
):
    """A reader who left (account deactivated) is offered, marked inactive, as the one whose unread exams
    to move; they are never offered to receive any. Moving a reader's exams to themselves is refused."""
    bruno.is_active = False
    bruno.save(update_fields=["is_active"])
    client = client_for(diego)
    page = client.get(f"/batches/{batch.pk}/").content.decode()
    offered_from = page.split('name="from_reader"', 1)[1].split("</select>", 1)[0]
    offered_to = page.split('name="to_reader"', 1)[1].split("</select>", 1)[0]
    assert "bruno (inactive)" in offered_from and "bruno" not in offered_to
    unread = Assignment.objects.filter(batch=batch, reader=bruno, status="pending").count()
    response = client.post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    assert f"{unread} unread exams moved" in response.content.decode()
    assert not Assignment.objects.filter(batch=batch, reader=bruno, status="pending").exists()

    same = client.post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": ana.pk, "to_reader": ana.pk}, follow=True
    )
    assert "two different readers" in same.content.decode()
    assert AuditEvent.objects.filter(action="batch.reassign").count() == 1


def test_a_reader_whose_role_was_removed_is_marked_as_no_longer_a_reader(
    client_for, batch, ana, bruno, diego
):
    client = client_for(diego)
    assert client.post(f"/people/{bruno.pk}/roles/", {"roles": ["adjudicator"]}).status_code == 302
    page = client.get(f"/batches/{batch.pk}/").content.decode()
    offered_from = page.split('name="from_reader"', 1)[1].split("</select>", 1)[0]
    assert "bruno (no longer a reader)" in offered_from
    table = page.split('id="reader-progress"', 1)[1].split("</table>", 1)[0]
    assert "(left the study)" in table.split("bruno", 1)[1].split("</td>", 1)[0]


def _reader_who_left(ana, bruno, diego, tnmg, leave):
    """A batch with retests in which bruno has read 2 exams, has a draft of a third, and then leaves the
    study (`leave`: deactivated, or the reader role taken away)."""
    from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit

    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        ExamFactory.create_batch(40),
        name="Leaving",
        readers_per_exam=1,
        seed=3,
        retest_fraction=0.2,
    )
    firsts = [a for a in queue(batch, bruno) if a.read_round == 1]
    for assignment in firsts[:2]:
        annotation_submit(actor=bruno, assignment=assignment, labels=[LabelInput("SB")], revision=0)
    draft = firsts[2]
    annotation_save_draft(actor=bruno, assignment=draft, labels=[LabelInput("AF")], revision=0)
    leave(bruno)
    return batch, draft


def _deactivate(user):
    user.is_active = False
    user.save(update_fields=["is_active"])


def _no_longer_a_reader(user):
    user.groups.remove(*user.groups.filter(name="reader"))


@pytest.mark.parametrize("leave", [_deactivate, _no_longer_a_reader], ids=["deactivated", "not-a-reader"])
def test_reassigning_from_a_reader_who_left_hands_on_their_drafts_and_withdraws_their_retests(
    client_for, ana, bruno, diego, tnmg, leave
):
    """A reader who left can finish nothing: their draft is set aside and its exam handed on as a new,
    blank read (the new reader never sees the draft), and their retest re-reads, which measure only them,
    are withdrawn, so that no exam waits for ever for one of them. The page says what happened to each."""
    from annotations.models import Annotation

    batch, draft = _reader_who_left(ana, bruno, diego, tnmg, leave)
    retests = Assignment.objects.filter(batch=batch, reader=bruno, read_round=2).count()
    assert retests > 0
    response = client_for(diego).post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    text = response.content.decode()
    assert "1 draft of a reader who left handed on as a new read" in text, text
    assert f"{retests} retest re-reads withdrawn" in text
    draft.refresh_from_db()
    assert draft.status == Assignment.Status.SKIPPED and "left" in draft.skip_reason
    handed = Assignment.objects.get(replaces=draft)
    assert handed.reader_id == ana.pk and handed.status == Assignment.Status.PENDING
    assert not Annotation.objects.filter(assignment=handed).exists()
    assert Annotation.objects.get(assignment=draft).status == Annotation.Status.DRAFT  # kept, unread
    open_slots = Assignment.objects.filter(batch=batch, reader=bruno, status__in=["pending", "in_progress"])
    assert not open_slots.exists()
    after = AuditEvent.objects.get(action="batch.reassign").after
    assert after["drafts_handed_on"] == 1 and after["retests_withdrawn"] == retests
    again = client_for(diego).post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    assert "0 unread exams moved" in again.content.decode()
    assert Assignment.objects.filter(replaces=draft).count() == 1


def test_a_reader_still_reading_keeps_their_drafts_and_retests_and_is_told_so(
    client_for, ana, bruno, diego, tnmg
):
    batch, draft = _reader_who_left(ana, bruno, diego, tnmg, lambda user: None)
    response = client_for(diego).post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    assert "1 draft stays with bruno, who is still reading" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Assignment.Status.IN_PROGRESS and draft.reader_id == bruno.pk
    assert not Assignment.objects.filter(replaces=draft).exists()


def test_a_reader_who_lost_the_reader_role_is_offered_no_work_in_their_worklist(
    client_for, ana, bruno, diego, tnmg
):
    _reader_who_left(ana, bruno, diego, tnmg, _no_longer_a_reader)
    listed = client_for(bruno).get("/api/v1/worklist/")
    assert listed.status_code == 403 or not listed.json(), listed.content


def test_a_reassign_to_someone_who_cannot_read_says_why(client_for, batch, ana, bruno, diego, carla):
    """The form used to answer "choose both readers" to every wrong choice."""
    gone = UserFactory(username="gone-reader", roles=["reader"])
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    client = client_for(diego)
    for to_reader, said in (
        (gone.pk, "gone-reader is deactivated"),
        (carla.pk, "carla is not a reader"),
        (987654, "no account with id 987654"),
        ("", "choose the reader to hand the exams to"),
    ):
        response = client.post(
            f"/batches/{batch.pk}/reassign/", {"from_reader": ana.pk, "to_reader": to_reader}, follow=True
        )
        assert said in response.content.decode(), to_reader
    assert not AuditEvent.objects.filter(action="batch.reassign").exists()


@pytest.fixture
def retested(ana, bruno, diego, tnmg):
    """40 exams, one reader each, a fifth of each queue re-read later (test-retest)."""
    return _one_reader_each("Retested", 40, [ana, bruno], diego, tnmg, retest_fraction=0.2)


def _retested_exams(batch, reader) -> set[int]:
    return set(
        Assignment.objects.filter(batch=batch, reader=reader, read_round=2).values_list("exam_id", flat=True)
    )


def test_skipping_a_first_read_withdraws_its_retest(client_for, retested, ana):
    """A retest compares a reader's second read with their first: with the first skipped it measures
    nothing, and the reader was still served it (a walk on the production stack: 4 of 4)."""
    exam = sorted(_retested_exams(retested, ana))[0]
    first = Assignment.objects.get(batch=retested, reader=ana, exam_id=exam, read_round=1)
    response = client_for(ana).post(
        f"/api/v1/reading/assignments/{ref(first)}/skip/",
        {"reason": "noisy"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    retest = Assignment.objects.get(batch=retested, reader=ana, exam_id=exam, read_round=2)
    assert retest.status == "skipped" and "first read was skipped" in retest.skip_reason
    assert AuditEvent.objects.filter(action="assignment.skip", after__retest_withdrawn=retest.pk).exists()


def test_a_reader_still_reading_keeps_the_exams_they_re_read_when_their_unread_exams_move(
    client_for, retested, ana, bruno, diego
):
    """Moving a first read away left its retest behind: ana then re-read exams she had never read."""
    kept = _retested_exams(retested, ana)
    response = client_for(diego).post(
        f"/batches/{retested.pk}/reassign/", {"from_reader": ana.pk, "to_reader": bruno.pk}, follow=True
    )
    firsts = set(
        Assignment.objects.filter(batch=retested, reader=ana, read_round=1).values_list("exam_id", flat=True)
    )
    assert kept and kept <= firsts
    assert _retested_exams(retested, ana) == kept
    said = response.content.decode()
    assert f"{len(kept)} exams stay with ana: they re-read them later for test-retest" in said, said
    assert AuditEvent.objects.get(action="batch.reassign").after["kept_because_retest_follows"] == len(kept)


def test_a_reader_added_later_is_never_given_a_first_read_whose_retest_stays_behind(
    retested, ana, bruno, diego
):
    carol = UserFactory(username="carol", roles=["reader"])
    before = {r: _retested_exams(retested, r) for r in (ana, bruno)}
    batch_add_readers(batch=retested, readers=[carol], actor=diego)
    for reader, exams in before.items():
        firsts = set(
            Assignment.objects.filter(batch=retested, reader=reader, read_round=1).values_list(
                "exam_id", flat=True
            )
        )
        assert exams <= firsts, reader


def test_exams_kept_because_the_receiving_reader_already_reads_them_are_said_so(
    client_for, ana, bruno, diego, tnmg
):
    """Both readers read every exam: none of bruno's can go to ana, and the dashboard says why rather
    than '0 unread exams moved; 8 kept.'"""
    from tests.reading.helpers import shared_batch

    both = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=4)
    response = client_for(diego).post(
        f"/batches/{both.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    text = response.content.decode()
    assert "0 unread exams moved; 4 kept." in text
    assert "4 exams stay with bruno: ana already reads them in this batch." in text


def _between(batch, reader, retest) -> int:
    """The reader's other exams, read or still to read, between a retest and its first read."""
    first = Assignment.objects.get(batch=batch, reader=reader, exam_id=retest.exam_id, read_round=1)
    return (
        Assignment.objects.filter(
            batch=batch, reader=reader, position__gt=first.position, position__lt=retest.position
        )
        .exclude(status="skipped")
        .count()
    )


def test_a_reassign_never_leaves_a_retest_right_after_its_first_read(client_for, ana, bruno, diego, tnmg):
    """bruno has read the first 8 exams of his queue; moving his unread exams to ana would leave his
    retests right after the first reads he just made, remembered. Those are withdrawn, and said so."""
    from annotations.services.reading import LabelInput, annotation_submit

    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        ExamFactory.create_batch(40),
        name="Gap",
        readers_per_exam=1,
        retest_fraction=0.2,
        seed=5,
    )
    for slot in Assignment.objects.filter(batch=batch, reader=bruno).order_by("position")[:8]:
        if slot.read_round == 1:
            annotation_submit(actor=bruno, assignment=slot, labels=[LabelInput("SB")], revision=0)
    retests = list(Assignment.objects.filter(batch=batch, reader=bruno, read_round=2, status="pending"))
    assert retests and all(_between(batch, bruno, r) >= 10 for r in retests)
    response = client_for(diego).post(
        f"/batches/{batch.pk}/reassign/", {"from_reader": bruno.pk, "to_reader": ana.pk}, follow=True
    )
    left = list(Assignment.objects.filter(batch=batch, reader=bruno, read_round=2, status="pending"))
    assert all(_between(batch, bruno, r) >= 10 for r in left), [_between(batch, bruno, r) for r in left]
    withdrawn = Assignment.objects.filter(batch=batch, reader=bruno, read_round=2, status="skipped").count()
    assert withdrawn > 0
    assert f"{withdrawn} retest re-reads withdrawn" in response.content.decode()
    progress = client_for(diego).get(f"/api/v1/batches/{batch.pk}/progress/").json()
    assert progress["skipped"] == 0  # nobody's skip
