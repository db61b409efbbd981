"""The evidence's agreement part is computed by the worker right after a recomputation commits, so the
first coordinator to open the evidence page afterwards reads it from the cache instead of computing it."""

from __future__ import annotations

import pytest

import annotations.selectors.suggestions.evidence as evidence
from annotations.services.reading import LabelInput, annotation_submit
from annotations.services.suggestions import suggestion_compute
from annotations.tasks.agreement import agreement_recompute
from tests.factories import batch_for
from tests.reading.helpers import queue, shared_batch
from tests.suggestions.test_suggestions_service import FixedProvider

pytestmark = pytest.mark.django_db


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


def test_a_failed_warm_up_leaves_the_first_request_to_queue_it_again(
    client_for, diego, read_batch, eager_worker, monkeypatch
):
    from django.core.cache import cache

    agreement_recompute(read_batch.pk)
    cache.clear()  # the cache lost its data (or the warm-up never ran): the request asks the worker
    client = client_for(diego)
    response = client.get(f"/api/v1/batches/{read_batch.pk}/evidence/")
    assert response.status_code == 200 and response.json()["state"] == "computing"
    answer = client.get(f"/api/v1/batches/{read_batch.pk}/evidence/").json()  # the worker has run
    assert answer["state"] == "ready" and answer["providers"][0]["provider"] == "fixed"


def test_an_adjudication_leaves_the_evidence_computed_for_the_decided_state(
    client, carla, diego, tnmg, eager_worker, monkeypatch, django_capture_on_commit_callbacks
):
    """A decision changes the consensus the evidence compares against: the worker computes the new figures
    once it commits, so the next coordinator does not wait for them either."""
    from django.urls import reverse

    from annotations.services.agreement.compute import batch_agreement_compute
    from tests.adjudication.test_adjudication import read
    from tests.factories import UserFactory, make_exam

    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("zq-one", "zq-two"))
    exam = make_exam()
    batch = batch_for(tnmg, diego, [one, two], [exam], name="Disputes")
    suggestion_compute(exam.pk, FixedProvider("1", {"SB": 0.9, "LBBB": 0.6}))
    read(one, batch, exam, ["SB", "LBBB"])
    read(two, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    assert client.get(f"/api/v1/batches/{batch.pk}/evidence/").status_code == 200  # cached for the dispute
    client.force_login(carla)
    with django_capture_on_commit_callbacks(execute=True):  # what follows the commit, as in production
        decided = client.post(
            reverse("api-adjudication-case", args=[batch.pk, exam.pk]),
            {"decisions": [{"code": "LBBB", "value": True}], "version": 0},
            content_type="application/json",
        )
    assert decided.status_code == 200
    computed = []
    original = evidence.provider_agreement
    monkeypatch.setattr(evidence, "provider_agreement", lambda batch: computed.append(1) or original(batch))
    client.force_login(diego)
    response = client.get(f"/api/v1/batches/{batch.pk}/evidence/")
    assert response.status_code == 200 and computed == []
    (row,) = [r for r in response.json()["providers"][0]["classes"] if r["code"] == "LBBB"]
    assert row  # the decided class is in the figures the worker computed
