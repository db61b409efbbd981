"""A real worker killed (SIGKILL) in the middle of an import: the jobs sweep queues the job again once its
heartbeat is gone, another worker finishes it, and every record is stored once and counted once."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from annotations.models import AuditEvent, Exam, ImportJob
from annotations.services.imports import jobs
from annotations.services.jobs.sweeps import jobs_sweep_run
from tests.importing import DATA
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
RECORDS = 120


def test_an_import_whose_worker_was_killed_is_finished_by_another_and_counted_once(
    client_for, diego, monkeypatch, tmp_path
):
    monkeypatch.setenv("JOBS_HEARTBEAT_S", "0")  # the worker beats at every record
    folder = tmp_path / "cpsc"
    folder.mkdir()
    for i in range(RECORDS):  # 43 s records, one file each: the import takes seconds, file by file
        shutil.copy(DATA / "cpsc2018" / "A1986.mat", folder / f"A{i:04d}.mat")
    root = settings.IMPORT_ROOT
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"stalled-{tmp_path.name}"
    shutil.copytree(folder, target)
    with celery_worker(queues="default") as first:
        response = client_for(diego).post(
            "/api/v1/imports/",
            {"dataset": "stalled", "paths": [str(target.relative_to(root))], "format": "cpsc2018"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        job_id = response.json()["id"]
        wait_for(
            lambda: Exam.objects.filter(dataset__name="stalled").count() >= 10, timeout=120, interval=0.05
        )
        first.kill()  # SIGKILL: no cleanup, the message never acknowledged
        first.wait()
    stored = Exam.objects.filter(dataset__name="stalled").count()
    assert 10 <= stored < RECORDS and ImportJob.objects.get(pk=job_id).status == "running"
    # Ten minutes later: the dead worker's beat has run out.
    cache.delete(jobs.alive_key(job_id))
    ImportJob.objects.filter(pk=job_id).update(started_at=timezone.now() - timedelta(minutes=11))
    with celery_worker(queues="default"):
        assert jobs_sweep_run()["stalled imports"] == 1
        job = wait_for(lambda: ImportJob.objects.filter(pk=job_id, status="done").first(), timeout=180)
    assert Exam.objects.filter(dataset__name="stalled").count() == RECORDS
    assert (job.created, job.unchanged, job.attempt) == (RECORDS, 0, 2)
    assert AuditEvent.objects.filter(action="import_job.stalled").count() == 1
    shutil.rmtree(target, ignore_errors=True)
