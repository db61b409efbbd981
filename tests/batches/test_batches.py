"""Creating a review batch: k readers per exam, fair loads, seeded queues, a frozen taxonomy."""

from collections import Counter

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam
from annotations.services.batches.lifecycle import BatchDesignError, batch_create
from tests.factories import ExamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(ana, bruno):
    return [ana, bruno, *(UserFactory(username=f"reader{i}", roles=["reader"]) for i in range(3))]


def create(diego, tnmg, readers, exams, k=3, seed=11):
    return batch_create(
        name="Study", taxonomy=tnmg, exams=exams, readers=readers, readers_per_exam=k, actor=diego, seed=seed
    )


def test_every_exam_gets_exactly_k_distinct_readers_and_loads_differ_by_at_most_one(diego, tnmg, readers):
    exams = ExamFactory.create_batch(17)
    batch = create(diego, tnmg, readers, exams)
    per_exam = Counter(Assignment.objects.filter(batch=batch).values_list("exam_id", flat=True))
    assert set(per_exam.values()) == {3} and len(per_exam) == 17
    loads = Counter(Assignment.objects.filter(batch=batch).values_list("reader_id", flat=True))
    assert max(loads.values()) - min(loads.values()) <= 1
    assert set(BatchExam.objects.filter(batch=batch).values_list("target_reads", flat=True)) == {3}


def test_each_queue_is_numbered_from_zero_in_its_own_order(diego, tnmg, readers):
    batch = create(diego, tnmg, readers, ExamFactory.create_batch(10))
    for reader in readers:
        positions = list(
            Assignment.objects.filter(batch=batch, reader=reader)
            .order_by("position")
            .values_list("position", flat=True)
        )
        assert positions == list(range(len(positions)))


def test_the_same_seed_gives_the_same_design(diego, tnmg, readers):
    exams = ExamFactory.create_batch(12)

    def design(batch):
        return sorted(Assignment.objects.filter(batch=batch).values_list("reader_id", "exam_id", "position"))

    def again(seed):  # the same readers and exams designed over and over: independence off, with why
        return batch_create(
            name="Study",
            taxonomy=tnmg,
            exams=exams,
            readers=readers,
            readers_per_exam=3,
            actor=diego,
            seed=seed,
            exclude_seen=False,
            independence_off_reason="the same design drawn again",
        )

    assert design(again(5)) == design(again(5))
    assert design(again(5)) != design(again(6))


def test_creating_a_batch_freezes_its_taxonomy_and_is_audited(diego, tnmg, readers):
    batch = create(diego, tnmg, readers, ExamFactory.create_batch(3))
    tnmg.refresh_from_db()
    assert tnmg.frozen_at is not None
    event = AuditEvent.objects.get(action="batch.create")
    assert event.actor == diego and event.target_id == str(batch.pk)
    assert event.after["k"] == 3


def test_only_coordinators_create_batches(ana, tnmg, readers):
    with pytest.raises(PermissionError):
        create(ana, tnmg, readers, ExamFactory.create_batch(2))


def test_impossible_designs_are_refused_with_the_reason(diego, tnmg, readers, carla):
    with pytest.raises(BatchDesignError, match="6 readers per exam were asked for but only 5"):
        create(diego, tnmg, readers, ExamFactory.create_batch(2), k=6)
    with pytest.raises(BatchDesignError, match="not readers: carla"):
        create(diego, tnmg, [*readers, carla], ExamFactory.create_batch(2))
    with pytest.raises(BatchDesignError, match="at least one exam"):
        create(diego, tnmg, readers, [])
    assert not Assignment.objects.exists()


def test_gold_exams_and_retests_are_stored_as_the_design_says(diego, tnmg, readers):
    exams = ExamFactory.create_batch(40)
    batch = batch_create(
        name="QC",
        taxonomy=tnmg,
        exams=exams,
        readers=readers,
        readers_per_exam=2,
        actor=diego,
        seed=4,
        gold_exams=exams[:2],
        retest_fraction=0.1,
    )
    gold = BatchExam.objects.filter(batch=batch, is_gold=True)
    assert set(gold.values_list("exam_id", flat=True)) == {exams[0].pk, exams[1].pk}
    assert set(gold.values_list("target_reads", flat=True)) == {5}
    for reader in readers:
        assert Assignment.objects.filter(batch=batch, reader=reader, exam__in=exams[:2]).count() == 2
    retests = Assignment.objects.filter(batch=batch, read_round=2)
    assert retests.count() == 5 * round(0.1 * 38 * 2 / 5)
    for retest in retests:
        first = Assignment.objects.get(batch=batch, reader=retest.reader, exam=retest.exam, read_round=1)
        assert retest.position > first.position


def test_a_design_that_misses_the_pair_overlap_is_refused_and_stores_nothing(diego, tnmg, readers):
    with pytest.raises(BatchDesignError, match="should share at least 4 exams"):
        batch_create(
            name="Too small",
            taxonomy=tnmg,
            exams=ExamFactory.create_batch(6),
            readers=readers,
            readers_per_exam=2,
            actor=diego,
            min_pair_overlap=4,
        )
    assert not Assignment.objects.exists()
    tnmg.refresh_from_db()
    assert tnmg.frozen_at is None


def _submit(batch, n: int) -> None:
    from django.utils import timezone

    first = batch.assignments.order_by("pk").values_list("pk", flat=True)[:n]
    Assignment.objects.filter(pk__in=list(first)).update(
        status=Assignment.Status.SUBMITTED, submitted_at=timezone.now()
    )


def test_the_batch_list_counts_each_batch_in_the_same_few_queries_however_many_batches(
    diego, tnmg, readers, client
):
    """The list (home page, batches page, API) counts each child table once for all the batches shown,
    grouped by batch: one join of exams and reads multiplied their rows (100k exams x 3 readers never
    answered), and a count per batch in a subquery became a scan of every slot per batch at CODE-II size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = create(diego, tnmg, readers, ExamFactory.create_batch(4), k=2)
    second = create(diego, tnmg, readers, ExamFactory.create_batch(3), k=3)
    _submit(first, 1)
    _submit(second, 2)
    client.force_login(diego)
    client.get("/api/v1/batches/")  # the session's own refresh is not the list's
    with CaptureQueriesContext(connection) as two:
        rows = client.get("/api/v1/batches/").json()
    assert [row["id"] for row in rows] == [second.pk, first.pk]  # newest first
    counts = {row["id"]: (row["exam_count"], row["read_count"], row["reads_done"]) for row in rows}
    assert counts == {first.pk: (4, 8, 1), second.pk: (3, 9, 2)}
    for _ in range(3):
        create(diego, tnmg, readers, ExamFactory.create_batch(2), k=1)
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/v1/batches/").json()) == 5
    assert len(five.captured_queries) == len(two.captured_queries)
    counting = [q["sql"] for q in five.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counting, "no counting query"
    for sql in counting:  # each table counted in a statement of its own
        assert not ("annotations_batchexam" in sql and "annotations_assignment" in sql), sql
    for page in (client.get("/batches/"), client.get("/")):
        text = page.content.decode()
        assert "1 / 8" in text and "2 / 9" in text and "0 / 2" in text
