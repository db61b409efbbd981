"""Sharded releases: each shard of a large release's tracings written by its own task, then the assembly.

release_build writes the labels in one snapshot and, past the release's shard size, the index and one
plan per shard instead of the tracings (release_shards_start records the shards still to write in the
release's files, their sha256 empty, and queues a task each). Any number of workers then write shards in
parallel (release_shard_build): a shard is made from its plan alone, so its bytes do not depend on the
worker, the order or a rerun. The task that records the last shard queues the assembly
(release_shards_finish), which completes the dataset card with every checksum, writes SHA256SUMS and
marks the release done. On the embedded default (Celery eager) the same tasks run one after the other in
the process. A shard whose worker died stays unwritten: its message is delivered again (acks_late), and
the jobs sweep queues again whatever has no message any more.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction

from annotations.lib.release_files.files import file_sha256
from annotations.lib.release_files.shards import PENDING_CARD, PLAN_FOLDER, is_shard_name, plan_name
from annotations.models import Release
from annotations.selectors.releases.builds import release_file_key, release_storage
from annotations.services.audit import audit_record
from annotations.services.jobs import dispatch  # by attribute: a test's stand-in reaches every caller
from annotations.services.jobs.dispatch import Beat, task_beat, task_done, task_started
from annotations.services.releases.builds import (
    BUILD_TASK,
    FINISH_TASK,
    SHARD_TASK,
    release_activity_mark,
    release_build_done,
    release_build_failed,
    release_file_save,
)
from annotations.services.releases.export import ExportResult, export_seal
from annotations.services.releases.layout import CARD_JSON, CARD_MD, SUMS
from annotations.services.releases.tables import write_tracings_shard

logger = logging.getLogger(__name__)


def _shards(release: Release) -> list[dict[str, Any]]:
    return sorted((e for e in release.files if is_shard_name(e["name"])), key=lambda e: e["name"])


def _read(release: Release, name: str) -> bytes:
    with release_storage().open(release_file_key(release, name), "rb") as handle:
        data: bytes = handle.read()
        return data


def _stored_sha256(release: Release, name: str) -> str:
    storage, key = release_storage(), release_file_key(release, name)
    if not storage.exists(key):
        return ""
    digest = hashlib.sha256()
    with storage.open(key, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _shard_store(release: Release, path: Path, name: str, sha: str) -> None:
    """The shard into the storage, unless the same bytes are there already (a twin of this task wrote
    them); a twin saving at the same moment is fine as long as what ends up stored is these bytes."""
    if _stored_sha256(release, name) == sha:
        return
    try:
        release_file_save(release, path, name)
    except RuntimeError:
        if _stored_sha256(release, name) != sha:
            raise


def _shard_write(release: Release, name: str, beat: Callable[..., None]) -> dict[str, Any]:
    """The shard's file from its plan, into the storage; its entry for the release's files. `beat` is
    called as rows are written: the shard's heartbeat."""
    plan = _read(release, plan_name(name))
    with tempfile.TemporaryDirectory(prefix=f"release-{release.pk}-shard-") as folder:
        path = Path(folder) / name
        rows = write_tracings_shard(plan.decode("utf-8"), path, beat)
        sha = file_sha256(path)
        _shard_store(release, path, name, sha)
        return {
            "name": name,
            "bytes": path.stat().st_size,
            "sha256": sha,
            "plan_sha256": hashlib.sha256(plan).hexdigest(),
            "rows": rows,
        }


def _shard_record(release_id: int, written: dict[str, Any]) -> Release:
    """Record one written shard; the one that completes the set queues the assembly."""
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release_id)
        files = [dict(e) for e in locked.files]
        entry = next((e for e in files if e["name"] == written["name"]), None)
        if (
            locked.status != Release.Status.RUNNING
            or entry is None
            or entry["sha256"]  # a twin recorded it
            or entry.get("plan_sha256") != written["plan_sha256"]  # planned again since, differently
        ):
            return locked
        entry.update(written)
        locked.files = files
        locked.progress_done = min(locked.progress_done + written["rows"], locked.progress_total)
        locked.save(update_fields=["files", "progress_done"])
        audit_record(
            actor=None,
            actor_username="release-worker",
            action="release.shard",
            target=locked,
            after={"file": written["name"], "sha256": written["sha256"], "rows": written["rows"]},
        )
        if all(e["sha256"] for e in _shards(locked)):
            transaction.on_commit(lambda: dispatch.task_enqueue(FINISH_TASK, release_id))
    return locked


def release_shard_build(release_id: int, index: int) -> Release | None:
    """Write and record shard `index` of a release being built. Idempotent: a shard already recorded, a
    release done or failed, are left alone; a file half-written by a dead worker is replaced by the
    same bytes a first run writes."""
    release = Release.objects.filter(pk=release_id).first()
    if release is None or release.status != Release.Status.RUNNING:
        return release
    shards = _shards(release)
    if not 0 <= index < len(shards) or shards[index]["sha256"]:
        return release
    # In this worker's hands from now: no longer waiting (the jobs sweep queues it again should the
    # worker die and stop beating, not hours later when the broker would).
    task_started(SHARD_TASK, release_id, index)
    beats = (Beat(SHARD_TASK, release_id, index), Beat(BUILD_TASK, release_id))

    def beat(*_ignored: object) -> None:
        for each in beats:
            each()

    beat()
    try:
        written = _shard_write(release, shards[index]["name"], beat)
    except Exception as error:
        return release_build_failed(release, error)
    finally:
        task_done(SHARD_TASK, release_id, index)
        release_activity_mark(release_id)
    return _shard_record(release_id, written)


def _seal(release: Release) -> ExportResult:
    """The card completed with every checksum, its Markdown and SHA256SUMS, stored."""
    files = [{k: e[k] for k in ("name", "bytes", "sha256")} for e in release.files]
    pending = _read(release, PENDING_CARD).decode("utf-8")
    with tempfile.TemporaryDirectory(prefix=f"release-{release.pk}-seal-") as folder:
        out = Path(folder)
        result = export_seal(out, files, pending)
        for name in (CARD_JSON, CARD_MD, SUMS):
            release_file_save(release, out / name, name)
    return result


def _plans_remove(release: Release) -> None:
    """The plans and the pending card, once the release is done: only its files remain."""
    storage = release_storage()
    for entry in _shards(release):
        storage.delete(release_file_key(release, plan_name(entry["name"])))
    storage.delete(release_file_key(release, PENDING_CARD))
    try:
        os.rmdir(storage.path(release_file_key(release, PLAN_FOLDER)))
    except (NotImplementedError, OSError):  # not a local folder, or not empty: it does no harm
        pass


def release_shards_finish(release_id: int) -> Release | None:
    """Assemble a sharded release once every shard is recorded: card, SHA256SUMS, done. Idempotent."""
    release = Release.objects.filter(pk=release_id).first()
    if release is None or release.status != Release.Status.RUNNING:
        return release
    shards = _shards(release)
    if not shards or not all(e["sha256"] for e in shards):
        return release
    task_started(FINISH_TASK, release_id)
    task_beat(FINISH_TASK, release_id)
    try:
        result = _seal(release)
    except Exception as error:
        return release_build_failed(release, error)
    finally:
        task_done(FINISH_TASK, release_id)
    batch_ids = sorted(release.batches.values_list("pk", flat=True))
    done = release_build_done(release_id, batch_ids, release.target, result)
    _plans_remove(done)
    return done
