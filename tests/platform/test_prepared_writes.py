"""Row writes whose SQL is built once per process (ecgreview/prepared_writes.py): the rows are the ones
the ORM writes, a shape's SQL is compiled once, and what they cannot write like the ORM they refuse
unwritten."""

from __future__ import annotations

import contextlib

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, signals
from django.db.models.sql.compiler import SQLInsertCompiler, SQLUpdateCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations.models import Annotation, AnnotationLabel, AuditEvent, Exam
from ecgreview import prepared_writes as prepared
from ecgreview.prepared_writes import row_update, rows_insert, writes_sent_together
from tests.platform.test_embedded_default import on_the_demo
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db


def _columns(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields if not f.primary_key}


def _event(actor, **extra) -> AuditEvent:
    values = {
        "actor": actor,
        "actor_username": actor.username,
        "action": "test.prepared",
        "target_type": "annotations.exam",
        "target_id": "7",
        "before": None,
        "after": {"labels": ["AF", "1AVB"], "note": "ação", "nested": {"n": 1.5}},
        "ip_address": "10.0.0.1",
    }
    return AuditEvent(**{**values, **extra})


def _compiled(kind) -> list[int]:
    """How many times Django compiles an INSERT (or UPDATE) while the block runs."""
    calls: list[int] = []
    original = kind.as_sql

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    kind.as_sql = counting
    return calls, lambda: setattr(kind, "as_sql", original)


def test_an_inserted_row_reads_back_as_the_orms_own_insert(ana):
    mine, theirs = _event(ana), _event(ana)
    theirs.occurred_at = mine.occurred_at
    with transaction.atomic():
        rows_insert([mine])
        theirs.save()
    assert mine.pk is not None and mine.pk != theirs.pk and not mine._state.adding
    assert _columns(AuditEvent.objects.get(pk=mine.pk)) == _columns(AuditEvent.objects.get(pk=theirs.pk))
    assert AuditEvent.objects.get(pk=mine.pk).after["note"] == "ação"


