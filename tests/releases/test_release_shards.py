"""Releases above RELEASE_SHARD_EXAMS: tracings in shards written by separate tasks, with an index,
byte-reproducible whatever order the shards are written in, resumable after a worker dies."""

import csv
import io
import math
import os
import subprocess
import zipfile
from datetime import timedelta

import numpy as np
import pytest
import yaml
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse

from annotations.models import AuditEvent, Release
from annotations.services.jobs import dispatch, sweeps
from annotations.services.releases.builds import release_build, release_create, release_storage
from annotations.services.releases.shards import release_shard_build, release_shards_finish
from tests.releases.sharding import (
    build_serially,
    checksums,
    hdf5_arrays,
    read_study,
    shard_names,
    stored_bytes,
)

pytestmark = pytest.mark.django_db

SHARD = "annotations.tasks.releases_shard_build"
FINISH = "annotations.tasks.releases_shards_finish"


@pytest.fixture
def shard_of_three(settings):
    settings.RELEASE_SHARD_EXAMS = 3


def unpack(release, name, tmp_path):
    path = tmp_path / name
    path.write_bytes(stored_bytes(release, name))
    return path


def test_a_release_above_the_shard_size_has_one_file_per_shard_and_an_index(
    seven, diego, shard_of_three, tmp_path
):
    release = build_serially(release_create(actor=diego, batches=[seven]).pk)
    assert release.status == Release.Status.DONE and release.exam_count == 7
    shards = shard_names(release)
    assert shards == ["tracings-000.hdf5", "tracings-001.hdf5", "tracings-002.hdf5"]
    assert len(shards) == math.ceil(7 / 3)
    names = {f["name"] for f in release.files}
    assert "tracings.hdf5" not in names and "tracings-index.csv" in names
    sums = stored_bytes(release, "SHA256SUMS").decode()
    assert {line.split("  ")[1] for line in sums.splitlines()} == names - {"SHA256SUMS"}
    checksums(release)
    consensus = list(csv.DictReader(io.StringIO(stored_bytes(release, "consensus.csv").decode())))
    index = list(csv.DictReader(io.StringIO(stored_bytes(release, "tracings-index.csv").decode())))
    assert [(r["row"], r["dataset"], r["exam_id"]) for r in index] == [
        (r["row"], r["dataset"], r["exam_id"]) for r in consensus
    ]
    for entry in index:  # every exam at the row of the shard the index names
        arrays = hdf5_arrays(unpack(release, entry["file"], tmp_path))
        assert arrays["exam_id"][int(entry["file_row"])].decode() == entry["exam_id"]
    assert [int(r["file_row"]) for r in index] == [0, 1, 2, 0, 1, 2, 0]
    # The key to the pseudonyms of reads.csv, stored by the labels pass and kept by the assembly.
    in_reads = {line.split(",")[0] for line in stored_bytes(release, "reads.csv").decode().splitlines()[1:]}
    assert set(release.pseudonym_key) == in_reads and in_reads


def test_the_shards_read_back_are_the_single_file_tracings(seven, diego, settings, tmp_path):
    settings.RELEASE_SHARD_EXAMS = 100
    single = build_serially(release_create(actor=diego, batches=[seven]).pk)
    assert shard_names(single) == [] and "tracings.hdf5" in {f["name"] for f in single.files}
    settings.RELEASE_SHARD_EXAMS = 3
    sharded = build_serially(release_create(actor=diego, batches=[seven]).pk)
    whole = hdf5_arrays(unpack(single, "tracings.hdf5", tmp_path))
    parts = [hdf5_arrays(unpack(sharded, name, tmp_path)) for name in shard_names(sharded)]
    for key in ("tracings", "exam_id", "dataset"):
        np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), whole[key])
    # The labels do not depend on the layout.
    for name in ("adjudications.csv", "consensus.csv", "consensus.jsonl", "reads.csv", "suggestions.csv"):
        assert stored_bytes(single, name) == stored_bytes(sharded, name)


def test_a_release_at_the_shard_size_keeps_one_tracings_file(ana, diego, tnmg, shard_of_three):
    batch = read_study(3, reader=ana, coordinator=diego, taxonomy=tnmg)
    release = release_build(release_create(actor=diego, batches=[batch]).pk)
    assert release.status == Release.Status.DONE
    assert "tracings.hdf5" in {f["name"] for f in release.files} and shard_names(release) == []


def test_shards_written_in_any_order_give_the_same_bytes_for_every_file(seven, diego, shard_of_three):
    release = build_serially(release_create(actor=diego, batches=[seven]).pk)
    first = checksums(release)
    Release.objects.filter(pk=release.pk).update(status=Release.Status.QUEUED, files=[])
    again = build_serially(release.pk, order=[2, 0, 1])
    assert checksums(again) == first


def test_the_shard_size_is_fixed_when_the_release_is_asked_for(seven, diego, settings):
    settings.RELEASE_SHARD_EXAMS = 3
    release = release_create(actor=diego, batches=[seven])
    settings.RELEASE_SHARD_EXAMS = 2
    assert len(shard_names(build_serially(release.pk))) == 3


def _sweep(monkeypatch) -> list[tuple]:
    sent = []
    for module in (dispatch, sweeps):  # the sweep's own sends, and the services' it calls
        monkeypatch.setattr(
            module, "task_enqueue", lambda name, *args, **kw: sent.append((name, *args)) or True
        )
    sweeps.jobs_sweep_run()
    return sent


