"""The migration that copies each submitted read's time on task onto its slot: a reader's submitted read
keeps its time, a draft and an imported read (recorded by the coordinator who imported it) get none."""

from __future__ import annotations

import pytest

from tests.migrating import apps_at, apps_at_latest, historical_exam

BEFORE = [("annotations", "0033_dispute_reason_exclusive_words")]
AFTER = [("annotations", "0034_assignment_time_on_task")]
SLOTS = [
    # exam, slot status, the read's time on task, whose revision
    ("read", "submitted", 41_000, "reader"),
    ("imported", "submitted", 0, "coordinator"),
    ("draft", "in_progress", 9_000, "reader"),
]


@pytest.mark.django_db(transaction=True)
def test_a_readers_submitted_read_gives_its_time_to_its_slot_and_an_imported_one_none():
    old = apps_at(BEFORE)
    users = {
        name: old.get_model("auth", "User").objects.create(username=name)
        for name in ("reader", "coordinator")
    }
    taxonomy = old.get_model("annotations", "Taxonomy").objects.create(
        key="t", version="1", name="T", content_sha256="0" * 64
    )
    batch = old.get_model("annotations", "ReviewBatch").objects.create(
        name="b", taxonomy=taxonomy, created_by=users["coordinator"]
    )
    for position, (name, status, ms, recorded_by) in enumerate(SLOTS):
        submitted = status == "submitted"
        slot = old.get_model("annotations", "Assignment").objects.create(
            batch=batch,
            exam=historical_exam(old, name, position),
            reader=users["reader"],
            position=position,
            status=status,
            submitted_at=batch.created_at if submitted else None,
        )
        annotation = old.get_model("annotations", "Annotation").objects.create(
            assignment=slot, status="submitted" if submitted else "draft", time_on_task_ms=ms
        )
        old.get_model("annotations", "AnnotationRevision").objects.create(
            annotation=annotation, revision=1, status=annotation.status, recorded_by=users[recorded_by]
        )

    new = apps_at(AFTER)
    times = dict(
        new.get_model("annotations", "Assignment").objects.values_list("exam__external_id", "time_on_task_ms")
    )
    assert times == {"read": 41_000, "imported": None, "draft": None}
    apps_at_latest()
