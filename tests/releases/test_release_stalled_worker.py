"""A real worker killed (SIGKILL) while it writes a sharded release's shards: the shard in its hands would
come back only after the broker's visibility timeout (hours), so the jobs sweep queues it again once its
heartbeat is gone; another worker writes it and the rest, and the release is byte for byte the one a
serial build writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from annotations.models import AuditEvent, Release
from annotations.selectors.releases.builds import release_progress
from annotations.services.jobs import dispatch, sweeps
from tests.releases.sharding import build_serially, checksums, read_study, shard_names
from tests.workers import broker_forget_taken, broker_taken, broker_taken_age, celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SHARD = "annotations.tasks.releases_shard_build"
EXAMS = 30


def _written(release_id: int) -> int:
    return release_progress(Release.objects.get(pk=release_id))["shards_done"]


def test_a_release_whose_shard_worker_was_killed_is_finished_by_another_to_the_same_bytes(
    ana, diego, tnmg, client_for, settings
):
    settings.RELEASE_SHARD_EXAMS = 1
    batch = read_study(EXAMS, reader=ana, coordinator=diego, taxonomy=tnmg)
    with celery_worker(queues="default,releases") as first:
        response = client_for(diego).post(
            reverse("api-release-list"), {"batches": [batch.pk]}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        release_id = response.json()["id"]
        wait_for(lambda: _written(release_id) >= 3, timeout=180, interval=0.01)
        first.kill()  # SIGKILL: the shard in its hands is never acknowledged
        first.wait()
    written = _written(release_id)
    assert 3 <= written < EXAMS and Release.objects.get(pk=release_id).status == "running"
    # Ten minutes later: the dead worker's beat has run out.
    # The shard the dead worker held still beats (finished shards clear their beat): one at most, as a
    # worker takes one task at a time.
    held = [index for index in range(EXAMS) if dispatch.task_beating(SHARD, release_id, index)]
    assert len(held) <= 1, held
    # Killed between two shards, it may have taken the next message without starting it: that one still
    # bears its "waiting" marker. Either way the release's own mark of activity runs out with the beats.
    for index in range(EXAMS):
        cache.delete(dispatch._alive(SHARD, release_id, index))
    cache.delete(dispatch._alive(dispatch.RELEASE_BUILD_TASK, release_id))
    Release.objects.filter(pk=release_id).update(started_at=timezone.now() - timedelta(minutes=11))
    # The sweep of ten quiet minutes later: every unwritten shard is sent again, the one the dead worker
    # started (its beat is gone) and one it had taken without starting (it still reads as waiting) alike.
    assert sweeps.jobs_sweep_run()["release shards"] == EXAMS - written
    assert sweeps.jobs_sweep_run()["release shards"] == 0  # and not again before its time
    with celery_worker(queues="default,releases"):
        # The new worker writes the shards from the first messages and from the sweep's copies: a copy
        # finds its shard written, or writes the same bytes.
        release = wait_for(
            lambda: Release.objects.filter(pk=release_id, status__in=["done", "failed"]).first(), timeout=180
        )
    assert release.status == "done", release.error
    assert len(shard_names(release)) == EXAMS
    files = checksums(release)
    Release.objects.filter(pk=release_id).update(status=Release.Status.QUEUED, files=[])
    assert checksums(build_serially(release_id)) == files


def test_a_release_taken_by_a_worker_that_died_before_building_it_is_given_back_and_built(
    ana, diego, tnmg, client_for, monkeypatch, settings
):
    """Killed after taking the build's message and before the build began: the release reads "queued",
    its marker says a message waits, and the message is held by nobody. Ten minutes on, the jobs sweep
    gives it back to the queue; a live worker builds the release."""
    settings.JOBS_STALLED_AFTER_S = 600
    batch = read_study(3, reader=ana, coordinator=diego, taxonomy=tnmg)
    monkeypatch.setenv("DIE_BEFORE_TASK", dispatch.RELEASE_BUILD_TASK)
    try:
        with celery_worker(queues="default", include="tests.dying_worker") as doomed:
            response = client_for(diego).post(
                reverse("api-release-list"), {"batches": [batch.pk]}, content_type="application/json"
            )
            assert response.status_code == 201, response.content
            release_id = response.json()["id"]
            assert doomed.wait(timeout=60) == -9
        assert Release.objects.get(pk=release_id).status == "queued"
        assert sweeps.jobs_sweep_run()["releases"] == 0  # its marker: a message is taken to be waiting
        broker_taken_age(601)
        assert sweeps.jobs_sweep_run()["taken by dead workers"] == 1
        event = AuditEvent.objects.get(action="broker.message_given_back")
        assert (event.target_type, event.target_id) == ("annotations.release", str(release_id))
        monkeypatch.delenv("DIE_BEFORE_TASK")
        with celery_worker(queues="default,releases", purge=False):
            release = wait_for(
                lambda: Release.objects.filter(pk=release_id, status="done").first(), timeout=120
            )
        assert release.files and broker_taken() == {}
    finally:
        broker_forget_taken()
