"""The migration that marks escalation reads on their slots: an installation upgraded mid-study knows its
earlier escalations only from their audit rows. The slot the escalation added is marked, and so is a slot
handed on from it (a reader who left); the designed reads of the same exam, and every other slot, are not.
Without the marks, the upgraded batch's agreement would count the extra reads as designed ones."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.migrating import historical_exam

BEFORE = [("annotations", "0041_exam_reference_coverage")]
AFTER = [("annotations", "0042_assignment_escalated")]


@pytest.mark.django_db(transaction=True)
def test_escalation_slots_and_their_handed_on_slots_are_marked_and_designed_reads_are_not():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    users = old.get_model("auth", "User").objects
    ana, bruno, carol, dora = (users.create(username=name) for name in ("ana", "bruno", "carol", "dora"))
    taxonomy = old.get_model("annotations", "Taxonomy").objects.create(
        key="t", version="1", name="T", content_sha256="0" * 64
    )
    batch = old.get_model("annotations", "ReviewBatch").objects.create(
        name="b", taxonomy=taxonomy, created_by=ana
    )
    disputed, quiet = historical_exam(old, "disputed", 1), historical_exam(old, "quiet", 2)
    members = old.get_model("annotations", "BatchExam").objects
    member = members.create(batch=batch, exam=disputed, target_reads=3)
    members.create(batch=batch, exam=quiet, target_reads=2)
    slots = old.get_model("annotations", "Assignment").objects
    now = timezone.now()

    def slot(exam, reader, position, **fields):
        return slots.create(batch=batch, exam=exam, reader=reader, position=position, **fields)

    designed = [
        slot(disputed, ana, 0, status="submitted", submitted_at=now),
        slot(disputed, bruno, 0, status="submitted", submitted_at=now),
    ]
    added = slot(
        disputed,
        carol,
        1,
        status="skipped",
        skip_code="system",
        skip_reason="set aside",
        skipped_at=now,
        closed_by_system=True,
    )
    handed_on = slot(disputed, dora, 1, replaces=added)
    others = [slot(quiet, ana, 1), slot(quiet, carol, 2)]
    old.get_model("annotations", "AuditEvent").objects.create(
        action="batch.escalate_add_reader",
        target_type="annotations.batchexam",
        target_id=str(member.pk),
        after={"exam": disputed.pk, "reader": carol.pk, "target_reads": 3},
    )
    # An audit row of another shape (no reader) and one whose batch exam is gone are passed over.
    old.get_model("annotations", "AuditEvent").objects.create(
        action="batch.escalate_add_reader", target_type="annotations.batchexam", target_id=str(member.pk)
    )
    old.get_model("annotations", "AuditEvent").objects.create(
        action="batch.escalate_add_reader",
        target_type="annotations.batchexam",
        target_id="999999",
        after={"reader": ana.pk},
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    marked = dict(new.get_model("annotations", "Assignment").objects.values_list("pk", "escalated"))
    assert {pk for pk, escalated in marked.items() if escalated} == {added.pk, handed_on.pk}
    assert not any(marked[s.pk] for s in [*designed, *others])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
