"""A coordinator who opens the suggestion evidence before its figures are computed is answered at once:
the page and the API say the worker is computing them (with the last figures, marked as such), the
worker is asked once, and the page follows the API until they are in. Computing them in the request took
1.3-1.7 s at CODE-II size (bench/scale.py)."""

from __future__ import annotations

import re

import pytest

import annotations.selectors.suggestions.evidence as evidence
from annotations.models import AgreementResult
from annotations.tasks.agreement import evidence_warm
from tests.suggestions import test_evidence

pytestmark = pytest.mark.django_db
scored_batch = test_evidence.scored_batch  # the fixture: four exams with hand-computed figures


@pytest.fixture
def computed_in_request(monkeypatch):
    """Each computation of the provider agreement, wherever it runs."""
    calls = []
    original = evidence.provider_agreement
    monkeypatch.setattr(
        evidence, "provider_agreement", lambda batch: calls.append(batch.pk) or original(batch)
    )
    return calls


def test_the_api_answers_computing_at_once_and_the_workers_figures_next(
    client_for,
    diego,
    scored_batch,
    computed_in_request,
):
    client = client_for(diego)
    first = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert computed_in_request == []  # nothing computed in the request
    assert (first["state"], first["consensus_rows"], first["providers"], first["computed_at"]) == (
        "computing",
        None,
        [],
        None,
    )
    again = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert again["state"] == "computing" and computed_in_request == []
    evidence_warm(scored_batch.pk)  # the worker's task, as it runs once queued
    ready = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert ready["state"] == "ready" and ready["consensus_rows"] == 16 and ready["computed_at"]
    assert computed_in_request == [scored_batch.pk]  # once, by the worker
    (provider,) = ready["providers"]
    assert {row["code"]: row["auc"] for row in provider["classes"]}["SB"] == 0.75


def test_after_a_change_the_last_figures_are_shown_as_such_until_the_new_ones_are_in(
    client_for,
    diego,
    scored_batch,
):
    client = client_for(diego)
    evidence_warm(scored_batch.pk)
    before = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert before["state"] == "ready"
    AgreementResult.objects.create(batch=scored_batch, algorithm_version="test", read_count=4)  # recomputed
    stale = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert stale["state"] == "computing"
    assert (stale["providers"], stale["consensus_rows"], stale["computed_at"]) == (
        before["providers"],
        16,
        before["computed_at"],
    )
    page = client.get(f"/batches/{scored_batch.pk}/evidence/").content.decode()
    assert 'id="evidence-computing"' in page and "changed since these figures were computed" in page
    # When, as every page writes times (no month names, capitalised or not, in any language).
    assert re.search(r"were computed \(\d{4}-\d{2}-\d{2} \d{2}:\d{2}\)", page)
    assert "js/pages/evidence.js" in page and "0.75" in page  # the last figures, under the notice
    evidence_warm(scored_batch.pk)
    page = client.get(f"/batches/{scored_batch.pk}/evidence/").content.decode()
    assert 'id="evidence-computing"' not in page and "js/pages/evidence.js" not in page


def test_the_first_page_says_the_figures_are_being_computed_and_queues_the_worker_once(
    client_for,
    diego,
    scored_batch,
    computed_in_request,
    settings,
):
    from django.core.cache import cache

    client = client_for(diego)
    page = client.get(f"/batches/{scored_batch.pk}/evidence/").content.decode()
    assert 'id="evidence-computing"' in page and "The worker is computing these figures" in page
    assert "No consensus yet" not in page and computed_in_request == []
    assert cache.get(f"suggestion-evidence:requested:{scored_batch.pk}") == 1  # asked once, coalesced
    client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/")
    evidence_warm(scored_batch.pk)
    assert cache.get(f"suggestion-evidence:requested:{scored_batch.pk}") is None  # done: may ask again


@pytest.mark.django_db(transaction=True)  # the thread reads with its own connection: committed data
def test_on_the_embedded_default_the_background_thread_computes_them(
    client_for,
    diego,
    scored_batch,
    settings,
):
    from ecgreview.inprocess import background

    settings.CELERY_TASK_ALWAYS_EAGER = True  # no broker, as `make run` configures it
    client = client_for(diego)
    assert client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()["state"] == "computing"
    background.drain()  # the thread's work, waited for
    ready = client.get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert ready["state"] == "ready" and ready["consensus_rows"] == 16


def test_with_the_cache_down_the_request_computes_the_figures(
    client_for,
    diego,
    scored_batch,
    settings,
):
    settings.CACHES = {
        "default": {
            "BACKEND": "ecgreview.cache.SharedClientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    data = client_for(diego).get(f"/api/v1/batches/{scored_batch.pk}/evidence/").json()
    assert data["state"] == "ready" and data["consensus_rows"] == 16


def _ready(answer: dict) -> dict | None:
    return answer if answer["state"] == "ready" else None


@pytest.mark.django_db(transaction=True)  # the worker is another process: committed data
def test_a_real_worker_computes_what_the_request_asked_for(client_for, diego, scored_batch):
    from tests.workers import celery_worker, wait_for

    client = client_for(diego)
    url = f"/api/v1/batches/{scored_batch.pk}/evidence/"
    with celery_worker(queues="default"):
        assert client.get(url).json()["state"] == "computing"
        ready = wait_for(lambda: _ready(client.get(url).json()), timeout=60)
    assert ready["consensus_rows"] == 16 and ready["providers"][0]["provider"] == "fixed"
