"""The migration that brings the cross-batch rule: everyone who signed a decision before it saw that
exam's dispute, including decisions a later correction overwrote (the audit trail keeps them all)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("annotations", "0009_import_job_outcomes_ignored")]
AFTER = [("annotations", "0010_blinding_across_batches")]


@pytest.mark.django_db(transaction=True)
def test_past_decisions_become_seen_disputes_and_nothing_is_lost():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    first, second = User.objects.create(username="first"), User.objects.create(username="second")
    taxonomy = old.get_model("annotations", "Taxonomy").objects.create(
        key="t", version="1", name="T", content_sha256="0" * 64
    )
    dataset = old.get_model("annotations", "Dataset").objects.create(name="d")
    exam = old.get_model("annotations", "Exam").objects.create(
        dataset=dataset,
        external_id="x",
        sampling_rate=500,
        n_samples=10,
        gain_uv=1,
        waveform_key="k",
        waveform_sha256="0" * 64,
        source_format="synthetic",
    )
    batch = old.get_model("annotations", "ReviewBatch").objects.create(
        name="b", taxonomy=taxonomy, created_by=first
    )
    events = old.get_model("annotations", "AuditEvent").objects
    # first decided, second corrected it (the Adjudication row now names second only); a malformed
    # event and another action are ignored.
    for actor in (first, second, second):
        events.create(actor=actor, action="adjudication.decide", after={"batch": batch.pk, "exam": exam.pk})
    events.create(actor=first, action="adjudication.decide", after={"batch": "?", "exam": None})
    events.create(actor=first, action="annotation.submit", after={"batch": batch.pk, "exam": exam.pk})
    count_before = events.count()

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    views = new.get_model("annotations", "AdjudicationView").objects
    assert sorted(views.values_list("adjudicator__username", "batch_id", "exam_id")) == [
        ("first", batch.pk, exam.pk),
        ("second", batch.pk, exam.pk),
    ]
    assert new.get_model("annotations", "AuditEvent").objects.count() == count_before
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
