"""On PostgreSQL with a real Celery worker: a benchmark made through the API is prepared by the worker, a
submission made through the API is scored by it (each message sent after the commit), and the API then
gives its figures."""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import Benchmark, BenchmarkSubmission
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, npy_bytes, submitter
from tests.workers import celery_worker, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    # Skipped before the database is touched: a transactional test's flush on SQLite meets the audit
    # table's append-only trigger.
    pytest.mark.skipif(
        "sqlite" in settings.DATABASES["default"]["ENGINE"], reason="the worker runs against PostgreSQL"
    ),
]
N = 30


def test_a_real_worker_prepares_a_benchmark_and_scores_a_submission(tmp_path, diego, code15, client):  # noqa: F811
    release = code_test_release(tmp_path, diego, n_exams=N)
    client.force_login(diego)
    sofia = Client()
    sofia.force_login(submitter())
    scores = np.random.default_rng(1).random((N, len(CODES)))
    with celery_worker(queues="default"):
        benchmark = client.post(
            f"/api/v1/releases/{release.pk}/benchmark/",
            {"label_source": "reference"},
            content_type="application/json",
        ).json()
        assert benchmark["status"] == "preparing"
        wait_for(lambda: Benchmark.objects.get(pk=benchmark["id"]).status == "open", timeout=90)
        response = sofia.post(
            f"/api/v1/benchmarks/{benchmark['id']}/submissions/",
            {
                "file": SimpleUploadedFile("s.npy", npy_bytes(scores)),
                "model_name": "net",
                "model_version": "1",
                "thresholds": ",".join(map(str, THRESHOLDS)),
            },
        )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "queued"
        wait_for(lambda: BenchmarkSubmission.objects.filter(status="done").exists(), timeout=90)
    result = sofia.get(f"/api/v1/submissions/{response.json()['id']}/").json()
    assert result["results"]["public"]["figures"]["macro"]["auroc"]["value"] is not None
