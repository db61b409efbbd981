"""The designer stratifies by each exam's newest OK score of a class from a provider, kept beside the exams
by the services that write scores: the same answer as picking the newest among every suggestion and its
scores at each request, on data where the newest is not the obvious one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from annotations.lib.batch_design import sample_stratified
from annotations.lib.providers.base import Provider, ProviderResult
from annotations.models import (
    BatchExam,
    DiagnosticClass,
    Exam,
    LatestSuggestionScore,
    Suggestion,
    SuggestionScore,
)
from annotations.selectors.exams import selection
from annotations.selectors.exams.selection import suggestion_scores
from annotations.services.imports.predictions import predictions_import
from annotations.services.suggestions import latest_scores_upsert, suggestion_compute
from tests.factories import DatasetFactory, DiagnosticClassFactory, ExamFactory, batch_for, make_exam

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROW = re.compile(r'<tr data-exam="(\d+)">')


def scored(exam, provider, version, at, scores, status="ok"):
    """A suggestion and its scores, kept as the services keep them (one upsert per write)."""
    suggestion = Suggestion.objects.create(
        exam=exam, provider=provider, provider_version=version, status=status, computed_at=T0 + at
    )
    for diagnostic_class, score in scores.items():
        SuggestionScore.objects.create(suggestion=suggestion, diagnostic_class=diagnostic_class, score=score)
    latest_scores_upsert(Suggestion.objects.filter(pk=suggestion.pk))
    return suggestion


@pytest.fixture
def af(tnmg):
    return DiagnosticClass.objects.get(taxonomy=tnmg, code="AF")


@pytest.fixture
def af_elsewhere(db):
    """Another taxonomy's statement with the same code: the designer's code names both."""
    return DiagnosticClassFactory(code="AF")


@pytest.fixture
def tricky(af, af_elsewhere):
    """40 exams whose newest score of "AF" from provider "m" is each time found another way."""
    exams = ExamFactory.create_batch(40, dataset=DatasetFactory(name="archive"))
    hour = timedelta(hours=1)
    for i, exam in enumerate(exams):
        s = (i % 10) / 10 + 0.05
        kind = i % 8
        if kind == 0:  # version 2 computed before version 1 and stored after it: version 1 is newest
            scored(exam, "m", "1", 2 * hour, {af: s})
            scored(exam, "m", "2", hour, {af: 0.99})
        elif kind == 1:  # the same, stored in the other order
            scored(exam, "m", "2", hour, {af: 0.99})
            scored(exam, "m", "1", 2 * hour, {af: s})
        elif kind == 2:  # a newer failed version has no score and replaces nothing
            scored(exam, "m", "1", hour, {af: s})
            scored(exam, "m", "2", 3 * hour, {}, status="failed")
        elif kind == 3:  # the newest is the other taxonomy's statement with the same code
            scored(exam, "m", "1", hour, {af: 0.99})
            scored(exam, "m", "2", 2 * hour, {af_elsewhere: s})
        elif kind == 4:  # computed at the same time: the later row wins
            scored(exam, "m", "1", hour, {af: 0.99, af_elsewhere: 0.99})
            scored(exam, "m", "2", hour, {af: s, af_elsewhere: s})
        elif kind == 5:  # another provider's newer, higher score is not "m"'s
            scored(exam, "m", "1", hour, {af: s})
            scored(exam, "other", "9", 5 * hour, {af: 0.99})
        elif kind == 6:  # only another provider: "m" scores it 0
            scored(exam, "other", "9", hour, {af: 0.99})
        # kind 7: no suggestion at all, scores 0
    return exams


def newest_scores(exam_ids, provider: str, code: str) -> dict[int, float]:
    """The newest OK score of the code per exam, picked from every suggestion and score (the old query)."""
    best: dict[int, tuple] = {}
    rows = SuggestionScore.objects.filter(
        suggestion__provider=provider, suggestion__status="ok", diagnostic_class__code=code
    ).values_list("suggestion__exam_id", "suggestion__computed_at", "suggestion_id", "score")
    for exam_id, computed_at, suggestion_id, score in rows:
        if exam_id not in best or (computed_at, suggestion_id) > best[exam_id][:2]:
            best[exam_id] = (computed_at, suggestion_id, score)
    return {pk: best[pk][2] if pk in best else 0.0 for pk in exam_ids}


def test_the_reference_is_tricky(tricky):
    scores = newest_scores([e.pk for e in tricky], "m", "AF")
    assert [scores[e.pk] for e in tricky[:8]] == pytest.approx([0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0, 0])


def design_post(tnmg, readers, **extra):
    return {
        "name": "Stratified",
        "taxonomy": tnmg.pk,
        "readers": [r.pk for r in readers],
        "readers_per_exam": 2,
        "suggestion_mode": "hidden",
        "datasets": ["archive"],
        "sample_size": 12,
        "strata": 4,
        "gold_fraction": 0,
        "retest_fraction": 0,
        "min_pair_overlap": 0,
        "sex": "",
        "exam_page_size": 200,
        "stratify_by": "m:AF",
        **extra,
    }


def api_body(tnmg, readers, *, dataset: str, sample_size: int, seed: int, strata: int) -> dict:
    """The designer API's request for a sample of one dataset stratified by provider "m"'s AF score."""
    return {
        "name": "Stratified",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 2,
        "criteria": {"datasets": [dataset]},
        "sample_size": sample_size,
        "seed": seed,
        "stratify_provider": "m",
        "stratify_code": "AF",
        "strata": strata,
    }


@pytest.mark.parametrize(("seed", "strata"), [(0, 4), (3, 2), (5, 3)])
def test_the_designer_preview_draws_by_each_exams_newest_ok_score(
    client_for, diego, ana, bruno, tnmg, tricky, seed, strata
):
    expected = sample_stratified(newest_scores([e.pk for e in tricky], "m", "AF"), 12, seed, strata)
    client = client_for(diego)
    page = client.post(
        "/batches/new/", design_post(tnmg, [ana, bruno], action="preview", seed=seed, strata=strata)
    )
    assert page.status_code == 200
    assert sorted(int(pk) for pk in ROW.findall(page.content.decode())) == expected.exam_ids
    body = api_body(tnmg, [ana, bruno], dataset="archive", sample_size=12, seed=seed, strata=strata)
    preview = client.post("/api/v1/batches/preview/", body, content_type="application/json")
    made = client.post("/api/v1/batches/", body, content_type="application/json")
    assert preview.status_code == 200 and made.status_code == 201, made.content
    assert preview.json()["exams"] == len(expected.exam_ids)
    batch_exams = BatchExam.objects.filter(batch_id=made.json()["id"]).values_list("exam_id", flat=True)
    assert sorted(batch_exams) == expected.exam_ids


def test_each_exams_scores_for_the_designer_are_its_newest_ok_ones(diego, tricky):
    ids = [e.pk for e in tricky]
    for provider in ("m", "other"):
        assert suggestion_scores(diego, ids, provider=provider, code="AF") == newest_scores(
            ids, provider, "AF"
        )


def kept() -> set[tuple]:
    return set(
        LatestSuggestionScore.objects.values_list(
            "provider", "diagnostic_class_id", "exam_id", "suggestion_id", "score"
        )
    )


def newest_rows() -> set[tuple]:
    """Per (provider, class, exam), the newest OK suggestion's score, from every score."""
    best: dict[tuple, tuple] = {}
    for score in SuggestionScore.objects.filter(suggestion__status="ok").select_related("suggestion"):
        s = score.suggestion
        key = (s.provider, score.diagnostic_class_id, s.exam_id)
        if key not in best or (s.computed_at, s.pk) > best[key][:2]:
            best[key] = (s.computed_at, s.pk, score.score)
    return {(*key, pk, value) for key, (_, pk, value) in best.items()}


