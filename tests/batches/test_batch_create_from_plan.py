"""Creating the batch a coordinator previewed: the preview's design is stored as it was shown, designed
once; a change in who may read what since the preview is designed anew. Sampling keeps the pool in the
database and draws what drawing from the whole pool drew."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

import annotations.selectors.batches.plan as plan_module
import annotations.selectors.exams.selection as selection_module
import annotations.services.batches.lifecycle as lifecycle
from annotations.lib.batch_design import sample_random, sample_stratified
from annotations.models import (
    AdjudicationView,
    Assignment,
    BatchExam,
    DiagnosticClass,
    ReviewBatch,
    Suggestion,
    SuggestionScore,
)
from annotations.selectors.batches.plan import BatchSpec, batch_plan
from annotations.selectors.exams.selection import (
    ExamCriteria,
    id_ranges,
    matching_ids,
    matching_scores,
    suggestion_scores,
)
from annotations.services.batches.lifecycle import batch_create_from_plan
from annotations.services.suggestions import latest_scores_upsert
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def archive():
    return ExamFactory.create_batch(40, dataset=DatasetFactory(name="archive"))


def spec(readers, tnmg, **extra):
    return BatchSpec(
        name="Planned",
        taxonomy_id=tnmg.pk,
        reader_ids=[r.pk for r in readers],
        readers_per_exam=extra.pop("readers_per_exam", 2),
        criteria=ExamCriteria(datasets=["archive"]),
        **extra,
    )


def test_a_batch_created_through_the_api_is_designed_once(
    client_for, diego, ana, bruno, tnmg, archive, monkeypatch
):
    calls = []
    for module in (plan_module, lifecycle):
        original = module.design_batch
        monkeypatch.setattr(module, "design_batch", lambda request, f=original: calls.append(1) or f(request))
    body = {"name": "Once", "taxonomy_id": tnmg.pk, "reader_ids": [ana.pk, bruno.pk], "readers_per_exam": 2}
    created = client_for(diego).post(
        "/api/v1/batches/",
        {**body, "sample_size": 10},
        content_type="application/json",
    )
    assert created.status_code == 201 and len(calls) == 1


def test_the_stored_queues_are_the_previewed_design_every_slot_pending(diego, ana, bruno, tnmg):
    # External ids against the id order: the exams' default order must not reshuffle the design.
    dataset = DatasetFactory(name="archive")
    for i in range(40):
        ExamFactory(dataset=dataset, external_id=f"x{99 - i:03d}")
    plan = batch_plan(diego, spec([ana, bruno], tnmg, sample_size=20, gold_fraction=0, retest_fraction=0.25))
    batch = batch_create_from_plan(plan=plan, actor=diego)
    stored = Assignment.objects.filter(batch=batch)
    assert sorted(stored.values_list("reader_id", "exam_id", "read_round", "position")) == sorted(
        (s.reader_id, s.exam_id, s.read_round, s.position) for s in plan.design.slots
    )
    assert set(stored.values_list("status", "skip_reason", "started_at", "replaces_id")) == {
        ("pending", "", None, None)
    }
    assert not stored.filter(assigned_at__isnull=True).exists()
    assert sorted(
        BatchExam.objects.filter(batch=batch).values_list("exam_id", "target_reads", "is_gold")
    ) == [(e, 2, False) for e in sorted(plan.exam_ids)]


def test_a_dispute_seen_after_the_preview_keeps_the_exam_from_that_reader(
    diego, ana, bruno, carla, tnmg, archive
):
    plan = batch_plan(diego, spec([ana, bruno], tnmg, readers_per_exam=1, sample_size=10))
    exam_id = next(s.exam_id for s in plan.design.slots if s.reader_id == ana.pk)
    other = batch_for(tnmg, diego, [bruno], archive[:1], name="Earlier")
    AdjudicationView.objects.create(batch=other, exam_id=exam_id, adjudicator=ana)
    batch = batch_create_from_plan(plan=plan, actor=diego)
    assert list(
        Assignment.objects.filter(batch=batch, exam_id=exam_id).values_list("reader_id", flat=True)
    ) == [bruno.pk]


def test_a_random_sample_is_what_drawing_from_the_whole_matching_pool_draws(diego, ana, bruno, tnmg, archive):
    ExamFactory.create_batch(5, dataset=DatasetFactory(name="elsewhere"))
    pool = [e.pk for e in archive]
    for seed in (0, 1, 7):
        plan = batch_plan(diego, spec([ana, bruno], tnmg, sample_size=13, seed=seed))
        assert plan.exam_ids == sample_random(pool, 13, seed) and plan.matching == 40


def test_the_pool_is_every_matching_id_ascending_whatever_order_the_rows_lie_in(diego, tnmg, archive):
    for exam in archive[:5]:  # an updated row moves to the end of the table on PostgreSQL
        exam.age = 50
        exam.save(update_fields=["age"])
    if connection.vendor == "postgresql":  # read the table in the order its rows lie in, not by an index
        with connection.cursor() as cursor:
            for scan in ("indexscan", "indexonlyscan", "bitmapscan"):
                cursor.execute(f"SET LOCAL enable_{scan} = off")
    pool = matching_ids(diego, ExamCriteria(datasets=["archive"]))
    assert pool.tolist() == sorted(e.pk for e in archive)
    assert matching_ids(diego, ExamCriteria(datasets=["nowhere"])).tolist() == []
    ids, scores = matching_scores(diego, ExamCriteria(datasets=["archive"]), provider="m", code="AF")
    assert ids.tolist() == sorted(e.pk for e in archive) and scores.tolist() == [0.0] * 40


@pytest.mark.parametrize("ranges_per_process", [1, 3, 40])
def test_the_pool_read_in_id_ranges_is_every_matching_id_once_ascending(
    diego, tnmg, archive, monkeypatch, ranges_per_process
):
    """The pool is read as one array per range of exam ids (several processes aggregate ranges of their
    own): the ranges' edges may fall on any id, the table's first and last exams included, and the
    criteria (a dataset, an age, a model score window) hold in every range."""
    monkeypatch.setattr(selection_module, "IDS_PER_RANGE", 1)
    monkeypatch.setattr(selection_module, "RANGES_PER_PROCESS", ranges_per_process)
    elsewhere = ExamFactory.create_batch(6, dataset=DatasetFactory(name="elsewhere"))
    first, last = archive[0], ExamFactory(dataset=archive[0].dataset)
    for exam in [*archive[::3], last]:
        exam.age = 70
        exam.save(update_fields=["age"])
    af = DiagnosticClass.objects.get(taxonomy=tnmg, code="AF")
    for exam in [first, *archive[5:9], elsewhere[0], last]:
        suggestion = Suggestion.objects.create(exam=exam, provider="m", provider_version="1", status="ok")
        SuggestionScore.objects.create(suggestion=suggestion, diagnostic_class=af, score=0.9)
        latest_scores_upsert(Suggestion.objects.filter(pk=suggestion.pk))
    every = [*archive, last]
    cases = [
        (ExamCriteria(datasets=["archive"]), every),
        (ExamCriteria(datasets=["archive"], age_min=60), [*archive[::3], last]),
        (
            ExamCriteria(suggestion_provider="m", suggestion_code="AF", suggestion_min=0.5),
            [first, *archive[5:9], elsewhere[0], last],
        ),
        (ExamCriteria(), [*every, *elsewhere]),
        (ExamCriteria(datasets=["nowhere"]), []),
    ]
    processes = selection_module.parallel_aggregates() if connection.vendor == "postgresql" else 1
    for criteria, expected in cases:
        with CaptureQueriesContext(connection) as queries:
            pool = matching_ids(diego, criteria)
        assert pool.tolist() == sorted(e.pk for e in expected)
        if connection.vendor == "postgresql":
            parts = max(query["sql"].count(" UNION ALL ") + 1 for query in queries.captured_queries)
            # a score window is read whole: by ranges, each would read all of the class's scores
            ranged = criteria.suggestion_provider is None
            assert parts == (min(ranges_per_process * processes, last.pk - first.pk + 1) if ranged else 1)


@given(
    low=st.integers(min_value=1, max_value=10**12),
    span=st.integers(min_value=0, max_value=10**7),
    most=st.integers(min_value=1, max_value=64),
    per_range=st.integers(min_value=1, max_value=10**6),
)
@settings(max_examples=300, deadline=None)
def test_id_ranges_cover_every_id_once_in_order(low, span, most, per_range):
    high = low + span
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(selection_module, "IDS_PER_RANGE", per_range)
        ranges = id_ranges(low, high, most)
    assert ranges[0][0] == low and ranges[-1][1] == high + 1
    assert all(a < b for a, b in ranges)
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    assert 1 <= len(ranges) <= most
    if len(ranges) > 1:
        assert min(b - a for a, b in ranges) >= per_range - 1


def test_a_stratified_sample_scores_each_exam_by_its_newest_suggestion(diego, ana, bruno, tnmg, archive):
    af = DiagnosticClass.objects.filter(taxonomy=tnmg, code="AF").first()
    for i, exam in enumerate(archive[:30]):
        for version, score in (("1", 0.95), ("2", (i % 10) / 10)):  # version 2 is newer and wins
            suggestion = Suggestion.objects.create(
                exam=exam, provider="m", provider_version=version, status="ok"
            )
            SuggestionScore.objects.create(suggestion=suggestion, diagnostic_class=af, score=score)
            latest_scores_upsert(Suggestion.objects.filter(pk=suggestion.pk))  # as the services keep it
    plan = batch_plan(
        diego,
        spec([ana, bruno], tnmg, sample_size=12, stratify_provider="m", stratify_code="AF", strata=4, seed=2),
    )
    scores = suggestion_scores(diego, [e.pk for e in archive], provider="m", code="AF")
    expected = sample_stratified(scores, 12, 2, 4)
    assert plan.exam_ids == expected.exam_ids
    assert plan.stratified.available == expected.available == [19, 6, 9, 6]
    assert plan.stratified.taken == expected.taken


@pytest.mark.parametrize("code", ["NO-SUCH-CODE", "AF"])
def test_stratifying_by_a_code_no_model_scores_is_a_preview_not_a_server_error(
    client_for, diego, ana, bruno, tnmg, archive, code
):
    body = {
        "name": "Stratified",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
        "sample_size": 10,
        "stratify_provider": "nobody",
        "stratify_code": code,
        "strata": 2,
    }
    response = client_for(diego).post("/api/v1/batches/preview/", body, content_type="application/json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert code in response.json()["detail"]


@pytest.mark.parametrize(
    "window",
    [
        {"suggestion_provider": "typo", "suggestion_code": "AF", "suggestion_max": 0.3},
        {"suggestion_provider": "typo", "suggestion_code": "NO-SUCH-CODE"},
        {"suggestion_provider": "typo", "suggestion_code": "AF"},
    ],
    ids=["unknown-provider", "unknown-code", "no-bounds"],
)
def test_a_score_window_nobody_scored_matches_no_exam_and_changes_nothing(
    client_for, diego, ana, bruno, tnmg, archive, window
):
    body = {
        "name": "Windowed",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"], **window},
    }
    client = client_for(diego)
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content)
        assert "no exam matches the criteria" in response.json()["detail"]
    assert not ReviewBatch.objects.filter(name="Windowed").exists()
    running = batch_for(tnmg, diego, [ana, bruno], archive[:2], name="Running")
    response = client.post(
        f"/api/v1/batches/{running.pk}/exams/", {"criteria": window}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert running.batch_exams.count() == 2


@pytest.mark.parametrize("seed", [1, 2, 3, 11])
def test_a_reader_who_saw_disputes_leaves_the_other_readers_loads_within_one(
    client_for, diego, ana, bruno, tnmg, seed
):
    """The coordinator's case: one reader (also an adjudicator) opened the disputes of 6 of 15 exams, so
    reads at most 9 of the 30 reads; the other two share the rest within one exam of each other."""
    carla = UserFactory(username="carla-reads", roles=["reader", "adjudicator"])
    exams = ExamFactory.create_batch(15, dataset=DatasetFactory(name="clinic"))
    # Read by someone outside the study: the disputes carla opened are all that keeps anyone away.
    eli = UserFactory(username="eli", roles=["reader"])
    earlier = batch_for(tnmg, diego, [eli], exams[:6], name="Earlier")
    for exam in exams[:6]:
        AdjudicationView.objects.create(batch=earlier, exam_id=exam.pk, adjudicator=carla)
    body = {
        "name": "Clinic study",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk, carla.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["clinic"]},
        "seed": seed,
    }
    created = client_for(diego).post("/api/v1/batches/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    loads = {
        r.username: Assignment.objects.filter(batch=batch, reader=r).count() for r in (ana, bruno, carla)
    }
    assert loads["carla-reads"] == 9 and sorted([loads["ana"], loads["bruno"]]) == [10, 11], loads


def test_ids_past_four_bytes_come_back_whole(diego, tnmg, archive):
    """The pool's ids travel in 4 bytes while every exam's id fits; an archive past two billion ids (an
    exam imported with a large id, a sequence moved on) has them sent in 8, the same ids either way."""
    small = sorted(e.pk for e in archive)
    assert matching_ids(diego, ExamCriteria(datasets=["archive"])).tolist() == small
    large = [ExamFactory(id=2**31 + n, dataset=archive[0].dataset).pk for n in (0, 7)]
    pool = matching_ids(diego, ExamCriteria(datasets=["archive"]))
    assert pool.tolist() == [*small, *large]
