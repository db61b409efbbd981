"""The reader's hot queries, built once per process (selectors/reading/prepared.py): the same answers as
the ORM building them each time, for every reader and batch, and through the API after the SQL is cached."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations.models import Assignment, ReviewBatch, Suggestion, SuggestionExposure
from annotations.selectors.reading import assignments as selectors
from annotations.selectors.reading.prepared import PreparedQuery
from annotations.services.batches.lifecycle import batch_close
from tests.reading.helpers import labels, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


def _as_the_orm_builds_it(build, shape, **values) -> list[tuple]:
    return [tuple(row) for row in build(shape=shape, **values)]


def test_the_lock_query_answers_as_the_orm_would_for_each_reader_and_assignment(ana, bruno, diego, tnmg):
    open_batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    closed = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    batch_close(batch=closed, actor=diego)
    seen = queue(open_batch, ana)[0]
    suggestion = Suggestion.objects.create(exam=seen.exam, provider="demo-model", provider_version="1")
    SuggestionExposure.objects.create(
        assignment=seen, suggestion=suggestion, reader=ana, stage="revised", mode="shown"
    )
    everything = list(Assignment.objects.order_by("pk"))
    answered = 0
    with transaction.atomic():
        for reader in (ana, bruno):
            for assignment in everything:
                values = {"reader_id": reader.pk, "assignment_id": assignment.pk}
                cached = selectors._LOCKED.rows(**values)
                assert cached == _as_the_orm_builds_it(selectors._locked_row, (), **values)
                answered += bool(cached)
    # Each reader gets their own assignments in the open batch, nothing of the other's or a closed batch.
    assert answered == 4
    row = selectors._LOCKED.rows(reader_id=ana.pk, assignment_id=seen.pk)[0]
    assert row[-1] is not None  # first shown, converted as the ORM converts it (an aware datetime)
    assert row[-1].tzinfo is not None


def test_the_locked_assignment_carries_its_batch_taxonomy_and_first_showing(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    mine = queue(batch, ana)[0]
    ana = type(ana).objects.get(pk=ana.pk)
    selectors.has_role(ana, "reader")  # the reader's roles, read once per request in the app
    with transaction.atomic():
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            locked = selectors.assignment_for_reader_locked(ana, mine.pk)
        assert locked == mine and locked.status == mine.status and locked.position == mine.position
        assert locked.batch == batch and locked.batch.design == ReviewBatch.objects.get(pk=batch.pk).design
        assert locked.batch.taxonomy == tnmg and locked.batch.taxonomy.exclusive_sets == tnmg.exclusive_sets
        assert locked.first_shown_at is None
    assert len(queries) == 1 and "FOR UPDATE" in queries[0]["sql"]
    assert "annotations_reviewbatch" not in queries[0]["sql"].split("FOR UPDATE", 1)[1]  # never locked


def test_the_next_exam_query_answers_as_the_orm_would_in_every_shape(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=4)
    mine = queue(batch, ana)
    Assignment.objects.filter(pk=mine[1].pk).update(status=Assignment.Status.IN_PROGRESS)
    Assignment.objects.filter(pk=mine[0].pk).update(
        status=Assignment.Status.SUBMITTED, started_at=timezone.now(), submitted_at=timezone.now()
    )
    for reader in (ana, bruno):
        for within_batch in (True, False):
            for left in ([], [mine[2].pk], [mine[2].pk, mine[3].pk]):
                for status in selectors.OPEN:
                    values = {"reader_id": reader.pk, **{f"left_{i}": pk for i, pk in enumerate(left)}}
                    if within_batch:
                        values["batch_id"] = batch.pk
                    shape = (within_batch, len(left), status)
                    expected = _as_the_orm_builds_it(selectors._next_row, shape, **values)
                    assert selectors._NEXT.rows(shape=shape, **values) == expected
    # Unread first, then drafts; the one being left is never the answer.
    assert selectors.assignment_next_id_for_reader(ana, batch_id=batch.pk) == mine[2].pk
    assert selectors.assignment_next_id_for_reader(ana, batch_id=batch.pk, after=mine[2]) == mine[3].pk
    left = (mine[3].pk,)
    assert selectors.assignment_next_id_for_reader(ana, after=mine[2], skip_ids=left) == mine[1].pk


def test_a_query_is_built_once_and_run_again_with_each_calls_values(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    built = []

    def build(*, shape, reader_id):
        built.append(reader_id)
        return (
            Assignment.objects.filter(reader_id=reader_id).order_by("position").values_list("pk", "position")
        )

    prepared = PreparedQuery(build)
    for reader in (ana, bruno, ana):
        expected = [(a.pk, a.position) for a in queue(batch, reader)]
        assert prepared.rows(reader_id=reader.pk) == expected
    assert len(built) == 1 and built[0] > 2**61  # built once, with a marker rather than anyone's id


def test_a_value_the_sql_does_not_carry_as_a_parameter_is_refused_before_anything_runs(ana):
    # LIMIT is written into the SQL text: a cached plan would keep the first call's limit for every call.
    prepared = PreparedQuery(lambda *, shape, limit: Assignment.objects.values_list("pk")[:limit])
    with pytest.raises(ImproperlyConfigured, match="limit"):
        prepared.rows(limit=2)


@pytest.mark.django_db(transaction=True)
def test_a_prepared_lock_outside_a_transaction_is_refused_like_the_orms(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    mine = queue(batch, ana)[0]
    with transaction.atomic():
        selectors._LOCKED.rows(reader_id=ana.pk, assignment_id=mine.pk)  # the plan is cached now
    with pytest.raises(TransactionManagementError):
        selectors._LOCKED.rows(reader_id=ana.pk, assignment_id=mine.pk)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_through_the_api_a_cached_lock_still_answers_404_for_another_readers_assignment(
    ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    anas, brunos = queue(batch, ana), queue(batch, bruno)
    read = {"labels": labels("NORM"), "revision": 0}
    ana_client = _client(ana)
    first = ana_client.post(f"{API}/{ref(anas[0])}/submit/", read, content_type="application/json")
    assert first.status_code == 200 and first.json()["next_assignment_id"] == ref(anas[1])
    bruno_client = _client(bruno)
    for target in (anas[0].pk, anas[1].pk):  # the lock's SQL is cached: the reader is still part of it
        answer = bruno_client.post(f"{API}/{ref(target)}/submit/", read, content_type="application/json")
        assert answer.status_code == 404
    own = bruno_client.post(f"{API}/{ref(brunos[0])}/submit/", read, content_type="application/json")
    assert own.status_code == 200 and own.json()["next_assignment_id"] == ref(brunos[1])
    last = ana_client.post(f"{API}/{ref(anas[1])}/submit/", read, content_type="application/json")
    assert last.status_code == 200 and last.json()["next_assignment_id"] is None
    assert Assignment.objects.filter(batch=batch, status=Assignment.Status.SUBMITTED).count() == 3


def _statements_prepared() -> dict[str, tuple[int, int]]:
    """This connection's server-side prepared statements: (generic plans, custom plans) by SQL text."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {sql: (generic, custom) for sql, generic, custom in cursor.fetchall()}


