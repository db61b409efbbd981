"""The migration that marks system closures on their slots: the slots the system closed before the mark
existed, told then by their reason, are marked; a reader's skip and every other slot are not."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.migrating import historical_exam

BEFORE = [("annotations", "0031_exam_device_measurements")]
AFTER = [("annotations", "0032_assignment_closed_by_system")]
SET_ASIDE = "set aside: the reader left the study before submitting; the exam went to another reader"


@pytest.mark.django_db(transaction=True)
def test_closures_the_system_wrote_before_are_marked_and_a_readers_skip_is_not():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    reader = old.get_model("auth", "User").objects.create(username="reader")
    taxonomy = old.get_model("annotations", "Taxonomy").objects.create(
        key="t", version="1", name="T", content_sha256="0" * 64
    )
    dataset = old.get_model("annotations", "Dataset").objects.create(name="d")
    batch = old.get_model("annotations", "ReviewBatch").objects.create(
        name="b", taxonomy=taxonomy, created_by=reader
    )
    slots = old.get_model("annotations", "Assignment").objects
    shapes = {
        "system": ("skipped", SET_ASIDE),
        "reader": ("skipped", "noisy baseline"),
        "pending": ("pending", ""),
    }
    for position, (name, (status, reason)) in enumerate(shapes.items()):
        exam = historical_exam(old, name, position, dataset=dataset.name)
        slots.create(
            batch=batch, exam=exam, reader=reader, position=position, status=status, skip_reason=reason
        )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    after = new.get_model("annotations", "Assignment").objects
    marked = dict(after.values_list("exam__external_id", "closed_by_system"))
    assert marked == {"system": True, "reader": False, "pending": False}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
