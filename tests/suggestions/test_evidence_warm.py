"""The evidence's agreement part is computed by the worker right after a recomputation commits, so the
first coordinator to open the evidence page afterwards reads it from the cache instead of computing it."""

from __future__ import annotations

import pytest

import annotations.selectors.suggestions.evidence as evidence
from annotations.services.reading import LabelInput, annotation_submit
from annotations.services.suggestions import suggestion_compute
from annotations.tasks.agreement import agreement_recompute
from tests.reading.helpers import queue, shared_batch
from tests.suggestions.test_suggestions_service import FixedProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_worker():
    """Queued tasks run at once, as a worker would right after the commit."""
    from ecgreview.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def read_batch(ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    for i, slot in enumerate(queue(batch, ana)):
        suggestion_compute(slot.exam_id, FixedProvider("1", {"SB": 0.2 + 0.3 * i, "AF": 0.1, "LBBB": 0.3}))
    for reader in (ana, bruno):
        for slot in queue(batch, reader):
            annotation_submit(actor=reader, assignment=slot, labels=[LabelInput("SB")], revision=0)
    return batch


def test_the_first_request_after_a_recomputation_reads_the_workers_figures(
    client_for, diego, read_batch, eager_worker, monkeypatch
):
    agreement_recompute(read_batch.pk)  # the worker's task: recompute, then fill the evidence's cache
    computed = []
    original = evidence.provider_agreement
    monkeypatch.setattr(evidence, "provider_agreement", lambda batch: computed.append(1) or original(batch))
    response = client_for(diego).get(f"/api/v1/batches/{read_batch.pk}/evidence/")
    assert response.status_code == 200
    (provider,) = response.json()["providers"]
    assert provider["provider"] == "fixed" and {row["code"] for row in provider["classes"]} >= {"SB"}
    assert computed == []  # nothing computed in the request
    page = client_for(diego).get(f"/batches/{read_batch.pk}/evidence/")
    assert page.status_code == 200 and computed == []


def test_a_failed_warm_up_leaves_the_page_to_compute_it(
    client_for, diego, read_batch, eager_worker, monkeypatch
):
    from django.core.cache import cache

    agreement_recompute(read_batch.pk)
    cache.clear()  # the cache lost its data (or the warm-up never ran): the request computes
    response = client_for(diego).get(f"/api/v1/batches/{read_batch.pk}/evidence/")
    assert response.status_code == 200 and response.json()["providers"][0]["provider"] == "fixed"
