"""A worker that takes an import's message and dies before the import starts (SIGKILL between the two):
the job still reads "queued" and its message is held, unacknowledged, by nobody. The broker would give it
back only after its visibility timeout (3 h). The jobs sweep hands it back to the queue once it has been
held for JOBS_STALLED_AFTER_S, and a live worker imports the files once."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db.models import F

from annotations.models import AuditEvent, Exam, ImportJob
from annotations.services.imports import jobs
from annotations.services.jobs.sweeps import jobs_sweep_run
from tests.importing import DATA
from tests.workers import broker_forget_taken, broker_taken, broker_taken_age, celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
IMPORT_TASK = "annotations.tasks.imports_run"


@pytest.fixture
def records(tmp_path):
    """Three CPSC records in a folder under IMPORT_ROOT."""
    root = settings.IMPORT_ROOT
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"taken-{tmp_path.name}"
    target.mkdir()
    for i in range(3):
        shutil.copy(DATA / "cpsc2018" / "A1986.mat", target / f"A{i:04d}.mat")
    yield str(target.relative_to(root))
    shutil.rmtree(target, ignore_errors=True)
    broker_forget_taken()


def test_an_import_taken_by_a_worker_that_died_before_starting_it_is_given_back_and_run_once(
    client_for, diego, records, monkeypatch, settings
):
    settings.JOBS_STALLED_AFTER_S = 600
    monkeypatch.setenv("DIE_BEFORE_TASK", IMPORT_TASK)
    with celery_worker(queues="default", include="tests.dying_worker") as doomed:
        response = client_for(diego).post(
            "/api/v1/imports/",
            {"dataset": "taken", "paths": [records], "format": "cpsc2018"},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        job_id = response.json()["id"]
        assert doomed.wait(timeout=60) == -9  # it took the message, then was killed
    assert ImportJob.objects.get(pk=job_id).status == "queued"
    assert len(broker_taken()) == 1
    # Taken a moment ago: it may yet start, and the sweep leaves it (nor does its marker let it send a copy).
    assert jobs_sweep_run()["taken by dead workers"] == 0
    assert len(broker_taken()) == 1
    broker_taken_age(601)  # ten minutes later
    assert jobs_sweep_run()["taken by dead workers"] == 1
    assert broker_taken() == {}
    assert jobs_sweep_run()["taken by dead workers"] == 0  # given back once
    event = AuditEvent.objects.get(action="broker.message_given_back")
    assert event.after["task"] == IMPORT_TASK and event.after["args"] == [job_id]
    monkeypatch.delenv("DIE_BEFORE_TASK")
    with celery_worker(queues="default", purge=False):
        job = wait_for(lambda: ImportJob.objects.filter(pk=job_id, status="done").first(), timeout=120)
    assert (job.created, job.attempt) == (3, 1)
    assert Exam.objects.filter(dataset__name="taken").count() == 3


def test_a_message_whose_import_had_begun_is_left_to_the_stalled_import_rule(
    client_for, diego, monkeypatch, settings, tmp_path
):
    """A worker killed in the middle of an import holds its message too, but the import had begun: the
    stalled-import rule queues it again once its beat is gone, and the old message is not handed out as
    well, neither while the job runs nor once it reads "queued" again."""
    settings.JOBS_STALLED_AFTER_S = 600
    monkeypatch.setenv("JOBS_HEARTBEAT_S", "0")
    root = settings.IMPORT_ROOT
    target = root / f"begun-{tmp_path.name}"
    target.mkdir(parents=True)
    for i in range(60):
        shutil.copy(DATA / "cpsc2018" / "A1986.mat", target / f"A{i:04d}.mat")
    try:
        with celery_worker(queues="default") as first:
            response = client_for(diego).post(
                "/api/v1/imports/",
                {"dataset": "begun", "paths": [str(target.relative_to(root))], "format": "cpsc2018"},
                content_type="application/json",
            )
            job_id = response.json()["id"]
            wait_for(
                lambda: Exam.objects.filter(dataset__name="begun").count() >= 3, timeout=120, interval=0.05
            )
            first.kill()
            first.wait()
        assert ImportJob.objects.get(pk=job_id).status == "running"
        # Eleven minutes later, for the message and the run alike.
        broker_taken_age(660)
        ImportJob.objects.filter(pk=job_id).update(started_at=F("started_at") - timedelta(seconds=660))
        assert jobs_sweep_run()["taken by dead workers"] == 0  # running: its beat tells
        cache.delete(jobs.alive_key(job_id))
        swept = jobs_sweep_run()
        assert (swept["taken by dead workers"], swept["stalled imports"]) == (0, 1)
        assert ImportJob.objects.get(pk=job_id).status == "queued"
        assert jobs_sweep_run()["taken by dead workers"] == 0  # queued again, but begun after it was taken
        assert len(broker_taken()) == 1
        assert not AuditEvent.objects.filter(action="broker.message_given_back").exists()
    finally:
        shutil.rmtree(target, ignore_errors=True)
        broker_forget_taken()