def _planned(statements: dict[str, tuple[int, int]], marker: str) -> tuple[int, int]:
    found = [plans for sql, plans in statements.items() if marker in sql]
    assert len(found) == 1, f"one prepared statement holding {marker!r}, got {len(found)}"
    return found[0]


def test_a_readers_submits_plan_the_lock_and_the_next_exam_query_once_per_connection(ana, bruno, diego, tnmg):
    # PostgreSQL spent more time planning the lock query (joins and the exposure subquery) than running
    # it. Prepared on the server, it is planned a few times per connection and then runs its kept plan.
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=9)
    mine = queue(batch, ana)
    client = _client(ana)
    for assignment, following in zip(mine, [*mine[1:], None], strict=True):
        read = {"labels": labels("NORM"), "revision": 0}
        answer = client.post(f"{API}/{ref(assignment)}/submit/", read, content_type="application/json")
        assert answer.status_code == 200
        assert answer.json()["next_assignment_id"] == (ref(following) if following else None)
    statements = _statements_prepared()
    generic, custom = _planned(statements, 'FOR UPDATE OF "annotations_assignment"')
    assert generic + custom == 9 and generic >= 1  # every submit ran it; the later ones without planning
    generic, custom = _planned(statements, '"annotations_assignment"."position" ASC')
    assert generic + custom >= 9 and generic >= 1
    assert Assignment.objects.filter(reader=ana, status=Assignment.Status.SUBMITTED).count() == 9


def test_with_prepared_statements_turned_off_the_same_answers_come_unprepared(ana, bruno, diego, tnmg):
    # DATABASE_PREPARED_STATEMENTS=0, for a connection pooler that cannot keep them (docs/scaling.md).
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2)
    mine = queue(batch, ana)
    driver = transaction.get_connection().connection
    kept, driver.prepare_threshold = driver.prepare_threshold, None
    try:
        with transaction.atomic():
            rows = selectors._LOCKED.rows(reader_id=ana.pk, assignment_id=mine[0].pk)
        assert rows == _as_the_orm_builds_it(
            selectors._locked_row, (), reader_id=ana.pk, assignment_id=mine[0].pk
        )
        assert _statements_prepared() == {}
    finally:
        driver.prepare_threshold = kept
