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

    assert design(create(diego, tnmg, readers, exams, seed=5)) == design(
        create(diego, tnmg, readers, exams, seed=5)
    )
    assert design(create(diego, tnmg, readers, exams, seed=5)) != design(
        create(diego, tnmg, readers, exams, seed=6)
    )


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


def test_the_batch_list_counts_exams_and_reads_without_joining_them(diego, tnmg, readers, client):
    """The list (home page, batches page, API) counts each child table on its own: one join of exams and
    reads multiplied their rows, and at 100k exams x 3 readers the page never answered."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    exams = ExamFactory.create_batch(4)
    batch = create(diego, tnmg, readers, exams, k=2)
    from django.utils import timezone

    Assignment.objects.filter(pk=batch.assignments.order_by("pk").first().pk).update(
        status=Assignment.Status.SUBMITTED, submitted_at=timezone.now()
    )
    client.force_login(diego)
    with CaptureQueriesContext(connection) as queries:
        (row,) = client.get("/api/v1/batches/").json()
    assert (row["exam_count"], row["read_count"], row["reads_done"]) == (4, 8, 1)
    listing = next(q["sql"] for q in queries.captured_queries if "review" in q["sql"] and "COUNT" in q["sql"])
    assert "JOIN" not in listing.split(" FROM ", 1)[1].split("(SELECT")[0], listing
    page = client.get("/batches/").content.decode()
    assert "1 / 8" in page
