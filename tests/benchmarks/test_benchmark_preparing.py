"""A benchmark is made in the request and prepared by a task: until its tracings are written it is
"preparing" on the page and in the API, its downloads are not there and submissions are refused with a
message saying so. The task is idempotent, and the jobs sweep finishes a benchmark whose message was lost
(the embedded default runs it in the web process: tests/cross/test_browser_benchmark_walk.py)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import AuditEvent, Benchmark, BenchmarkSubmission
from annotations.services.benchmarks.create import benchmark_create, benchmark_prepare
from annotations.services.jobs.sweeps import jobs_resume, jobs_sweep_run
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, submitter

pytestmark = pytest.mark.django_db
N = 8


def good_csv() -> bytes:
    return "\n".join(
        ["exam_id," + ",".join(CODES), *(f"{i},0.1,0.2,0.3,0.4,0.5,0.6" for i in range(N))]
    ).encode()


def submit(client, benchmark_id: int):
    return client.post(
        f"/api/v1/benchmarks/{benchmark_id}/submissions/",
        {
            "file": SimpleUploadedFile("s.csv", good_csv()),
            "model_name": "net",
            "model_version": "1",
            "thresholds": ",".join(map(str, THRESHOLDS)),
        },
    )


def test_a_new_benchmark_is_preparing_until_its_task_has_written_the_tracings(
    tmp_path,
    diego,
    code15,  # noqa: F811
    client,
):
    release = code_test_release(tmp_path, diego, n_exams=N)
    client.force_login(diego)
    made = client.post(
        f"/api/v1/releases/{release.pk}/benchmark/",
        {"label_source": "reference"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["status"] == "preparing" and made.json()["tracings"] == {}
    benchmark_id = made.json()["id"]
    assert AuditEvent.objects.filter(action="benchmark.create").count() == 1

    sofia = Client()
    sofia.force_login(submitter())
    assert sofia.get(f"/api/v1/benchmarks/{benchmark_id}/").json()["status"] == "preparing"
    page = sofia.get(f"/benchmarks/{benchmark_id}/").content.decode()
    assert 'id="benchmark-preparing"' in page and "submission-form" not in page
    assert "tracings-download" not in page
    assert sofia.get(f"/api/v1/benchmarks/{benchmark_id}/tracings.hdf5").status_code == 404
    refused = submit(sofia, benchmark_id)
    assert refused.status_code == 409
    assert "still being prepared" in refused.json()["detail"]
    on_page = sofia.post(
        f"/benchmarks/{benchmark_id}/submit/",
        {"file": SimpleUploadedFile("s.csv", good_csv()), "model_name": "n", "model_version": "1"},
    )
    assert on_page.status_code == 400 and "still being prepared" in on_page.content.decode()
    assert client.post(f"/api/v1/benchmarks/{benchmark_id}/close/").status_code == 409
    assert not BenchmarkSubmission.objects.exists()

    prepared = benchmark_prepare(benchmark_id)
    assert prepared.status == "open" and prepared.tracings["sha256"]
    assert benchmark_prepare(benchmark_id).tracings == prepared.tracings  # idempotent
    assert AuditEvent.objects.filter(action="benchmark.ready").count() == 1
    detail = sofia.get(f"/api/v1/benchmarks/{benchmark_id}/").json()
    assert detail["status"] == "open" and len(detail["readers"]) > 0
    assert sofia.get(f"/api/v1/benchmarks/{benchmark_id}/tracings.hdf5").status_code == 200
    assert 'id="benchmark-preparing"' not in sofia.get(f"/benchmarks/{benchmark_id}/").content.decode()
    assert submit(sofia, benchmark_id).status_code == 201


def test_the_jobs_sweep_prepares_a_benchmark_whose_message_was_lost(
    tmp_path,
    diego,
    code15,  # noqa: F811
    settings,
    eager_worker,
):
    settings.JOBS_REQUEUE_AFTER_S = 0
    release = code_test_release(tmp_path, diego, n_exams=N)
    # Its on-commit enqueue never runs inside the test's transaction: as if the broker had been down.
    benchmark = benchmark_create(actor=diego, release=release, name="b", label_source="reference")
    assert Benchmark.objects.get(pk=benchmark.pk).status == "preparing"
    assert jobs_sweep_run()["benchmarks preparing"] == 1
    assert Benchmark.objects.get(pk=benchmark.pk).status == "open"
    assert jobs_sweep_run()["benchmarks preparing"] == 0


def test_the_embedded_resume_queues_a_benchmark_left_preparing(tmp_path, diego, code15, settings):  # noqa: F811
    """On the embedded default, `manage.py resume_jobs` (before the web process starts) queues it again;
    the web process's own thread then prepares it (the embedded walk shows that thread at work)."""
    from ecgreview.inprocess import background

    release = code_test_release(tmp_path, diego, n_exams=N)
    benchmark = benchmark_create(actor=diego, release=release, name="b", label_source="reference")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    try:
        assert ("benchmark", benchmark.pk) in jobs_resume()
    finally:
        background.drain()  # its thread's connection does not see this test's rows: it finds nothing to do
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert jobs_resume() == []  # with a broker, the workers and the sweep finish it instead


def test_a_benchmark_whose_tracings_cannot_be_written_fails_after_its_tries_and_says_why(
    tmp_path,
    diego,
    code15,  # noqa: F811
    settings,
    client,
):
    """An exam's stored waveform is gone: each try fails the same way. After BENCHMARK_PREPARE_TRIES the
    benchmark is "failed" with the reason on page and API, audited once, the sweep leaves it, and nothing
    of it can be downloaded or submitted to."""
    from annotations.models import Exam
    from annotations.services.exams.waveforms import waveform_delete

    settings.JOBS_REQUEUE_AFTER_S = 0
    release = code_test_release(tmp_path, diego, n_exams=N)
    benchmark = benchmark_create(actor=diego, release=release, name="b", label_source="reference")
    gone = Exam.objects.filter(dataset__name="code-test").order_by("pk")[3]
    waveform_delete(gone.waveform_key)
    for attempt in range(1, settings.BENCHMARK_PREPARE_TRIES):
        assert benchmark_prepare(benchmark.pk).status == "preparing"
        assert Benchmark.objects.get(pk=benchmark.pk).prepare_tries == attempt
    failed = benchmark_prepare(benchmark.pk)
    assert failed.status == "failed" and f"code-test/{gone.external_id}" in failed.error
    assert AuditEvent.objects.filter(action="benchmark.failed", target_id=str(benchmark.pk)).count() == 1
    assert jobs_sweep_run()["benchmarks preparing"] == 0
    assert benchmark_prepare(benchmark.pk).status == "failed"  # a late twin message changes nothing

    client.force_login(diego)
    detail = client.get(f"/api/v1/benchmarks/{benchmark.pk}/").json()
    assert detail["status"] == "failed" and detail["error"] == failed.error
    page = client.get(f"/benchmarks/{benchmark.pk}/").content.decode()
    assert 'id="benchmark-failed"' in page and "submission-form" not in page
    sofia = Client()
    sofia.force_login(submitter())
    refused = submit(sofia, benchmark.pk)
    assert refused.status_code == 409 and "failed" in refused.json()["detail"]
    assert sofia.get(f"/api/v1/benchmarks/{benchmark.pk}/tracings.hdf5").status_code == 404
