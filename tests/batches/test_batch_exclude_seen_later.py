"""A batch designed to keep readers away from exams they read elsewhere ("exclude_seen") keeps them
away for its whole life: not only when it is designed and when exams are added, but when unread exams
are reassigned, when readers are added and the queues rebalanced, and when an escalation brings in an
extra reader."""

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(ana, bruno, diego, tnmg):
    """bruno read the 6 exams of dataset "syn" in Study A; Study E, designed with exclude_seen, gives
    those exams to ana and ivan only (k=2), and bruno the 6 of dataset "other"."""
    ivan = UserFactory(username="ivan", roles=["reader"])
    syn = ExamFactory.create_batch(6, dataset=DatasetFactory(name="syn"))
    other = ExamFactory.create_batch(6, dataset=DatasetFactory(name="other"))
    study_a = batch_for(tnmg, diego, [bruno], syn, name="Study A")
    for slot in Assignment.objects.filter(batch=study_a):
        read(bruno, slot, ["SR"])
    return ivan, syn, other


def _study_e(client, tnmg, readers, **extra) -> int:
    spec = {
        "name": "Study E",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["syn", "other"]},
        "exclude_seen": True,
        **extra,
    }
    response = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _bruno_holds(batch_id, bruno, exams) -> set[int]:
    ids = {e.pk for e in exams}
    return set(
        Assignment.objects.filter(batch_id=batch_id, reader=bruno, exam_id__in=ids).values_list(
            "exam_id", flat=True
        )
    )


def test_reassigning_to_a_reader_keeps_the_exams_they_read_elsewhere_away_from_them(
    seen, ana, bruno, diego, tnmg, client_for
):
    ivan, syn, _other = seen
    client = client_for(diego)
    batch_id = _study_e(client, tnmg, [ana, ivan, bruno])
    assert not _bruno_holds(batch_id, bruno, syn)  # the design kept them away
    response = client.post(
        f"/batches/{batch_id}/reassign/", {"from_reader": ivan.pk, "to_reader": bruno.pk}, follow=True
    )
    assert not _bruno_holds(batch_id, bruno, syn), "reassigning handed bruno exams he read in Study A"
    said = response.content.decode()
    assert "6 exams stay with ivan: bruno read them in another batch" in said, said
    audit = AuditEvent.objects.filter(action="batch.reassign").latest("pk")
    assert audit.after["kept_because_seen_elsewhere"] == 6


def test_an_escalation_never_brings_in_a_reader_who_read_the_exam_elsewhere(
    seen, ana, bruno, diego, tnmg, client_for
):
    ivan, syn, _other = seen
    batch_id = _study_e(client_for(diego), tnmg, [ana, ivan, bruno], escalation="add_reader")
    exam = syn[0]
    read(ana, Assignment.objects.get(batch_id=batch_id, exam=exam, reader=ana), ["SB"])
    read(ivan, Assignment.objects.get(batch_id=batch_id, exam=exam, reader=ivan), ["SR"])
    assert not _bruno_holds(batch_id, bruno, syn), (
        "the escalation's extra read went to bruno, who read it before"
    )
    member = BatchExam.objects.get(batch_id=batch_id, exam=exam)
    assert member.needs_adjudication  # nobody spare who has not seen it: to the adjudicator


def test_rebalancing_for_a_new_reader_moves_no_exam_they_read_elsewhere(
    seen, ana, bruno, diego, tnmg, client_for
):
    ivan, syn, _other = seen
    client = client_for(diego)
    batch_id = _study_e(client, tnmg, [ana, ivan])
    assert client.post(f"/batches/{batch_id}/add-readers/", {"readers": [bruno.pk]}).status_code == 302
    assert Assignment.objects.filter(batch_id=batch_id, reader=bruno).exists()  # he took his share...
    assert not _bruno_holds(batch_id, bruno, syn)  # ...of the exams he had not read