def test_many_rows_get_their_own_keys_in_order_and_the_sql_is_compiled_once(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    assignment = queue(batch, ana)[0]
    classes = list(tnmg.classes.order_by("code")[:9])
    prepared._INSERTS.clear()  # as a new process starts
    calls, restore = _compiled(SQLInsertCompiler)
    try:
        with transaction.atomic():
            annotations = []
            for stage in (Annotation.Stage.BLIND, Annotation.Stage.REVISED):
                annotation = Annotation(assignment=assignment, stage=stage, is_current=False)
                rows_insert([annotation])
                annotations.append(annotation)
            for annotation, chosen in zip(annotations, (classes[:4], classes[4:8]), strict=True):
                labels = [
                    AnnotationLabel(annotation=annotation, diagnostic_class=c, uncertain=i % 2 == 1)
                    for i, c in enumerate(chosen)
                ]
                with CaptureQueriesContext(connection) as queries:
                    rows_insert(labels)
                assert len(queries) == 1
                for label in labels:
                    stored = AnnotationLabel.objects.get(pk=label.pk)
                    assert (stored.annotation_id, stored.diagnostic_class_id, stored.uncertain) == (
                        annotation.pk,
                        label.diagnostic_class_id,
                        label.uncertain,
                    )
    finally:
        restore()
    # One compilation per shape (an annotation; four labels), however many times it is written.
    assert len(calls) == 2
    assert AnnotationLabel.objects.filter(annotation__in=annotations).count() == 8


def test_a_shape_written_again_is_not_compiled_again(ana):
    rows_insert([_event(ana)])  # the shape's first write compiles it
    row = AuditEvent.objects.latest("pk")
    calls, restore = _compiled(SQLInsertCompiler)
    update_calls, restore_update = _compiled(SQLUpdateCompiler)
    try:
        for index in range(3):
            rows_insert([_event(ana, target_id=str(index))])
    finally:
        restore()
        restore_update()
    assert calls == [] and update_calls == []
    written = AuditEvent.objects.filter(pk__gt=row.pk).order_by("pk").values_list("target_id", flat=True)
    assert list(written) == ["0", "1", "2"]


def test_an_update_writes_the_named_columns_only(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    assignment = queue(batch, ana)[0]
    annotation = Annotation.objects.create(assignment=assignment, comment="first")
    stale = Annotation.objects.get(pk=annotation.pk)
    Annotation.objects.filter(pk=annotation.pk).update(time_on_task_ms=999)  # written meanwhile elsewhere
    now = timezone.now()
    stale.comment, stale.revision, stale.updated_at = "second", 2, now
    stale.time_on_task_ms = 5
    row_update(stale, ("comment", "revision", "updated_at"))
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.comment, stored.revision, stored.updated_at) == ("second", 2, now)
    assert stored.time_on_task_ms == 999  # not named: left as it was


@pytest.mark.parametrize("together", [False, True], ids=["alone", "sent-together"])
def test_an_update_of_a_row_that_is_gone_fails_loudly(ana, bruno, diego, tnmg, together):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    annotation = Annotation.objects.create(assignment=queue(batch, ana)[0])
    gone = Annotation.objects.get(pk=annotation.pk)
    Annotation.objects.filter(pk=annotation.pk).delete()
    gone.comment = "lost"
    # Sent together, the answer comes (and the failure with it) when the block ends.
    block = writes_sent_together() if together else contextlib.nullcontext()
    with pytest.raises(DatabaseError, match="found no row"), transaction.atomic(), block:
        row_update(gone, ("comment",))


def test_an_expression_is_refused_and_nothing_is_written(ana):
    before = AuditEvent.objects.count()
    with pytest.raises(TypeError, match="expression"):
        rows_insert([_event(ana, target_id=F("action"))])
    assert AuditEvent.objects.count() == before


def test_a_model_with_save_receivers_or_a_database_default_is_refused(ana):
    def receiver(**kwargs):
        pass

    signals.post_save.connect(receiver, sender=AuditEvent, weak=False)
    try:
        prepared._INSERTS.clear()
        with pytest.raises(ImproperlyConfigured, match="receivers"):
            rows_insert([_event(ana)])
    finally:
        signals.post_save.disconnect(receiver, sender=AuditEvent)
    with pytest.raises(ImproperlyConfigured, match="db_default"):
        rows_insert([Exam(external_id="x")])
    assert not AuditEvent.objects.filter(action="test.prepared").exists()


def test_the_embedded_default_writes_and_reads_back_the_same_rows(tmp_path):
    script = """
import json, django
django.setup()
from django.db import transaction
from annotations.models import AuditEvent, Annotation, Assignment
from ecgreview.prepared_writes import rows_insert, row_update, writes_sent_together
events = [
    AuditEvent(actor_username="x", action="test.embedded", after={"n": i, "t": "ação"}) for i in range(3)
]
with transaction.atomic():
    with writes_sent_together():  # SQLite: each at once, as outside the block
        rows_insert(events[:1])
        at_once = events[0].pk is not None
    rows_insert(events[1:])
    annotation = Annotation(assignment=Assignment.objects.first(), is_current=False, stage="revised")
    rows_insert([annotation])
    annotation.comment = "kept"
    row_update(annotation, ("comment",))
stored = list(AuditEvent.objects.filter(action="test.embedded").order_by("pk"))
print(json.dumps({
    "keys": [e.pk for e in events], "stored": [e.pk for e in stored], "after": [e.after for e in stored],
    "times": [e.occurred_at.isoformat() for e in stored] == [e.occurred_at.isoformat() for e in events],
    "comment": Annotation.objects.get(pk=annotation.pk).comment, "at_once": at_once,
}))
"""
    answer = on_the_demo(tmp_path, script)
    assert answer["keys"] == answer["stored"] and len(set(answer["keys"])) == 3
    assert answer["at_once"] is True
    assert answer["after"] == [{"n": i, "t": "ação"} for i in range(3)]
    assert answer["times"] is True and answer["comment"] == "kept"


def _pipelined(statements: list[tuple[str, bool]]):
    """An execute wrapper noting each statement's first words and whether psycopg sent it in a pipeline."""

    def note(execute, sql, params, many, context):
        status = connection.connection.pgconn.pipeline_status
        statements.append((" ".join(sql.split()[:3]), status != 0))
        return execute(sql, params, many, context)

    return connection.execute_wrapper(note)


def test_writes_sent_together_are_answered_when_the_block_ends(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    assignment = queue(batch, ana)[0]
    annotation = Annotation(assignment=assignment, stage=Annotation.Stage.BLIND, is_current=True)
    event, af = _event(ana), tnmg.classes.get(code="AF")
    statements: list[tuple[str, bool]] = []
    with transaction.atomic(), _pipelined(statements):
        rows_insert([annotation])
        with writes_sent_together():
            rows_insert([event])
            assignment.status = "in_progress"
            row_update(assignment, ("status",))
            label = AnnotationLabel(annotation=annotation, diagnostic_class=af)
            rows_insert([label])
            # Sent, not yet answered: a round trip for all three at the end, none for each.
            assert event.pk is None and label.pk is None
        assert event.pk is not None and label.pk is not None and not label._state.adding
    assert [sent for _, sent in statements] == [False, True, True, True]
    assert AuditEvent.objects.get(pk=event.pk).after == event.after
    assert AnnotationLabel.objects.get(pk=label.pk).annotation_id == annotation.pk
    assert type(assignment).objects.get(pk=assignment.pk).status == "in_progress"


def test_a_write_the_database_refuses_fails_at_the_end_as_djangos_error_and_nothing_is_kept(
    ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    annotation = Annotation.objects.create(assignment=queue(batch, ana)[0])
    af = tnmg.classes.get(code="AF")
    before = AuditEvent.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic(), writes_sent_together():
        rows_insert([_event(ana)])
        rows_insert([AnnotationLabel(annotation=annotation, diagnostic_class=af)])
        rows_insert([AnnotationLabel(annotation=annotation, diagnostic_class=af)])  # annotation_label_unique
    assert AuditEvent.objects.count() == before
    assert not AnnotationLabel.objects.filter(annotation=annotation).exists()


def test_a_read_inside_the_block_sees_what_was_sent_before_it(ana):
    event = _event(ana, target_id="read-inside")
    with transaction.atomic(), writes_sent_together():
        rows_insert([event])
        assert AuditEvent.objects.filter(target_id="read-inside").count() == 1
    assert event.pk is not None


def test_a_submits_rows_reach_postgresql_in_one_round_trip(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    assignment = queue(batch, ana)[0]
    body = {"labels": labels("AF", "RBBB"), "comment": "", "time_on_task_ms": 900, "revision": 0}
    statements: list[tuple[str, bool]] = []
    with _pipelined(statements):
        response = client_for(ana).post(
            f"/api/v1/reading/assignments/{ref(assignment)}/submit/", body, content_type="application/json"
        )
    assert response.status_code == 200, response.content
    sent_together = [words for words, sent in statements if sent]
    assert sent_together == [
        'INSERT INTO "annotations_annotationlabel"',
        'INSERT INTO "annotations_annotationrevision"',
        'INSERT INTO "annotations_auditevent"',
        'UPDATE "annotations_assignment" SET',
    ]
    stored = Annotation.objects.get(assignment=assignment, is_current=True)
    assert sorted(stored.labels.values_list("diagnostic_class__code", flat=True)) == ["AF", "RBBB"]
    assert stored.revisions.get().labels == [
        {"code": "AF", "uncertain": False},
        {"code": "RBBB", "uncertain": False},
    ]
    assert AuditEvent.objects.filter(action="annotation.submit", target_id=str(stored.pk)).count() == 1
    assert type(assignment).objects.get(pk=assignment.pk).status == "submitted"


def test_a_draft_saves_rows_reach_postgresql_in_one_round_trip(client_for, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    assignment = queue(batch, ana)[0]
    url = f"/api/v1/reading/assignments/{ref(assignment)}/draft/"
    client = client_for(ana)
    first = client.put(url, {"labels": labels("SB"), "revision": 0}, content_type="application/json")
    assert first.status_code == 200, first.content
    statements: list[tuple[str, bool]] = []
    with _pipelined(statements):  # a second save: its earlier labels are deleted first, then sent together
        response = client.put(url, {"labels": labels("AF"), "revision": 1}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert [words for words, sent in statements if sent] == [
        'INSERT INTO "annotations_annotationlabel"',
        'INSERT INTO "annotations_annotationrevision"',
        'INSERT INTO "annotations_auditevent"',
    ]
    stored = Annotation.objects.get(assignment=assignment, is_current=True)
    assert list(stored.labels.values_list("diagnostic_class__code", flat=True)) == ["AF"]
    assert list(stored.revisions.order_by("revision").values_list("revision", flat=True)) == [1, 2]


def test_an_orm_write_inside_the_block_is_refused_before_it_is_sent(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    annotation = Annotation.objects.create(assignment=queue(batch, ana)[0], comment="kept")
    with pytest.raises(ImproperlyConfigured, match="sent together"), transaction.atomic():
        with writes_sent_together():
            Annotation.objects.filter(pk=annotation.pk).update(comment="changed")  # its count would be -1
    assert Annotation.objects.get(pk=annotation.pk).comment == "kept"