def test_a_shard_left_by_a_dead_worker_is_queued_again_and_rewritten_to_the_same_bytes(
    seven, diego, shard_of_three, monkeypatch, settings
):
    release = build_serially(release_create(actor=diego, batches=[seven]).pk)
    expected = checksums(release)
    Release.objects.filter(pk=release.pk).update(status=Release.Status.QUEUED, files=[])
    release_build(release.pk)
    release_shard_build(release.pk, 0)
    release_shard_build(release.pk, 2)
    # The worker writing shard 1 died half-way: a partial file, the shard not recorded.
    key = f"{release.pk}/tracings-001.hdf5"
    release_storage().delete(key)
    release_storage().save(key, io.BytesIO(b"\x89HDF half a file"))
    running = Release.objects.get(pk=release.pk)
    assert running.status == Release.Status.RUNNING
    cache.clear()  # its message, and the marker that says it was sent, are long gone
    Release.objects.filter(pk=release.pk).update(
        started_at=running.started_at - timedelta(seconds=settings.JOBS_REQUEUE_AFTER_S + 1)
    )
    assert _sweep(monkeypatch) == [(SHARD, release.pk, 1)]
    monkeypatch.undo()
    release_shard_build(release.pk, 1)
    cache.clear()  # the assembly's message was lost too
    assert _sweep(monkeypatch) == [(FINISH, release.pk)]
    monkeypatch.undo()
    done = release_shards_finish(release.pk)
    assert done.status == Release.Status.DONE and checksums(done) == expected


def test_a_shard_task_for_a_finished_release_changes_nothing(seven, diego, shard_of_three):
    release = build_serially(release_create(actor=diego, batches=[seven]).pk)
    before = checksums(release)
    release_shard_build(release.pk, 1)
    assert checksums(Release.objects.get(pk=release.pk)) == before
    assert AuditEvent.objects.filter(action="release.build", target_id=str(release.pk)).count() == 1


def test_the_page_and_the_api_show_shard_progress_and_no_file_before_the_end(
    seven, diego, shard_of_three, client_for
):
    client = client_for(diego)
    release = release_create(actor=diego, batches=[seven])
    release_build(release.pk)
    release_shard_build(release.pk, 1)
    body = client.get(reverse("api-release-detail", args=[release.pk])).json()
    assert body["status"] == "running" and not body["finished"]
    assert (body["shards_done"], body["shards_total"]) == (1, 3)
    assert body["files"] == []
    assert body["done"] == 2 * 7 + 3 and body["total"] == 3 * 7
    page = client.get(reverse("release-detail", args=[release.pk])).content.decode()
    assert 'id="release-shards-done">1<' in page and 'id="release-shards-total">3<' in page
    assert "release-zip" not in page and "tracings-001.hdf5" not in page
    progress = client.get(reverse("release-progress", args=[release.pk])).json()
    assert (progress["shards_done"], progress["shards_total"]) == (1, 3)


def test_a_coordinator_asks_polls_and_downloads_a_sharded_release_through_the_api(
    seven, diego, shard_of_three, client_for, tmp_path
):
    client = client_for(diego)
    response = client.post(
        reverse("api-release-list"), {"batches": [seven.pk]}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release_id = response.json()["id"]
    build_serially(release_id)  # what the workers do
    body = client.get(reverse("api-release-detail", args=[release_id])).json()
    assert body["status"] == "done" and (body["shards_done"], body["shards_total"]) == (3, 3)
    names = {f["name"] for f in body["files"]}
    assert {"tracings-000.hdf5", "tracings-001.hdf5", "tracings-002.hdf5", "tracings-index.csv"} <= names
    folder = tmp_path / "files"
    folder.mkdir()
    for name in names:
        download = client.get(reverse("api-release-file", args=[release_id, name]))
        assert download.status_code == 200, name
        (folder / name).write_bytes(b"".join(download.streaming_content))
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    archive = client.get(reverse("api-release-zip", args=[release_id]))
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as opened:
        assert sorted(opened.namelist()) == sorted(f"release-{release_id}/{name}" for name in names)
    page = client.get(reverse("release-detail", args=[release_id])).content.decode()
    for name in names:
        assert name in page


def test_shard_tasks_go_to_the_releases_queue_which_a_compose_worker_consumes():
    from ecgreview import celery_app

    router = celery_app.amqp.router
    for name in (SHARD, FINISH):
        assert router.route({}, name)["queue"].name == "releases"
    compose = yaml.safe_load((django_settings.BASE_DIR / "docker-compose.yml").read_text())
    commands = [service.get("command") or [] for service in compose["services"].values()]
    assert any("--queues" in c and c[c.index("--queues") + 1] == "releases" for c in commands)


def test_a_shard_saved_but_not_recorded_before_its_worker_died_is_recorded_on_the_rerun(
    seven, diego, shard_of_three
):
    release = build_serially(release_create(actor=diego, batches=[seven]).pk)
    expected = checksums(release)
    shard = release_storage().path(f"{release.pk}/tracings-001.hdf5")
    saved_at = os.stat(shard).st_mtime_ns
    Release.objects.filter(pk=release.pk).update(status=Release.Status.QUEUED, files=[])
    release_build(release.pk)  # the plans again: the stored shard stays, unrecorded
    for index in (0, 1, 2):
        release_shard_build(release.pk, index)
    assert os.stat(shard).st_mtime_ns == saved_at  # the same bytes were there: not written again
    assert checksums(release_shards_finish(release.pk)) == expected
