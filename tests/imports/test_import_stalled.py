"""An import whose worker died mid-way (kill -9, a lost node) is not left "Running 50 / 99" until the
broker's visibility timeout (3 h) delivers it again: its run keeps a heartbeat, the jobs sweep queues a
job whose heartbeat stopped, and a run that was taken for dead stops at its next beat instead of racing
the new one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone

from annotations.models import AuditEvent, Exam, ImportJob
from annotations.services.imports import jobs
from annotations.services.jobs.sweeps import jobs_sweep_run
from annotations.tasks import imports_run
from tests.importing import use_private_storage, write_code15

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(settings, tmp_path, client_for, diego, django_capture_on_commit_callbacks):
    use_private_storage(settings, tmp_path)
    path, _ = write_code15(tmp_path, exams=[(i, 4096) for i in range(1, 21)])
    with django_capture_on_commit_callbacks():
        response = client_for(diego).post(
            "/api/v1/imports/",
            {"dataset": "code15", "files": [SimpleUploadedFile(path.name, path.read_bytes())]},
        )
    assert response.status_code == 201
    return ImportJob.objects.get()


def died(job: ImportJob, minutes: int) -> None:
    """Its worker started it `minutes` ago and was killed: running, no heartbeat any more."""
    jobs._job_start(job.pk)
    cache.delete(jobs.alive_key(job.pk))
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(minutes=minutes))


def test_the_sweep_queues_again_an_import_whose_worker_stopped_beating(job, client_for, diego, settings):
    settings.JOBS_STALLED_AFTER_S = 600
    died(job, minutes=11)
    assert jobs_sweep_run()["stalled imports"] == 1
    job.refresh_from_db()
    assert job.status == "queued"
    event = AuditEvent.objects.get(action="import_job.stalled")
    assert event.after["attempt"] == 1
    imports_run.apply(args=(job.pk,)).get()  # the message the sweep sent, as a worker takes it
    progress = client_for(diego).get(f"/api/v1/imports/{job.pk}/").json()
    assert (progress["status"], progress["created"], progress["attempt"]) == ("done", 20, 2)
    page = client_for(diego).get(f"/imports/{job.pk}/").content.decode()
    assert "Run again after its worker stopped" in page


def test_a_running_import_whose_worker_still_beats_is_left_alone(job, settings):
    settings.JOBS_STALLED_AFTER_S = 600
    jobs._job_start(job.pk)
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(minutes=30))
    assert jobs_sweep_run()["stalled imports"] == 0
    imports_run.apply(args=(job.pk,)).get()  # a twin delivery while it runs: dropped
    job.refresh_from_db()
    assert (job.status, job.attempt, Exam.objects.count()) == ("running", 1, 0)


def test_a_run_taken_for_dead_stops_at_its_next_beat_and_leaves_the_job_to_the_new_run(
    job, settings, monkeypatch
):
    settings.JOBS_HEARTBEAT_S = 0  # a beat at every record
    started = jobs._job_start

    def taken_over(job_id):
        running = started(job_id)
        ImportJob.objects.filter(pk=job_id).update(attempt=F("attempt") + 1)  # the sweep's new run
        return running

    monkeypatch.setattr(jobs, "_job_start", taken_over)
    jobs.import_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.finished_at, Exam.objects.count()) == ("running", None, 0)


def test_an_import_runs_to_the_end_while_redis_is_down(job, settings, client_for, diego):
    """Its progress and heartbeat live in the cache, which is optional: with Redis restarting under it, a
    file was reported "unreadable (ConnectionError)" and the job ended with nothing created."""
    from tests import services

    dead = f"redis://127.0.0.1:{services._free_port()}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": settings.CACHES["default"]["BACKEND"],
            "LOCATION": dead,
            "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
        }
    }
    imports_run.apply(args=(job.pk,)).get()
    job.refresh_from_db()
    assert (job.status, job.created, job.files_failed) == ("done", 20, 0), job.outcomes[:3]
