"""A coordinator asks for occlusion sensitivity of an exam (the exam page's button, or the API); a real
Celery worker on the models queue computes it with the configured ONNX model and stores one band per
class, which the exam page then lists. Nobody else may ask, and a model that cannot do it is refused."""

from __future__ import annotations

import json

import pytest

from annotations.models import AuditEvent, Suggestion, SuggestionRelevance
from annotations.services.suggestions import suggestion_compute, suggestion_providers
from tests.factories import make_exam
from tests.suggestions.test_relevance_onnx import install, window_graph
from tests.workers import celery_worker, wait_for

API = "/api/v1/exams/{}/occlusion/"
PAGE = "/exams/{}/occlusion/"


@pytest.fixture
def window_model(tmp_path, settings, monkeypatch):
    """The hand-made window model configured as the only provider, here and in a worker started later."""
    sha = window_graph(tmp_path / "window.onnx")
    entry = install(
        tmp_path,
        sha,
        "window.onnx",
        name="window-net",
        input={"sampling_rate": 500, "samples": 5000, "pad": "center"},
        classes=[{"index": 0, "code": "AF", "threshold": 0.5}],
    )
    settings.SUGGESTION_PROVIDERS = [entry]
    monkeypatch.setenv("SUGGESTION_PROVIDERS", json.dumps([entry]))
    suggestion_providers.cache_clear()
    yield suggestion_providers()["window-net"]
    suggestion_providers.cache_clear()


@pytest.mark.django_db
def test_only_coordinators_ask_and_an_exam_without_such_a_model_is_refused(client_for, ana, diego, eve, tnmg):
    exam = make_exam(seed=1)
    Suggestion.objects.create(exam=exam, provider="imported", provider_version="1")  # no model here
    assert client_for(ana).post(API.format(exam.pk)).status_code == 403
    assert client_for(eve).post(API.format(exam.pk)).status_code == 403
    answer = client_for(diego).post(API.format(exam.pk))
    assert answer.status_code == 409, answer.content
    assert client_for(diego).post(API.format(exam.pk + 1000)).status_code == 404
    assert not AuditEvent.objects.filter(action="suggestion.occlusion_requested").exists()
    # The exam page offers no button it would refuse, and says why.
    page = client_for(diego).get(f"/exams/{exam.pk}/").content.decode()
    assert PAGE.format(exam.pk) not in page and 'id="occlusion-none"' in page


@pytest.mark.django_db(transaction=True)
def test_the_exam_pages_button_has_a_worker_store_the_occlusion_band_of_each_class(
    client_for, diego, tnmg, window_model
):
    exam = make_exam(seed=2)
    row = suggestion_compute(exam.pk, window_model)
    assert row.status == "ok", row.error
    client = client_for(diego)
    page = client.get(f"/exams/{exam.pk}/").content.decode()
    assert f'action="{PAGE.format(exam.pk)}"' in page and 'id="occlusion-none"' not in page  # the button
    with celery_worker(queues="models", timeout=90):
        answer = client.post(PAGE.format(exam.pk))
        assert answer.status_code == 302 and answer["Location"] == f"/exams/{exam.pk}/"
        band = wait_for(
            lambda: SuggestionRelevance.objects.filter(suggestion=row, method="occlusion").first(),
            timeout=120,
        )
        again = client.post(API.format(exam.pk))  # the API asks too; the worker finds it done
        assert again.status_code == 202 and again.json() == {"queued": [row.pk]}
        wait_for(lambda: AuditEvent.objects.filter(action="suggestion.occlusion_requested").count() == 2)
    assert (band.code, band.leads, band.bins) == ("AF", 1, 1000)
    values = bytes(band.data)
    assert max(range(1000), key=values.__getitem__) in range(
        200, 300
    )  # samples 1000-1500: 10 ms bins 200-300
    assert SuggestionRelevance.objects.filter(suggestion=row, method="occlusion").count() == 1
    page = client.get(f"/exams/{exam.pk}/").content.decode()
    assert 'id="explanations"' in page and "AF" in page and "occlusion" in page.lower()
