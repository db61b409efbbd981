"""Escalation: when an exam's reads disagree, one more reader is added (up to a cap) or it is adjudicated."""

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.factories import ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db


def read(reader, assignment, codes):
    draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    annotation_submit(
        actor=reader, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=draft.revision
    )


def make(diego, tnmg, readers, mode, cap=1):
    exam = ExamFactory()
    batch = batch_for(
        tnmg, diego, readers, [exam], name="E", readers_per_exam=2, escalation={"mode": mode, "cap": cap}
    )
    return batch, exam


def slot(batch, reader):
    return Assignment.objects.get(batch=batch, reader=reader)


def test_disagreeing_reads_bring_in_one_more_reader_up_to_the_cap(ana, bruno, diego, tnmg):
    carol = UserFactory(username="carol", roles=["reader"])
    dave = UserFactory(username="dave", roles=["reader"])
    batch, exam = make(diego, tnmg, [ana, bruno, carol, dave], "add_reader", cap=1)
    first, second = Assignment.objects.filter(batch=batch).order_by("reader__username")
    read(first.reader, first, ["SB"])
    assert Assignment.objects.filter(batch=batch).count() == 2  # nothing to compare yet
    read(second.reader, second, ["ST"])
    third = Assignment.objects.filter(batch=batch).exclude(pk__in=[first.pk, second.pk]).get()
    assert third.reader not in (first.reader, second.reader) and third.status == "pending"
    assert BatchExam.objects.get(batch=batch, exam=exam).target_reads == 3
    read(third.reader, third, ["NORM"])  # still disputed, but the cap of one extra reader is reached
    member = BatchExam.objects.get(batch=batch, exam=exam)
    assert Assignment.objects.filter(batch=batch).count() == 3
    assert member.needs_adjudication is True
    assert AuditEvent.objects.filter(action="batch.escalate_add_reader").count() == 1
    assert AuditEvent.objects.filter(action="batch.escalate_adjudicate").count() == 1


