"""A batch's exams and slots are written column by column (numpy arrays, one value for a column every
row shares), on PostgreSQL as one binary COPY: the rows are those of the design, to the microsecond of
their assignment time, whatever the column's type."""

from datetime import UTC, datetime

import numpy as np
import pytest

import annotations.services.batches.lifecycle as lifecycle
from annotations.models import Assignment, BatchExam, ReviewBatch
from annotations.roles import Role
from annotations.selectors.batches.plan import BatchSpec, batch_plan
from annotations.selectors.exams.selection import ExamCriteria
from tests.factories import DatasetFactory, ExamFactory, UserFactory

pytestmark = pytest.mark.django_db
ASSIGNED = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def test_rows_are_written_from_columns_and_shared_values(diego, tnmg):
    exams = ExamFactory.create_batch(3)
    batch = ReviewBatch.objects.create(name="Columns", taxonomy=tnmg, created_by=diego)
    lifecycle.rows_insert(
        BatchExam,
        {
            "batch_id": batch.pk,
            "exam_id": np.array([e.pk for e in exams], dtype=np.int64),
            "target_reads": np.array([2, 5, 2]),
            "is_gold": np.array([False, True, False]),
            "needs_adjudication": False,
        },
        3,
    )
    assert sorted(
        BatchExam.objects.filter(batch=batch).values_list(
            "exam_id", "target_reads", "is_gold", "needs_adjudication"
        )
    ) == [(exams[0].pk, 2, False, False), (exams[1].pk, 5, True, False), (exams[2].pk, 2, False, False)]


def test_a_created_batch_holds_its_design_gold_and_retests_to_the_microsecond(
    diego, ana, bruno, tnmg, monkeypatch
):
    carol = UserFactory(username="carol", roles=[Role.READER])
    dataset = DatasetFactory(name="archive")
    ExamFactory.create_batch(60, dataset=dataset)
    monkeypatch.setattr(lifecycle.timezone, "now", lambda: ASSIGNED)
    spec = BatchSpec(
        name="Copied",
        taxonomy_id=tnmg.pk,
        reader_ids=[ana.pk, bruno.pk, carol.pk],
        readers_per_exam=2,
        criteria=ExamCriteria(datasets=["archive"]),
        sample_size=40,
        retest_fraction=0.2,
    )
    plan = batch_plan(diego, spec)
    gold = plan.exam_ids[:3]
    batch = lifecycle.batch_create(
        name="Copied",
        taxonomy=tnmg,
        exams=plan.exam_ids,
        readers=plan.readers,
        readers_per_exam=2,
        actor=diego,
        gold_exams=gold,
        retest_fraction=0.2,
    )
    stored = Assignment.objects.filter(batch=batch).order_by("pk")
    design = lifecycle.design_batch(
        lifecycle.DesignRequest(
            exam_ids=plan.exam_ids,
            reader_ids=[r.pk for r in plan.readers],
            readers_per_exam=2,
            gold_exam_ids=gold,
            retest_fraction=0.2,
        )
    )
    # Every slot of the design, pending since ASSIGNED; stored in exam order (ids ascending with exam,
    # reader, round), so that the foreign-key checks at commit walk the exam table in order.
    assert list(stored.values_list("reader_id", "exam_id", "read_round", "position")) == sorted(
        ((s.reader_id, s.exam_id, s.read_round, s.position) for s in design.slots),
        key=lambda slot: (slot[1], slot[0], slot[2]),
    )
    assert any(s.read_round == 2 for s in design.slots)
    assert set(stored.values_list("status", "skip_reason", "assigned_at", "started_at")) == {
        ("pending", "", ASSIGNED, None)
    }
    members = BatchExam.objects.filter(batch=batch).order_by("pk")
    assert list(members.values_list("exam_id", "target_reads", "is_gold", "needs_adjudication")) == [
        (e, 3 if e in gold else 2, e in gold, False) for e in plan.exam_ids
    ]


def test_a_created_batch_through_the_api_still_refers_to_its_exams_and_readers(
    client_for, diego, ana, bruno, tnmg
):
    ExamFactory.create_batch(12, dataset=DatasetFactory(name="archive"))
    body = {"name": "Api", "taxonomy_id": tnmg.pk, "reader_ids": [ana.pk, bruno.pk], "readers_per_exam": 2}
    created = client_for(diego).post(
        "/api/v1/batches/", {**body, "criteria": {"datasets": ["archive"]}}, content_type="application/json"
    )
    assert created.status_code == 201
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert Assignment.objects.filter(batch=batch, exam__dataset__name="archive").count() == 24
    assert set(Assignment.objects.filter(batch=batch).values_list("reader__username", flat=True)) == {
        ana.username,
        bruno.username,
    }
