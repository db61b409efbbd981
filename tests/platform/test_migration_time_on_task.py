"""The migration that copies each submitted read's time on task onto its slot: a reader's submitted read
keeps its time, a draft and an imported read (recorded by the coordinator who imported it) get none."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("annotations", "0033_dispute_reason_exclusive_words")]
AFTER = [("annotations", "0034_assignment_time_on_task")]


def _slot(old, batch, reader, name: str, position: int, status: str):
    exam = old.get_model("annotations", "Exam").objects.create(
        dataset=old.get_model("annotations", "Dataset").objects.get_or_create(name="d")[0],
        external_id=name,
        sampling_rate=500,
        n_samples=10,
        gain_uv=1,
        waveform_key=name,
        waveform_sha256=f"{position}" * 64,
        source_format="synthetic",
    )
    submitted_at = batch.created_at if status == "submitted" else None
    return old.get_model("annotations", "Assignment").objects.create(
        batch=batch, exam=exam, reader=reader, position=position, status=status, submitted_at=submitted_at
    )


@pytest.mark.django_db(transaction=True)
def test_a_readers_submitted_read_gives_its_time_to_its_slot_and_an_imported_one_none():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    users = old.get_model("auth", "User").objects
    reader, coordinator = users.create(username="reader"), users.create(username="coordinator")
    taxonomy = old.get_model("annotations", "Taxonomy").objects.create(
        key="t", version="1", name="T", content_sha256="0" * 64
    )
    batch = old.get_model("annotations", "ReviewBatch").objects.create(
        name="b", taxonomy=taxonomy, created_by=coordinator
    )
    reads = old.get_model("annotations", "Annotation").objects
    revisions = old.get_model("annotations", "AnnotationRevision").objects
    for position, (name, status, ms, recorded_by) in enumerate(
        [
            ("read", "submitted", 41_000, reader),
            ("imported", "submitted", 0, coordinator),
            ("draft", "in_progress", 9_000, reader),
        ]
    ):
        slot = _slot(old, batch, reader, name, position, status)
        annotation = reads.create(
            assignment=slot, status="submitted" if status == "submitted" else "draft", time_on_task_ms=ms
        )
        revisions.create(annotation=annotation, revision=1, status=annotation.status, recorded_by=recorded_by)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    after = new.get_model("annotations", "Assignment").objects
    times = dict(after.values_list("exam__external_id", "time_on_task_ms"))
    assert times == {"read": 41_000, "imported": None, "draft": None}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