def test_agreeing_reads_are_not_escalated(ana, bruno, diego, tnmg):
    batch, exam = make(diego, tnmg, [ana, bruno], "adjudicate")
    read(ana, slot(batch, ana), ["SB", "LAD"])
    read(bruno, slot(batch, bruno), ["LAD", "SB"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is False
    assert not AuditEvent.objects.filter(action__startswith="batch.escalate").exists()


def test_in_adjudicate_mode_a_disputed_exam_goes_straight_to_adjudication(ana, bruno, diego, tnmg):
    batch, exam = make(diego, tnmg, [ana, bruno], "adjudicate")
    read(ana, slot(batch, ana), ["SB"])
    read(bruno, slot(batch, bruno), ["SB", "1dAVb"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is True
    assert Assignment.objects.filter(batch=batch).count() == 2


def test_with_no_reader_left_to_add_the_exam_goes_to_adjudication(ana, bruno, diego, tnmg):
    batch, exam = make(diego, tnmg, [ana, bruno], "add_reader", cap=2)
    read(ana, slot(batch, ana), ["SB"])
    read(bruno, slot(batch, bruno), ["ST"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is True


def test_a_batch_without_an_escalation_rule_never_escalates(ana, bruno, diego, tnmg):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam], name="Plain")
    read(ana, slot(batch, ana), ["SB"])
    read(bruno, slot(batch, bruno), ["ST"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is False


def test_a_tie_breaking_reader_settles_a_two_to_one_split_by_majority(
    ana, bruno, carla, diego, tnmg, client_for
):
    """The two-reader protocol with a third reader for disagreements (add_reader_majority): the third read
    decides by majority and the exam is not sent to the adjudicator, whose queue stays empty."""
    from annotations.models import Consensus, DisputedLabel
    from annotations.services.agreement.compute import batch_agreement_compute

    carol = UserFactory(username="carol", roles=["reader"])
    batch, exam = make(diego, tnmg, [ana, bruno, carol], "add_reader_majority", cap=1)
    first, second = Assignment.objects.filter(batch=batch).order_by("reader__username")
    read(first.reader, first, ["SB", "1dAVb"])
    read(second.reader, second, ["SB"])
    third = Assignment.objects.filter(batch=batch).exclude(pk__in=[first.pk, second.pk]).get()
    read(third.reader, third, ["SB", "1dAVb"])
    member = BatchExam.objects.get(batch=batch, exam=exam)
    assert (member.target_reads, member.needs_adjudication) == (3, False)
    assert not AuditEvent.objects.filter(action="batch.escalate_adjudicate").exists()
    batch_agreement_compute(batch.pk)
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb")
    assert (row.value, row.method, row.positive_votes, row.total_votes) == (True, "majority", 2, 3)
    assert not DisputedLabel.objects.filter(batch=batch).exists()
    assert client_for(carla).get("/api/v1/adjudication/").json() == []


def test_with_no_reader_left_the_majority_rule_still_sends_its_ties_to_the_adjudicator(
    ana, bruno, diego, tnmg
):
    from annotations.models import DisputedLabel
    from annotations.services.agreement.compute import batch_agreement_compute

    batch, exam = make(diego, tnmg, [ana, bruno], "add_reader_majority", cap=1)
    read(ana, slot(batch, ana), ["SB"])
    read(bruno, slot(batch, bruno), ["ST"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is False
    batch_agreement_compute(batch.pk)
    disputed = DisputedLabel.objects.filter(batch=batch).values_list("diagnostic_class__code", "reason")
    assert sorted(disputed) == [("SB", "tie"), ("ST", "tie")]


def test_the_designer_offers_the_majority_after_the_extra_reader_and_warns_when_no_reader_is_spare(
    ana, bruno, diego, tnmg, client_for
):
    client = client_for(diego)
    from tests.factories import DatasetFactory

    dataset = DatasetFactory(name="tiebreak")
    exams = [ExamFactory(dataset=dataset) for _ in range(4)]
    spec = {
        "name": "Tie-break",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": [exams[0].dataset.name]},
        "escalation": "add_reader_majority",
    }
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert preview["warnings"] == [
        "Every reader of the batch reads every exam: escalation can add no reader, so the reads of a "
        "disputed exam are left to the majority, and its ties to the adjudicator."
    ]
    adjudicated = client.post(
        "/api/v1/batches/preview/", {**spec, "escalation": "add_reader"}, content_type="application/json"
    ).json()
    assert adjudicated["warnings"] == [
        "Every reader of the batch reads every exam: escalation can add no reader, so every disputed exam "
        "goes to the adjudicator."
    ]
    created = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    batch = created.json()["id"]
    from annotations.models import ReviewBatch

    assert ReviewBatch.objects.get(pk=batch).design["escalation"] == {"mode": "add_reader_majority", "cap": 1}
    refused = client.post(
        "/api/v1/batches/preview/", {**spec, "escalation": "vote"}, content_type="application/json"
    )
    assert refused.status_code == 400 and "escalation" in refused.json()
    page = client.get("/batches/new/").content.decode()
    assert 'value="add_reader_majority"' in page


def test_the_extra_read_goes_to_a_reader_with_exams_still_to_read_among_which_it_hides(
    ana, bruno, diego, tnmg, client_for
):
    """To a reader who has read everything, an extra read arriving just after another reader's submit says
    that the exam was disputed; among unread exams, at a random place, it says nothing. So a reader with
    exams still to read is chosen before an idle one, however few exams each has left."""
    carol = UserFactory(username="carol", roles=["reader"])
    dave = UserFactory(username="dave", roles=["reader"])
    exams = ExamFactory.create_batch(4)
    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno, carol, dave],
        exams,
        name="E",
        readers_per_exam=2,
        escalation={"mode": "add_reader", "cap": 1},
        seed=5,
    )
    disputed = exams[0]
    holders = list(Assignment.objects.filter(batch=batch, exam=disputed).order_by("reader__username"))
    idle, busy = sorted({ana, bruno, carol, dave} - {h.reader for h in holders}, key=lambda u: u.username)
    for done in Assignment.objects.filter(batch=batch, reader=idle):
        read(idle, done, ["SB"])
    assert Assignment.objects.filter(batch=batch, reader=busy, status="pending").exists()
    before = client_for(idle).get("/api/v1/worklist/")
    assert before.status_code == 200
    read(holders[0].reader, holders[0], ["SB"])
    read(holders[1].reader, holders[1], ["ST"])
    extra = Assignment.objects.get(batch=batch, exam=disputed, reader__in=[idle, busy])
    assert extra.reader == busy
    assert client_for(idle).get("/api/v1/worklist/").json() == before.json()  # nothing arrived


def test_the_extra_read_never_takes_the_place_of_the_exam_the_reader_has_open(
    ana, bruno, diego, tnmg, client_for
):
    """A reader with one exam left, open on her screen, saw "8 of 8", then "8 of 9" with another exam
    in its place: the extra read had taken the open exam's position, and so named the disputed exam.
    The exam a reader has open keeps its place; the extra read goes after it."""
    carol = UserFactory(username="carol", roles=["reader"])
    exams = ExamFactory.create_batch(3)
    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno, carol],
        exams,
        name="E",
        readers_per_exam=2,
        escalation={"mode": "add_reader", "cap": 1},
        seed=5,
    )
    disputed = next(
        e for e in exams if not Assignment.objects.filter(batch=batch, exam=e, reader=carol).exists()
    )
    holders = list(Assignment.objects.filter(batch=batch, exam=disputed))
    mine = list(Assignment.objects.filter(batch=batch, reader=carol).order_by("position"))
    for done in mine[:-1]:
        read(carol, done, ["SB"])
    carols = client_for(carol)
    opened = carols.get("/api/v1/reading/next/", {"batch": batch.pk}).json()["next_assignment_id"]
    before = carols.get(f"/api/v1/reading/assignments/{opened}/").json()["assignment"]
    read(holders[0].reader, holders[0], ["SB"])
    read(holders[1].reader, holders[1], ["ST"])
    extra = Assignment.objects.get(batch=batch, exam=disputed, reader=carol)
    after = carols.get(f"/api/v1/reading/assignments/{opened}/").json()["assignment"]
    assert after["position"] == before["position"]  # the open exam keeps its place
    assert extra.position + 1 > before["position"]
    assert carols.get("/api/v1/reading/next/", {"batch": batch.pk}).json()["next_assignment_id"] == opened
