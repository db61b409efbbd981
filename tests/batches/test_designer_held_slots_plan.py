"""The designer asks, in one query over every chosen exam, which of them each reader already holds in some
batch. Whether a slot counts depends on its batch's status (an unopened slot of a closed batch does not).
The batch table is small and rarely analysed: PostgreSQL's autovacuum analyses a table after 50 changed
rows, so a group that ran 40 batches since the table was analysed with one is planned as one batch. Joined
to the slots, that estimate made PostgreSQL loop over the batches and probe every chosen exam once per
batch: at CODE-II size, 100,000 exams x 41 batches, 4.1 M index probes and 4.9-5.7 s for the preview
instead of 0.45 s. The closed batches are now read once, as a set, whatever the estimate."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations.models import Assignment, ReviewBatch
from tests.factories import DatasetFactory, ExamFactory

pytestmark = pytest.mark.django_db

EXAMS = 400
CLOSED_BATCHES = 40
READ_PER_BATCH = 5  # ana's submitted reads in each closed batch, on exams of the archive


@pytest.fixture
def archive(db):
    return ExamFactory.create_batch(EXAMS, dataset=DatasetFactory(name="archive"))


def _batch(diego, tnmg, name: str, status: str) -> ReviewBatch:
    now = timezone.now()
    return ReviewBatch.objects.create(
        name=name,
        readers_per_exam=1,
        status=status,
        seed=1,
        design={},
        created_by=diego,
        taxonomy=tnmg,
        started_at=now,
        closed_at=now if status == ReviewBatch.Status.CLOSED else None,
    )


@pytest.fixture
def history(archive, diego, ana, tnmg):
    """One batch, the table analysed then; 40 closed batches since, each holding 5 of ana's reads and 5
    unopened slots of hers (which do not count), the statistics still saying one batch."""
    _batch(diego, tnmg, "first", ReviewBatch.Status.CLOSED)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ReviewBatch._meta.db_table}")
    read = set()
    for index in range(CLOSED_BATCHES):
        batch = _batch(diego, tnmg, f"history {index:03d}", ReviewBatch.Status.CLOSED)
        start = index * 2 * READ_PER_BATCH
        done = archive[start : start + READ_PER_BATCH]
        left = archive[start + READ_PER_BATCH : start + 2 * READ_PER_BATCH]
        Assignment.objects.bulk_create(
            [
                Assignment(
                    batch=batch,
                    exam=exam,
                    reader=ana,
                    position=i,
                    status=Assignment.Status.SUBMITTED,
                    started_at=batch.started_at,
                    submitted_at=batch.closed_at,
                )
                for i, exam in enumerate(done)
            ]
            + [
                Assignment(batch=batch, exam=exam, reader=ana, position=READ_PER_BATCH + i)
                for i, exam in enumerate(left)
            ]
        )
        read.update(exam.pk for exam in done)
    with connection.cursor() as cursor:  # the slots change all day: their statistics are current
        cursor.execute(f"ANALYZE {Assignment._meta.db_table}")
    return read


def _preview(client, tnmg, ana, bruno, **extra):
    body = {
        **extra,
        "name": "Whole archive",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
    }
    return client.post("/api/v1/batches/preview/", json.dumps(body), content_type="application/json")


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_the_preview_counts_what_each_reader_holds_and_reads_the_batches_once(
    client_for, diego, ana, bruno, tnmg, history
):
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL plan")
    read = history
    with CaptureQueriesContext(connection) as queries:
        response = _preview(client_for(diego), tnmg, ana, bruno)
    assert response.status_code == 200, response.content
    seen = {row["reader"]: row for row in response.json()["seen_elsewhere"]}
    assert seen["ana"]["read"] == len(read)  # the unopened slots of closed batches are not held
    assert seen["bruno"]["read"] == 0
    held = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(f'SELECT DISTINCT "{Assignment._meta.db_table}"."reader_id"')
        and "unnest(" in q["sql"]
    ]
    assert held, "the preview asked nobody's slots"
    # Read as a set in a subquery: no join whose order hangs on the batch table's estimate.
    assert f'JOIN "{ReviewBatch._meta.db_table}"' not in held[0], held[0][:600]
    with connection.cursor() as cursor:
        # Planned as at CODE-II size, where the slots are too many to scan and are probed by index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + held[0])
        (plan,) = cursor.fetchone()[0]
    batch_scans = [
        node["Actual Loops"]
        for node in _nodes(plan["Plan"])
        if node.get("Relation Name") == ReviewBatch._meta.db_table
    ]
    slot_probes = [
        node["Actual Loops"]
        for node in _nodes(plan["Plan"])
        if node.get("Relation Name") == Assignment._meta.db_table
    ]
    assert batch_scans and max(batch_scans) == 1, json.dumps(plan, indent=1)
    assert max(slot_probes) <= EXAMS, json.dumps(plan, indent=1)


def test_a_large_design_reads_the_readers_slots_whole_and_counts_the_same(
    client_for, diego, ana, bruno, tnmg, history, monkeypatch
):
    """Past blinding.MANY_EXAMS chosen exams the readers' held slots are read whole and matched to the
    exams apart from the database: of a sample, the same reads held, the same unopened slots of closed
    batches left out, as when each chosen exam is asked about."""
    from annotations.selectors import blinding

    counted = {}
    for many_exams in (10**6, 10):
        monkeypatch.setattr(blinding, "MANY_EXAMS", many_exams)
        with CaptureQueriesContext(connection) as queries:
            response = _preview(client_for(diego), tnmg, ana, bruno, sample_size=150)
        assert response.status_code == 200, response.content
        counted[many_exams] = {row["reader"]: row["read"] for row in response.json()["seen_elsewhere"]}
        slots = [
            q["sql"] for q in queries.captured_queries if f'FROM "{Assignment._meta.db_table}"' in q["sql"]
        ]
        asked_by_exam = any('"exam_id" IN (' in sql for sql in slots)
        assert asked_by_exam == (many_exams > 150 or connection.vendor != "postgresql")
    assert counted[10] == counted[10**6]
    assert 0 < counted[10]["ana"] < len(history) and counted[10]["bruno"] == 0
