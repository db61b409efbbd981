"""Releases: a coordinator asks for one (release_create), a Celery task builds it (release_build).

A release is immutable once built: release_build does nothing to a finished release, and no service
changes one. Its files live in the "releases" storage under "<release id>/"; their checksums are kept
on the row, in the dataset card and in SHA256SUMS.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import ecgreview
from annotations.errors import Forbidden
from annotations.lib.release_files.files import utc_iso
from annotations.lib.release_files.shards import PENDING_CARD, plan_name
from annotations.models import Release, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.releases.builds import release_file_key, release_is_sharding, release_storage
from annotations.selectors.releases.plan import ExportPlan, ExportRefused, export_plan
from annotations.services.agreement.compute import agreement_catch_up
from annotations.services.audit import audit_record
from annotations.services.jobs import dispatch  # by attribute: a test's stand-in reaches every caller
from annotations.services.jobs.dispatch import Beat, task_beat, task_beating, task_done, task_started
from annotations.services.releases.export import ExportResult, export_write, export_write_current
from annotations.services.releases.layout import ExportOptions
from annotations.services.webhooks.events import release_built_emit

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

TARGETS = ("", "code15", "ptbxl-scp")


def _require_coordinator(actor: User) -> None:
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators export labels"))


def release_create(
    *,
    actor: User,
    batches: Sequence[ReviewBatch],
    target: str = "",
    hdf5: bool = True,
    native_rate: bool = False,
    name: str = "",
    ip_address: str | None = None,
) -> Release:
    """Record a release request and queue its build once the request is committed."""
    _require_coordinator(actor)
    if target not in TARGETS:
        raise ExportRefused(_("unknown mapping “%(target)s”; use code15 or ptbxl-scp") % {"target": target})
    plan = export_plan([batch.pk for batch in batches], target=target)
    options = ExportOptions(hdf5=hdf5, native_rate=native_rate)
    # The shard size is the release's own from the start, so that a rebuild has the same files whatever
    # the setting says by then.
    stored = {**options.as_dict(), **({"shard_exams": settings.RELEASE_SHARD_EXAMS} if hdf5 else {})}
    with transaction.atomic():
        release = Release.objects.create(
            name=name or ", ".join(batch.name for batch in plan.batches)[:200],
            coordinator=actor,
            taxonomy=plan.taxonomy,
            target=plan.target,
            options=stored,
            software_version=ecgreview.__version__,
        )
        release.batches.set(plan.batches)
        audit_record(
            actor=actor,
            action="release.create",
            target=release,
            after={
                "batches": plan.batch_ids,
                "taxonomy": f"{plan.taxonomy.key} {plan.taxonomy.version}",
                "target": plan.target,
                "options": stored,
            },
            ip_address=ip_address,
        )
        transaction.on_commit(lambda: _enqueue(release.pk))
    return release


def _enqueue(release_id: int) -> None:
    # A broker outage must not lose the request: the row stays queued and the jobs sweep queues it.
    dispatch.task_enqueue(BUILD_TASK, release_id)


BUILD_TASK = "annotations.tasks.releases_build"
SHARD_TASK = "annotations.tasks.releases_shard_build"
FINISH_TASK = "annotations.tasks.releases_shards_finish"


def _enqueue_shards(release_id: int, missing: list[int]) -> None:
    # Lost messages are the jobs sweep's: it queues again every shard still unwritten, then the assembly.
    for index in missing:
        dispatch.task_enqueue(SHARD_TASK, release_id, index)
    if not missing:
        dispatch.task_enqueue(FINISH_TASK, release_id)
    release_activity_mark(release_id)


def release_activity_mark(release_id: int) -> None:
    """The sharded build as a whole goes on: its shards were just queued, or one began, beat or ended.
    A release quiet for JOBS_STALLED_AFTER_S has every unwritten shard queued again by the jobs sweep,
    whatever the queue's markers say: a message a killed worker had taken but not yet started is marked
    as waiting, and would come back only after the broker's visibility timeout. The build's own beat is
    the mark: the labels pass is over, and a late delivery of the build finds it and is dropped."""
    task_beat(BUILD_TASK, release_id)


class _ProgressWriter:
    """Progress on the Release row through a connection of its own: the export reads inside one long
    snapshot transaction, and an update made there would stay invisible until the very end. Each step
    is also the build's heartbeat."""

    def __init__(self, release_id: int, beat: Callable[..., None] | None = None) -> None:
        self.release_id = release_id
        self.beat = beat or (lambda *_: None)
        self.connection = connections.create_connection("default")

    def __call__(self, done: int, total: int) -> None:
        self.beat()
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    # The table name is the model's own, never input.
                    f"UPDATE {Release._meta.db_table} SET progress_done = %s, "  # noqa: S608
                    "progress_total = %s WHERE id = %s",
                    [done, total, self.release_id],
                )
        except Exception:  # progress is a courtesy; the build must not fail for it
            logger.warning("could not record the progress of release %s", self.release_id)

    def close(self) -> None:
        self.connection.close()


