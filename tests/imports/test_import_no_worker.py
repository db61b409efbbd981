"""What a coordinator is told while no worker takes the work: an import or a release queued with the Celery
workers stopped used to show "Queued 0 / 1" (or "Running 7400 / 20000" after its worker died) for ever.

The page and its progress answer say that no worker has taken work from the queue since when, or that the
run stopped reporting, and the notice goes once a real worker takes the job. A queue that is merely busy
(a worker took work a moment ago) says nothing; the embedded default, which runs work in-process, never
says it.
"""

from __future__ import annotations

import html
import shutil
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from annotations.models import ImportJob
from annotations.services.imports import jobs
from tests.importing import DATA
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
NOTICE = 'id="job-workers"'


def _queue_import(client) -> int:
    root = settings.IMPORT_ROOT
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"no-worker-{uuid.uuid4().hex}"  # the folder stays after its job, as an upload's does
    target.mkdir()
    shutil.copy(DATA / "cpsc2018" / "A1986.mat", target / "A1986.mat")
    response = client.post(
        "/api/v1/imports/",
        {"dataset": "waiting", "paths": [str(target.relative_to(root))], "format": "cpsc2018"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _notice(client, job_id: int) -> str:
    """The notice's text; "" when the page hides it."""
    element = client.get(f"/imports/{job_id}/").content.decode().split(NOTICE, 1)[1].split("</p>", 1)[0]
    attributes, text = element.split(">", 1)
    assert ("hidden" in attributes) == (not text), element
    return html.unescape(text)


def _minutes_ago(job_id: int, minutes: float, *fields: str) -> None:
    then = timezone.now() - timedelta(minutes=minutes)
    ImportJob.objects.filter(pk=job_id).update(**{field: then for field in ("created_at", *fields)})


def test_an_import_no_worker_takes_says_so_and_the_notice_goes_once_a_worker_does(client_for, diego):
    cache.delete_many([f"workers:took:{queue}" for queue in ("default", "models", "releases")])
    client = client_for(diego)
    job_id = _queue_import(client)
    assert _notice(client, job_id) == ""  # a job just queued: its worker has had no time yet
    _minutes_ago(job_id, 12)
    said = _notice(client, job_id)
    assert "No worker has taken work from the queue" in said and "default" in said, said
    assert "12 minutes" in said
    progress = client.get(f"/imports/{job_id}/progress/").json()
    assert "No worker has taken work" in progress["workers"]
    with celery_worker(queues="default", purge=False):  # its message waits in the queue
        wait_for(lambda: ImportJob.objects.filter(pk=job_id, status="done").exists(), timeout=120)
    assert client.get(f"/imports/{job_id}/progress/").json()["workers"] == ""
    # Another import, waiting as long, behind a queue a worker took from a moment ago: busy, not down.
    other = _queue_import(client)
    _minutes_ago(other, 12)
    assert _notice(client, other) == ""


def test_a_running_import_whose_worker_stopped_reporting_says_so(client_for, diego):
    client = client_for(diego)
    job_id = _queue_import(client)
    ImportJob.objects.filter(pk=job_id).update(status="running")
    _minutes_ago(job_id, 15, "started_at")
    cache.delete(jobs.alive_key(job_id))
    said = _notice(client, job_id)
    assert "stopped reporting" in said, said
    cache.set(jobs.alive_key(job_id), 1)  # its worker beats: only slow
    assert _notice(client, job_id) == ""
    cache.delete(jobs.alive_key(job_id))


def test_the_embedded_default_never_says_it(client_for, diego, settings):
    """Without a broker the web process runs the work itself: there is no worker to wait for."""
    client = client_for(diego)
    job_id = _queue_import(client)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    _minutes_ago(job_id, 30)
    assert _notice(client, job_id) == ""
    ImportJob.objects.filter(pk=job_id).update(status="running")
    _minutes_ago(job_id, 30, "started_at")
    assert _notice(client, job_id) == ""
