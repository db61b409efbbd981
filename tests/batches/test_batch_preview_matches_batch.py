"""The designer's preview shows what the batch created from the same request holds: the same exams (same
seed, same draw), the same gold exams and the same test-retest re-reads, whatever the preview computes
cheaply instead of designing every slot."""

import re

import pytest

from annotations.models import (
    Assignment,
    BatchExam,
    DiagnosticClass,
    ReviewBatch,
    Suggestion,
    SuggestionScore,
)
from annotations.services.suggestions import latest_scores_upsert
from tests.factories import DatasetFactory, ExamFactory, add_reference_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(tnmg):
    """60 exams, each with a model score for AF and some with reference labels (gold candidates)."""
    exams = ExamFactory.create_batch(60, dataset=DatasetFactory(name="archive"))
    af = DiagnosticClass.objects.get(taxonomy=tnmg, code="AF")
    for i, exam in enumerate(exams):
        suggestion = Suggestion.objects.create(exam=exam, provider="m", provider_version="1", status="ok")
        SuggestionScore.objects.create(suggestion=suggestion, diagnostic_class=af, score=(i % 10) / 10)
        latest_scores_upsert(Suggestion.objects.filter(pk=suggestion.pk))  # as the services keep it
        if i % 3 == 0:
            add_reference_labels(exam, ("tnmg", "AF" if i % 2 else "NORM"))
    return exams


def design_post(tnmg, readers, **extra):
    return {
        "name": "Previewed",
        "taxonomy": tnmg.pk,
        "readers": [r.pk for r in readers],
        "readers_per_exam": 2,
        "suggestion_mode": "hidden",
        "datasets": ["archive"],
        "sample_size": 30,
        "strata": 4,
        "gold_fraction": 0.1,
        "retest_fraction": 0.2,
        "min_pair_overlap": 0,
        "seed": 7,
        "sex": "",
        "exam_page_size": 200,
        **extra,
    }


ROW = re.compile(r'<tr data-exam="(\d+)"><td><a href="/exams/\1/"[^>]*>[^<]*</a></td><td>(.*?)</td></tr>')


def previewed(page: str) -> dict[int, tuple[bool, bool]]:
    """exam id -> (gold, retest) as the preview lists them."""
    return {
        int(pk): ('class="tag gold"' in tags, 'class="tag retest"' in tags) for pk, tags in ROW.findall(page)
    }


def created(batch: ReviewBatch) -> dict[int, tuple[bool, bool]]:
    retest = set(Assignment.objects.filter(batch=batch, read_round=2).values_list("exam_id", flat=True))
    return {
        pk: (gold, pk in retest)
        for pk, gold in BatchExam.objects.filter(batch=batch).values_list("exam_id", "is_gold")
    }


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"stratify_by": "m:AF"},
        {"reference_labels": "tnmg:AF, tnmg:NORM", "sample_size": 18, "gold_fraction": 0.25},
        {"score_window": "m:AF", "suggestion_min": 0.5, "sample_size": 20},
    ],
    ids=["random", "stratified", "reference-labels", "score-window"],
)
def test_the_previewed_exams_are_the_created_batchs(client_for, diego, ana, bruno, tnmg, archive, extra):
    client = client_for(diego)
    preview = client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="preview", **extra))
    assert preview.status_code == 200
    shown = previewed(preview.content.decode())
    assert shown and any(gold for gold, _ in shown.values()) and any(retest for _, retest in shown.values())
    response = client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="create", **extra))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert created(ReviewBatch.objects.get()) == shown


def test_the_api_preview_counts_what_the_api_creates(client_for, diego, ana, bruno, tnmg, archive):
    body = {
        "name": "Counted",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["archive"], "reference_labels": ["tnmg:AF", "tnmg:NORM"]},
        "sample_size": 15,
        "gold_fraction": 0.2,
        "stratify_provider": "m",
        "stratify_code": "AF",
        "seed": 3,
    }
    client = client_for(diego)
    preview = client.post("/api/v1/batches/preview/", body, content_type="application/json")
    made = client.post("/api/v1/batches/", body, content_type="application/json")
    assert preview.status_code == 200 and made.status_code == 201
    assert preview.json() == {k: v for k, v in made.json().items() if k != "id"}
    batch = ReviewBatch.objects.get(pk=made.json()["id"])
    assert BatchExam.objects.filter(batch=batch).count() == preview.json()["exams"]
    assert BatchExam.objects.filter(batch=batch, is_gold=True).count() == preview.json()["gold_exams"]


def test_a_preview_where_every_reader_reads_every_exam_draws_no_slots(
    client_for, diego, ana, bruno, tnmg, archive, monkeypatch
):
    import annotations.selectors.batches.plan as plan_module

    drawn = []
    original = plan_module.design_batch
    monkeypatch.setattr(plan_module, "design_batch", lambda request: drawn.append(1) or original(request))
    client = client_for(diego)
    body = {"name": "All", "taxonomy_id": tnmg.pk, "reader_ids": [ana.pk, bruno.pk], "readers_per_exam": 2}
    preview = client.post(
        "/api/v1/batches/preview/", {**body, "sample_size": 40}, content_type="application/json"
    )
    assert preview.status_code == 200 and preview.json()["pair_overlap"] == [[40, 40], [40, 40]]
    page = client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="preview", retest_fraction=0))
    assert page.status_code == 200 and "30 of 60 matching exams" in page.content.decode()
    assert drawn == []  # the figures do not depend on the draw: nothing drawn
    retest = client.post(
        "/api/v1/batches/preview/", {**body, "retest_fraction": 0.2}, content_type="application/json"
    )
    assert retest.status_code == 200 and drawn == [1]  # where they do, the preview designs in full
    made = client.post("/api/v1/batches/", {**body, "sample_size": 40}, content_type="application/json")
    assert made.status_code == 201 and drawn == [1, 1]
    assert {k: v for k, v in made.json().items() if k != "id"} == preview.json()