def release_file_save(release: Release, path: Path, name: str) -> None:
    """One written file into the releases storage under its key, replacing what an interrupted build
    left there."""
    storage = release_storage()
    key = release_file_key(release, name)
    if storage.exists(key):
        storage.delete(key)
    with open(path, "rb") as handle:
        saved = storage.save(key, File(handle, name=Path(name).name))
    if saved != key:  # another writer of the same key came first: leave no stray copy behind
        storage.delete(saved)
        raise RuntimeError(f"release storage saved {key!r} as {saved!r}")


def _save_files(release: Release, out: Path, names: list[str]) -> None:
    for name in names:
        release_file_save(release, out / name, name)


def _export_stored(release: Release, plan: ExportPlan, progress: _ProgressWriter) -> ExportResult:
    options = ExportOptions(
        hdf5=release.options.get("hdf5", True), native_rate=release.options.get("native_rate", False)
    )
    with tempfile.TemporaryDirectory(prefix=f"release-{release.pk}-") as folder:
        out = Path(folder)
        result = export_write(
            plan,
            out,
            options,
            title=f"ECG Review release #{release.pk}: {release.name}",
            release_date=utc_iso(release.created_at),
            progress=progress,
            shard_exams=release.options.get("shard_exams"),
            current_consensus=True,
        )
        names = [entry["name"] for entry in result.files]
        if result.shards is not None:  # what the shard tasks and the assembly will read
            names += [plan_name(shard["name"]) for shard in result.shards] + [PENDING_CARD]
        _save_files(release, out, names)
    return result


def release_build_failed(release: Release, error: Exception) -> Release:
    logger.exception("release %s failed", release.pk)
    with transaction.atomic():
        # Never a finished release: a late twin of one of its tasks may fail after it is done.
        failed = (
            Release.objects.filter(pk=release.pk)
            .exclude(status=Release.Status.DONE)
            .update(status=Release.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now())
        )
        if not failed:
            release.refresh_from_db()
            return release
        audit_record(
            actor=None,
            actor_username="release-worker",
            action="release.failed",
            target=release,
            after={"error": str(error)[:500]},
        )
    release.refresh_from_db()
    return release


def release_build_done(release_id: int, batch_ids: list[int], target: str, result: ExportResult) -> Release:
    """Mark a release built with its files, once (a redelivered twin finds it done)."""
    files = result.files
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release_id)
        if locked.status == Release.Status.DONE:  # a redelivered twin finished first: same bytes
            return locked
        exams = next((f for f in files if f["name"] == "consensus.csv"), None)
        locked.status = Release.Status.DONE
        locked.files = files
        locked.exam_count = result.card["counts"]["exams"]
        if result.key is not None:  # a sharded release's key was stored with its labels pass
            locked.pseudonym_key = result.key
        locked.progress_done = locked.progress_total = max(locked.progress_total, 1)
        locked.finished_at = timezone.now()
        locked.save()
        audit_record(
            actor=None,
            actor_username="release-worker",
            action="release.build",
            target=locked,
            after={
                "batches": batch_ids,
                "target": target,
                "exams": locked.exam_count,
                "files": {f["name"]: f["sha256"] for f in files},
                "consensus_csv_sha256": exams["sha256"] if exams else "",
            },
        )
        release_built_emit(locked)
    return locked