def test_the_kept_rows_are_the_newest_ok_score_whatever_order_they_are_written_in(tricky):
    assert kept() == newest_rows() and len(kept()) > 30
    latest_scores_upsert(Suggestion.objects.order_by("-pk"))  # all again, newest first: nothing moves
    latest_scores_upsert(Suggestion.objects.all())
    assert kept() == newest_rows()


def test_deleting_an_exam_deletes_its_kept_scores(tricky):
    exam = tricky[0]
    assert LatestSuggestionScore.objects.filter(exam=exam).exists()
    Exam.objects.filter(pk=exam.pk).delete()
    assert not LatestSuggestionScore.objects.filter(exam_id=exam.pk).exists()
    assert kept() == newest_rows()


BEFORE = [("annotations", "0019_suggestion_score_window")]
AFTER = [("annotations", "0020_latest_suggestion_score")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_newest_ok_score_of_what_is_stored(tnmg, af, af_elsewhere):
    ExamFactory.create_batch(16, dataset=DatasetFactory(name="archive"))
    hour = timedelta(hours=1)
    # Written without the kept rows, as before the migration (the newest picked by the migration alone).
    for i, exam in enumerate(Exam.objects.order_by("pk")):
        for version, at, provider, status, scores in (
            ("1", (i % 3) * hour, "m", "ok", {af: (i % 10) / 10}),
            ("2", hour, "m", "ok" if i % 4 else "failed", {af: 0.5, af_elsewhere: 0.7} if i % 4 else {}),
            ("3", 2 * hour, "other", "ok", {af: 0.9}),
        ):
            suggestion = Suggestion.objects.create(
                exam=exam, provider=provider, provider_version=version, status=status, computed_at=T0 + at
            )
            for diagnostic_class, score in scores.items():
                SuggestionScore.objects.create(
                    suggestion=suggestion, diagnostic_class=diagnostic_class, score=score
                )
    expected = newest_rows()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert kept() == expected and len(expected) == 16 * 2 + 12


class Fixed(Provider):
    """A real provider with known output (or none: it fails), for the computing service."""

    name = "fixed"
    codes = ("AF",)

    def __init__(self, version: str, af: float | None) -> None:
        self.version, self.af = version, af

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        if self.af is None:
            raise ValueError("this version cannot read the exam")
        return ProviderResult(scores={"AF": self.af}, measurements={})


def test_the_services_keep_each_exams_newest_ok_score_as_they_store_scores(tmp_path, tnmg, af, ana, diego):
    exam = make_exam(DatasetFactory(name="small"), external_id="e0")
    assert suggestion_compute(exam.pk, Fixed("1", 0.2)).status == "ok"
    assert suggestion_compute(exam.pk, Fixed("2", 0.7)).status == "ok"
    assert suggestion_compute(exam.pk, Fixed("3", None)).status == "failed"  # replaces nothing
    assert suggestion_scores(diego, [exam.pk], provider="fixed", code="AF") == {exam.pk: 0.7}
    # The exam joins a batch of another taxonomy: each stored version gets its scores there, the
    # newer first, and the older one's coming after does not replace it.
    later = DiagnosticClassFactory(code="AF")
    batch_for(later.taxonomy, diego, [ana], [exam], name="Later")
    suggestion_compute(exam.pk, Fixed("2", 0.7))
    suggestion_compute(exam.pk, Fixed("1", 0.2))
    assert LatestSuggestionScore.objects.get(diagnostic_class=later).score == 0.7
    assert suggestion_scores(diego, [exam.pk], provider="fixed", code="AF") == {exam.pk: 0.7}
    path = tmp_path / "p.csv"
    for version, score in (("v1", 0.9), ("v2", 0.4)):  # the one imported last is the newest
        path.write_text(f"exam_id,AF\ne0,{score}\n")
        predictions_import(dataset="small", provider="offline", version=version, path=path)
    assert suggestion_scores(diego, [exam.pk], provider="offline", code="AF") == {exam.pk: 0.4}
    assert kept() == newest_rows() and len(kept()) == 4  # two providers x two taxonomies


def in_window(exams, provider: str, low: float | None, high: float | None) -> list[int]:
    """The exams the provider scored for "AF" whose newest OK score lies in [low, high] (either open)."""
    ids = [e.pk for e in exams]
    scored_ids = set(
        Suggestion.objects.filter(
            provider=provider, status="ok", scores__diagnostic_class__code="AF"
        ).values_list("exam_id", flat=True)
    )
    newest = newest_scores(ids, provider, "AF")
    return sorted(
        pk
        for pk in ids
        if pk in scored_ids and (low is None or newest[pk] >= low) and (high is None or newest[pk] <= high)
    )


@pytest.fixture
def windowed(tricky, af, af_elsewhere):
    """tricky's exams and 40 more whose older scores are low or middling (0.01, 0.45), their newest any:
    an "any version" window errs every way."""
    exams = ExamFactory.create_batch(40, dataset=DatasetFactory(name="archive"))
    hour = timedelta(hours=1)
    for i, exam in enumerate(exams):
        s = (i % 10) / 10 + 0.05
        older = 0.01 if i % 4 < 2 else 0.45
        # An older version scored it, or the other taxonomy's statement did earlier.
        scored(exam, "m", "1", hour, {af if i % 2 else af_elsewhere: older})
        scored(exam, "m", "2", 2 * hour, {af: s})
    return tricky + exams


# Boundaries are stored newest scores (tricky[3]'s 0.35, tricky[5]'s 0.55), sent as they are stored, so
# that "inclusive" is checked on equal floats; the windows also hold exams whose older version or other
# taxonomy's statement scored 0.99, and exams scored 0.99 by the other provider only.
WINDOWS = {
    "min only": ("m", 5, None),
    "max only": ("m", None, 3),
    "both": ("m", 3, 5),
    "high min": ("m", 0.9, None),
    "other provider": ("other", 0.5, 1.0),
}


def window_body(tnmg, reader, *, provider: str, low: float | None, high: float | None) -> dict:
    """The designer API's request for the "archive" exams whose newest AF score from `provider` lies in
    [low, high] (either open), read once by `reader`."""
    return {
        "name": "Window",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [reader.pk],
        "readers_per_exam": 1,
        "criteria": {
            "datasets": ["archive"],
            "suggestion_provider": provider,
            "suggestion_code": "AF",
            "suggestion_min": low,
            "suggestion_max": high,
        },
    }


@pytest.mark.parametrize("window", list(WINDOWS), ids=list(WINDOWS))
def test_the_score_window_matches_each_exams_newest_ok_score(client_for, diego, ana, tnmg, windowed, window):
    provider, low, high = WINDOWS[window]
    newest = newest_scores([e.pk for e in windowed], provider, "AF")
    low = newest[windowed[low].pk] if isinstance(low, int) else low
    high = newest[windowed[high].pk] if isinstance(high, int) else high
    expected = in_window(windowed, provider, low, high)
    body = window_body(tnmg, ana, provider=provider, low=low, high=high)
    client = client_for(diego)
    preview = client.post("/api/v1/batches/preview/", body, content_type="application/json")
    made = client.post("/api/v1/batches/", body, content_type="application/json")
    assert preview.status_code == 200 and made.status_code == 201, made.content
    assert preview.json()["exams"] == len(expected)
    batch_exams = BatchExam.objects.filter(batch_id=made.json()["id"]).values_list("exam_id", flat=True)
    assert sorted(batch_exams) == expected


def test_the_windows_boundaries_are_newest_scores_and_older_ones_lie_elsewhere(windowed):
    """The windows above mean something: their boundaries are hit, and an "any version" window differs
    from them both ways."""
    newest = newest_scores([e.pk for e in windowed], "m", "AF")
    low, high = newest[windowed[3].pk], newest[windowed[5].pk]
    assert (low, high) == pytest.approx((0.35, 0.55))
    assert {windowed[3].pk, windowed[5].pk} <= set(in_window(windowed, "m", low, high))

    def any_version(score):
        return set(
            SuggestionScore.objects.filter(suggestion__provider="m", score=score).values_list(
                "suggestion__exam_id", flat=True
            )
        )

    assert any_version(0.99) - set(in_window(windowed, "m", 0.9, None))
    assert any_version(0.01) - set(in_window(windowed, "m", None, high))
    assert any_version(0.45) - set(in_window(windowed, "m", low, high))


def _edges_and_neighbours() -> list[float]:
    """Scores on every stratum edge for 1-10 strata, and the nearest floats either side of each."""
    values = {0.0, 1.0, 0.999999, 1e-12}
    for strata in range(1, 11):
        for j in range(strata + 1):
            edge = j / strata
            values |= {edge, float(np.nextafter(edge, 0.0)), float(np.nextafter(edge, 1.0))}
    return sorted(v for v in values if 0.0 <= v <= 1.0)


@pytest.fixture
def on_the_edges(af):
    """An exam for each score on or beside a stratum edge (one statement, the common case), and ten exams
    with no score at all."""
    dataset = DatasetFactory(name="edges")
    exams = []
    for value in _edges_and_neighbours():
        exam = ExamFactory(dataset=dataset)
        scored(exam, "m", "1", timedelta(hours=1), {af: value})
        exams.append(exam)
    return exams + ExamFactory.create_batch(10, dataset=dataset)


@pytest.mark.parametrize("strata", [1, 2, 3, 4, 5, 6, 7, 9, 10])
def test_scores_on_a_stratum_edge_or_one_float_beside_it_fall_in_the_same_stratum_as_computed_in_full(
    client_for, diego, ana, bruno, tnmg, on_the_edges, strata
):
    """The designer reads only the scores that can leave the lowest stratum: none of them may be lost, and
    none of those below may be counted above it."""
    ids = [e.pk for e in on_the_edges]
    expected = sample_stratified(newest_scores(ids, "m", "AF"), 40, 11, strata)
    assert strata == 1 or expected.available[0] < len(ids)  # the edges do spread over the strata
    body = api_body(tnmg, [ana, bruno], dataset="edges", sample_size=40, seed=11, strata=strata)
    client = client_for(diego)
    made = client.post("/api/v1/batches/", body, content_type="application/json")
    assert made.status_code == 201, made.content
    batch_exams = BatchExam.objects.filter(batch_id=made.json()["id"]).values_list("exam_id", flat=True)
    assert sorted(batch_exams) == expected.exam_ids
    asked = design_post(tnmg, [ana, bruno], action="preview", datasets=["edges"], sample_size=40, seed=11)
    page = client.post("/batches/new/", {**asked, "strata": strata})
    assert sorted(int(pk) for pk in ROW.findall(page.content.decode())) == expected.exam_ids


@pytest.fixture
def interleaved(af):
    """Exams of two datasets, their ids interleaved, every one scored by "m" (one statement): the first and
    the last exam, and every third, belong to the dataset outside the criteria, and four inside have no
    score."""
    inside, outside = DatasetFactory(name="inside"), DatasetFactory(name="outside")
    exams = []
    for i in range(40):
        exam = ExamFactory(dataset=outside if i % 3 == 0 or i == 39 else inside)
        if i not in (4, 10, 20, 38):
            scored(exam, "m", "1", timedelta(hours=1), {af: ((i * 7) % 10) / 10 + 0.05})
        exams.append(exam)
    return exams


@pytest.mark.parametrize("pool_read", ["by its ids", "every score over the bound"])
@pytest.mark.parametrize(("strata", "seed"), [(2, 0), (4, 7), (10, 3)])
def test_the_strata_count_only_the_matching_exams_scores_and_the_api_says_them(
    client_for, diego, ana, bruno, tnmg, interleaved, strata, seed, pool_read, monkeypatch
):
    """The scores of exams outside the criteria, before, between and after the matching ones, count
    nowhere, whichever way the pool's scores are read; the preview's answer gives the strata, as the
    designer page shows them."""
    if pool_read == "every score over the bound":
        monkeypatch.setattr(selection, "FEW_EXAMS", 0)
    inside = [e.pk for e in interleaved if e.dataset.name == "inside"]
    expected = sample_stratified(newest_scores(inside, "m", "AF"), 15, seed, strata)
    body = api_body(tnmg, [ana, bruno], dataset="inside", sample_size=15, seed=seed, strata=strata)
    client = client_for(diego)
    preview = client.post("/api/v1/batches/preview/", body, content_type="application/json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["matching"] == len(inside) == 26
    assert preview.json()["strata"] == {
        "edges": pytest.approx(expected.edges),
        "available": expected.available,
        "taken": expected.taken,
    }
    made = client.post("/api/v1/batches/", body, content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["strata"]["available"] == expected.available
    batch_exams = BatchExam.objects.filter(batch_id=made.json()["id"]).values_list("exam_id", flat=True)
    assert sorted(batch_exams) == expected.exam_ids


def test_a_preview_that_is_not_stratified_has_no_strata(client_for, diego, ana, bruno, tnmg, interleaved):
    body = api_body(tnmg, [ana, bruno], dataset="inside", sample_size=15, seed=0, strata=4)
    body["stratify_provider"] = body["stratify_code"] = None
    preview = client_for(diego).post("/api/v1/batches/preview/", body, content_type="application/json")
    assert preview.status_code == 200 and preview.json()["strata"] is None
