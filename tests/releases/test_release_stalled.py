"""A release whose worker was killed is not left "Running" until the broker's visibility timeout (3 h)
delivers it again, nor for ever if Redis lost its message: its build and each shard beat while they work,
and the jobs sweep queues again what stopped beating; a twin delivery of live work is dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import AuditEvent, Release
from annotations.services.jobs import dispatch, sweeps
from annotations.services.releases.builds import release_build, release_create
from tests.releases.sharding import build_serially

pytestmark = pytest.mark.django_db

BUILD = "annotations.tasks.releases_build"
SHARD = "annotations.tasks.releases_shard_build"


def _sweep(monkeypatch) -> list[tuple]:
    sent = []
    for module in (dispatch, sweeps):  # the sweep's own sends, and the services' it calls
        monkeypatch.setattr(
            module, "task_enqueue", lambda name, *args, **kw: sent.append((name, *args)) or True
        )
    sweeps.jobs_sweep_run()
    monkeypatch.undo()
    return sent


def _running_since(release: Release, minutes: int) -> None:
    Release.objects.filter(pk=release.pk).update(
        status=Release.Status.RUNNING, started_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_release_whose_builder_died_is_queued_again_and_built(seven, diego, monkeypatch):
    release = release_create(actor=diego, batches=[seven], hdf5=False)
    _running_since(release, 11)  # its worker took it and was killed: no beat
    assert (BUILD, release.pk) in _sweep(monkeypatch)
    release.refresh_from_db()
    assert release.status == Release.Status.QUEUED
    assert AuditEvent.objects.filter(action="release.stalled", target_id=str(release.pk)).exists()
    assert release_build(release.pk).status == Release.Status.DONE


def test_a_release_still_beating_is_left_alone_and_a_twin_delivery_dropped(seven, diego, monkeypatch):
    release = release_create(actor=diego, batches=[seven], hdf5=False)
    _running_since(release, 30)
    dispatch.task_beat(BUILD, release.pk)  # its builder is alive, only slow
    assert (BUILD, release.pk) not in _sweep(monkeypatch)
    twin = release_build(release.pk)  # the broker's second delivery of the same message
    assert twin.status == Release.Status.RUNNING and not twin.files


def test_a_shard_a_live_worker_writes_is_not_queued_again_one_a_dead_worker_held_is(
    seven, diego, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.RELEASE_SHARD_EXAMS = 3
    release = release_create(actor=diego, batches=[seven])
    with django_capture_on_commit_callbacks(execute=True):
        release_build(release.pk)  # the labels pass: three shards to write, their messages sent
    _running_since(release, 11)
    dispatch.task_started(SHARD, release.pk, 0)  # in the hands of a worker that was killed
    dispatch.task_started(SHARD, release.pk, 1)  # in the hands of a live one
    dispatch.task_beat(SHARD, release.pk, 1)
    sent = _sweep(monkeypatch)
    assert (SHARD, release.pk, 0) in sent
    assert (SHARD, release.pk, 1) not in sent and (SHARD, release.pk, 2) not in sent  # 2 still queued
    assert build_serially(release.pk).status == Release.Status.DONE


def test_a_quiet_release_has_its_shards_queued_again_though_their_markers_say_waiting(
    seven, diego, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """A worker killed between two shards may have taken the next message without starting it: its
    marker still says "waiting", and the broker gives it back only after the visibility timeout. Once
    nothing of the release has beaten for JOBS_STALLED_AFTER_S, the sweep believes no marker."""
    from django.core.cache import cache

    settings.RELEASE_SHARD_EXAMS = 3
    release = release_create(actor=diego, batches=[seven])
    with django_capture_on_commit_callbacks(execute=True):
        release_build(release.pk)  # three shards queued, each marked as waiting
    _running_since(release, 11)
    assert _sweep(monkeypatch) == []  # the release has just shown life: its markers are believed
    cache.delete(dispatch._alive(dispatch.RELEASE_BUILD_TASK, release.pk))  # ten quiet minutes later
    assert sorted(_sweep(monkeypatch)) == [
        (SHARD, release.pk, 0),
        (SHARD, release.pk, 1),
        (SHARD, release.pk, 2),
    ]
    assert _sweep(monkeypatch) == []  # what was just sent gets its time
    assert build_serially(release.pk).status == Release.Status.DONE