def _pending_shards(release: Release, result: ExportResult) -> list[dict[str, Any]]:
    """Every shard of the new plan: one already written from this very plan (a labels pass run again on
    unchanged data plans the same shards) is kept, any other is to be written."""
    written = {e["name"]: e for e in release.files if e.get("sha256") and e.get("plan_sha256")}
    entries = []
    for shard in result.shards or []:
        kept = written.get(shard["name"])
        if kept and kept["plan_sha256"] == shard["plan_sha256"]:
            entries.append(kept)
        else:
            entries.append({"name": shard["name"], "bytes": 0, "sha256": "", **shard})
    return [{k: e[k] for k in ("name", "bytes", "sha256", "plan_sha256", "rows")} for e in entries]


def release_shards_start(release_id: int, result: ExportResult) -> Release:
    """The labels pass of a sharded release is stored: record its files and the shards to write (the
    release's files list, a shard's sha256 empty until it is written) and queue a task per shard."""
    with transaction.atomic():
        locked = Release.objects.select_for_update().get(pk=release_id)
        if locked.status == Release.Status.DONE:  # a redelivered twin finished first
            return locked
        shards = _pending_shards(locked, result)
        n = result.card["counts"]["exams"]
        locked.files = sorted([*result.files, *shards], key=lambda f: f["name"])
        locked.progress_total = 3 * n
        locked.progress_done = 2 * n + sum(e["rows"] for e in shards if e["sha256"])
        locked.pseudonym_key = result.key or {}
        locked.save(update_fields=["files", "progress_done", "progress_total", "pseudonym_key"])
        missing = [i for i, e in enumerate(shards) if not e["sha256"]]
        audit_record(
            actor=None,
            actor_username="release-worker",
            action="release.shards",
            target=locked,
            after={"exams": n, "shards": len(shards), "to_write": [shards[i]["name"] for i in missing]},
        )
        transaction.on_commit(lambda: _enqueue_shards(release_id, missing))
    return locked


def release_build(release_id: int) -> Release | None:
    """Build a queued (or interrupted, or failed) release. Idempotent: a finished release is returned
    untouched, one another worker is building (it beats) is left to it, and a rebuild overwrites the
    partial files of an interrupted one with identical bytes."""
    release = Release.objects.filter(pk=release_id).select_related("taxonomy").first()
    if release is None or release.status == Release.Status.DONE:
        return release
    if release.status == Release.Status.RUNNING and task_beating(BUILD_TASK, release_id):
        logger.info("release %s is being built by a live worker: this delivery is dropped", release_id)
        return release
    Release.objects.filter(pk=release_id).update(
        status=Release.Status.RUNNING, started_at=timezone.now(), error=""
    )
    task_started(BUILD_TASK, release_id)
    progress = _ProgressWriter(release_id, beat=Beat(BUILD_TASK, release_id))
    progress.beat()
    try:
        batch_ids = list(release.batches.values_list("pk", flat=True))

        # The files export the stored consensus beside every submitted read: it must have caught up
        # with every read the files' snapshot holds, including one submitted during the catch-up.
        def attempt() -> tuple[ExportPlan, ExportResult]:
            plan = export_plan(batch_ids, target=release.target)
            return plan, _export_stored(release, plan, progress)

        plan, result = export_write_current(batch_ids, attempt, agreement_catch_up)
    except Exception as error:
        return release_build_failed(release, error)
    finally:
        progress.close()
        task_done(BUILD_TASK, release_id)
    if result.shards is not None:
        return release_shards_start(release_id, result)
    return release_build_done(release_id, plan.batch_ids, plan.target, result)


def releases_stalled_requeue(now: datetime) -> int:
    """Queue again each release whose build (not its shards: those have their own sweep) stopped beating:
    its worker died. Returns how many. Raises if the cache is unavailable (no beat can be read)."""
    cache.get("release:probe")  # raises when the cache is down: nothing is taken for dead then
    old_enough = now - timedelta(seconds=settings.JOBS_STALLED_AFTER_S)
    queued = []
    running = Release.objects.filter(status=Release.Status.RUNNING, started_at__lte=old_enough)
    for release in running.order_by("started_at")[: settings.JOBS_SWEEP_LIMIT]:
        if release_is_sharding(release) or task_beating(BUILD_TASK, release.pk):
            continue
        with transaction.atomic():
            if not Release.objects.filter(pk=release.pk, status=Release.Status.RUNNING).update(
                status=Release.Status.QUEUED
            ):
                continue
            audit_record(
                actor=None,
                actor_username="release-worker",
                action="release.stalled",
                target=release,
                after={"started_at": release.started_at.isoformat() if release.started_at else None},
            )
        queued.append(release.pk)
    for release_id in queued:  # queued, committed: the task finds it so
        _enqueue(release_id)
    return len(queued)


def release_file_open(
    *, actor: User, release: Release, name: str, ip_address: str | None = None
) -> File[bytes]:
    """Open one file of a finished release for download, recording who took what."""
    _require_coordinator(actor)
    entry = next((f for f in release.files if f["name"] == name), None)
    if release.status != Release.Status.DONE or entry is None:
        raise FileNotFoundError(name)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="release.download",
            target=release,
            after={"file": name, "sha256": entry["sha256"]},
            ip_address=ip_address,
        )
    return release_storage().open(release_file_key(release, name), "rb")


def release_zip_name(release: Release) -> str:
    """The zip's file name; its one folder is the same name without ".zip"."""
    return f"release-{release.pk}.zip"


def _zip_stamp(release: Release) -> tuple[int, int, int, int, int, int]:
    """Every entry's date: the release's creation time (zip dates start in 1980)."""
    created = release.created_at.astimezone(UTC)
    return (
        max(created.year, 1980),
        created.month,
        created.day,
        created.hour,
        created.minute,
        created.second,
    )


def _zip_add(
    archive: zipfile.ZipFile, release: Release, entry: dict[str, Any], folder: str, stamp: tuple[Any, ...]
) -> None:
    """One stored file into the zip, checked against its recorded SHA-256 on the way in."""
    info = zipfile.ZipInfo(f"{folder}/{entry['name']}", date_time=stamp)
    info.external_attr = 0o644 << 16
    # Tracings are float32 samples that deflate barely shrinks; the text files shrink well.
    info.compress_type = zipfile.ZIP_STORED if entry["name"].endswith(".hdf5") else zipfile.ZIP_DEFLATED
    digest = hashlib.sha256()
    with (
        release_storage().open(release_file_key(release, entry["name"]), "rb") as source,
        archive.open(info, "w", force_zip64=True) as target,
    ):
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            target.write(chunk)
    if digest.hexdigest() != entry["sha256"]:
        raise RuntimeError(f"release {release.pk}: stored {entry['name']} no longer matches its SHA-256")


def release_zip_open(*, actor: User, release: Release, ip_address: str | None = None) -> IO[bytes]:
    """The whole finished release as one zip: every file, SHA256SUMS included, in one folder, so that
    `unzip` then `sha256sum -c SHA256SUMS` in that folder verifies it. Built from the stored files, each
    checked against its recorded SHA-256 on the way in; the same release always gives the same bytes
    (entries in name order, dated with the release's creation time). Returns an open temporary file."""
    _require_coordinator(actor)
    if release.status != Release.Status.DONE or not release.files:
        raise FileNotFoundError(release_zip_name(release))
    folder = release_zip_name(release).removesuffix(".zip")
    stamp = _zip_stamp(release)
    spool = tempfile.TemporaryFile(prefix=f"release-{release.pk}-", suffix=".zip")
    try:
        with zipfile.ZipFile(spool, "w") as archive:
            for entry in sorted(release.files, key=lambda f: f["name"]):
                _zip_add(archive, release, entry, folder, stamp)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="release.download",
            target=release,
            after={
                "file": release_zip_name(release),
                "files": {f["name"]: f["sha256"] for f in release.files},
            },
            ip_address=ip_address,
        )
    return spool
