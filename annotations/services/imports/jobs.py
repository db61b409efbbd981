"""Import jobs, the upload page's and the API's way in: the uploads saved under IMPORT_ROOT, a job row
queued for the worker, which runs services.imports.exams on it and keeps its outcome and live progress."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from annotations.errors import Forbidden
from annotations.lib.formats.base import Limits
from annotations.lib.formats.detect import PTBXL_DATABASE, archive_kind, is_xml
from annotations.lib.formats.registry import READERS
from annotations.models import Dataset, ImportJob
from annotations.roles import Role, has_role
from annotations.selectors.jobs import queue_quiet_notice, run_stopped_notice
from annotations.services.audit import audit_record
from annotations.services.imports.exams import (
    DATASET_NAME,
    NAME_MAX_BYTES,
    dataset_name_refusal,
    exams_import,
    exams_plan,
    import_limits,
    import_path_resolve,
    megabytes,
    name_byte_length,
    xml_too_large,
)
from annotations.services.imports.outcomes import (
    ImportInterrupted,
    ImportOptions,
    ImportRefused,
    ImportReport,
    unmapped_label_text,
)
from annotations.services.jobs.dispatch import task_enqueue_on_commit
from annotations.services.webhooks.events import import_finished_emit

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import UploadedFile

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:imports"


def _progress_key(job_id: int) -> str:
    return f"import-job:{job_id}:done"


def _progress_done(job_id: int) -> int:
    try:
        done: int = cache.get(_progress_key(job_id), 0)
        return done
    except Exception:  # Redis down: the page and the API still answer, without the live count
        logger.warning("import progress unavailable: the cache is down")
        return 0


def import_job_progress(job: ImportJob) -> dict[str, Any]:
    """Live progress of a job: records done so far (from the cache while it runs) and the totals."""

    done = job.total if job.status in {job.Status.DONE, job.Status.FAILED} else _progress_done(job.pk)
    return {
        "id": job.pk,
        "status": job.status,
        "dataset": job.dataset_name,
        "total": job.total,
        "done": min(done, job.total) if job.total else done,
        "created": job.created,
        "unchanged": job.unchanged,
        "skipped": job.skipped,
        "failed": job.failed,
        "files_failed": job.files_failed,
        # Every duplicate warning is kept in the outcomes (they are never cut at OUTCOMES_LISTED).
        "duplicates": sum(o["outcome"] == "duplicate" for o in job.outcomes),
        # Created or unchanged records counted above but not listed in the outcomes (OUTCOMES_LISTED).
        "not_listed": max(0, job.created + job.unchanged - sum(o["outcome"] in FINE for o in job.outcomes)),
        "error": job.error,
        "finished": job.status in {job.Status.DONE, job.Status.FAILED},
        # Above 1: the job was run again after the worker running it stopped.
        "attempt": job.attempt,
        "workers": import_job_workers_notice(job),
    }


def import_job_workers_notice(job: ImportJob) -> str:
    """What the page says when no worker takes the job, or its run stopped reporting; "" otherwise."""
    if job.status == job.Status.QUEUED:
        return queue_quiet_notice(settings.CELERY_TASK_DEFAULT_QUEUE, job.created_at)
    if job.status == job.Status.RUNNING:
        return run_stopped_notice(job.started_at, lambda: _beating(job.pk))
    return ""


def _save_uploads(files: Sequence[UploadedFile[bytes]], folder: Path, limits: Limits) -> None:
    folder.mkdir(parents=True, exist_ok=False)
    for upload in files:
        if not upload.size:
            raise ImportRefused(
                _("%(name)s: the file is empty (0 bytes); nothing was imported") % {"name": upload.name}
            )
        if upload.size > limits.max_file_bytes:
            raise ImportRefused(
                _("%(name)s: %(size)s MB is over the upload limit of %(limit)s MB (IMPORT_MAX_FILE_MB)")
                % {
                    "name": upload.name,
                    "size": megabytes(upload.size, 1),
                    "limit": megabytes(limits.max_file_bytes, 0),
                }
            )
        # Refused here, with the job never created: in the upload folder an archive would only be
        # skipped as "not an ECG file", and the job would finish with nothing said about it.
        upload.seek(0)
        head = upload.read(512)
        kind = archive_kind(head, upload.name or "")
        upload.seek(0)
        if upload.size > limits.max_xml_bytes and is_xml(head):
            raise ImportRefused(f"{upload.name}: {xml_too_large(upload.size, limits)}")
        if kind:
            raise ImportRefused(
                _(
                    "%(name)s: is a %(kind)s archive; archives are not imported (unpack it and import the "
                    "files inside)"
                )
                % {"name": upload.name, "kind": kind}
            )
        name = get_valid_filename(Path(upload.name or "").name)  # never a path from the browser
        if name_byte_length(name) > NAME_MAX_BYTES:
            raise ImportRefused(
                _(
                    "%(name)s: the file name is too long (%(bytes)s bytes; file systems keep up to %(max)s); "
                    "rename the file"
                )
                % {"name": upload.name, "bytes": name_byte_length(name), "max": NAME_MAX_BYTES}
            )
        with open(folder / name, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)


def _check_job_request(coordinator: User, dataset: str, source_format: str, has_input: bool) -> None:
    if not has_role(coordinator, Role.COORDINATOR):
        raise Forbidden(_("only coordinators import exams"))
    if not DATASET_NAME.match(dataset or ""):
        raise ImportRefused(dataset_name_refusal(dataset or ""))
    if source_format and source_format not in READERS:
        raise ImportRefused(_("unknown format “%(format)s”") % {"format": source_format})
    if not has_input:
        raise ImportRefused(_("choose at least one file"))


def _job_paths(paths: Sequence[str], root: Path) -> list[str]:
    """The given paths, each checked to exist inside the import root, relative to it."""
    relative = []
    for path in paths:
        resolved = import_path_resolve(path, confine_to=root)
        if not resolved.exists():
            raise ImportRefused(_("%(path)s: no such file or folder under the import root") % {"path": path})
        relative.append(str(resolved.relative_to(root)))
    return relative


def _job_uploads(files: Sequence[UploadedFile[bytes]], root: Path) -> str:
    """The uploads saved in a fresh folder under the import root (removed again if one is refused)."""
    upload_dir = root / "uploads" / uuid.uuid4().hex
    try:
        _save_uploads(files, upload_dir, import_limits())
    except Exception:
        shutil.rmtree(upload_dir, ignore_errors=True)
        raise
    return str(upload_dir.relative_to(root))


def import_job_create(
    *,
    coordinator: User,
    dataset: str,
    files: Sequence[UploadedFile[bytes]] = (),
    paths: Sequence[str] = (),
    source_format: str = "",
    skip_invalid: bool = False,
    amplitude_scale: float = 1.0,
) -> ImportJob:
    """Save uploads under IMPORT_ROOT (or take paths inside it), create the job, queue its task on commit."""
    _check_job_request(coordinator, dataset, source_format, bool(files or paths))
    root = Path(settings.IMPORT_ROOT).resolve()
    relative = _job_paths(paths, root)
    if files:
        relative.append(_job_uploads(files, root))
    # "CPSC" after "cpsc" imports into cpsc (one name in any case): the job and its report say so.
    dataset = Dataset.objects.filter(name__iexact=dataset).values_list("name", flat=True).first() or dataset
    with transaction.atomic():
        job = ImportJob.objects.create(
            coordinator=coordinator,
            dataset_name=dataset,
            source_format=source_format,
            paths=relative,
            options={"skip_invalid": skip_invalid, "amplitude_scale": amplitude_scale},
        )
        audit_record(
            actor=coordinator,
            action="import_job.create",
            target=job,
            after={"dataset": dataset, "paths": relative, "format": source_format or "auto"},
        )
        # Guarded: with the broker down the upload still answers, and the jobs sweep queues it later.
        task_enqueue_on_commit("annotations.tasks.imports_run", job.pk)
    return job


# --- Heartbeat -------------------------------------------------------------------------------------
# A run beats (a cache key living JOBS_STALLED_AFTER_S, renewed every JOBS_HEARTBEAT_S) while it works.
# A worker killed mid-run stops beating; its message comes back only after the broker's visibility
# timeout (hours), so the jobs sweep queues such a job again once its beat is gone, and the new run takes
# it over (a higher `attempt`). The old run, if it was only slow, finds the higher attempt at its next beat
# and stops, its current file rolled back; a twin delivery of a job that still beats is dropped.
def alive_key(job_id: int) -> str:
    return f"import-job:{job_id}:alive"


def _beat(job_id: int, attempt: int) -> None:
    try:
        cache.set(alive_key(job_id), attempt, timeout=settings.JOBS_STALLED_AFTER_S)
    except Exception:  # the cache is down: no beat, and no sweep either (it needs the cache)
        logger.warning("import heartbeat: the cache is down")


def _beating(job_id: int) -> bool:
    try:
        return cache.get(alive_key(job_id)) is not None
    except Exception:
        return False


def _job_start(job_id: int) -> ImportJob | None:
    """The job, now running under a new attempt; None when it has finished already, or when another run
    of it is alive (a twin delivery)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status in {ImportJob.Status.DONE, ImportJob.Status.FAILED}:
            return None
        if job.status == ImportJob.Status.RUNNING and _beating(job_id):
            logger.info("import job %s is being run by a live worker: this delivery is dropped", job_id)
            return None
        job.status, job.started_at = ImportJob.Status.RUNNING, timezone.now()
        job.attempt += 1
        job.save(update_fields=["status", "started_at", "attempt"])
    _beat(job.pk, job.attempt)
    return job


class _CachedProgress:
    """Records done so far, in the cache where the page and the API read it; and the run's heartbeat,
    which stops the run (ImportInterrupted) once another run has taken the job over."""

    def __init__(self, job: ImportJob) -> None:
        self.job_id, self.attempt = job.pk, job.attempt
        self.key = _progress_key(job.pk)
        self.done = 0
        self.beaten = time.monotonic()
        self._show(0)

    def _show(self, done: int) -> None:
        """The live count for the page; the cache is optional, and a Redis restarting under an import must
        not fail the file being read."""
        try:
            cache.set(self.key, done, timeout=24 * 3600)
        except Exception:
            logger.warning("import progress: the cache is down")

    def __call__(self, n: int) -> None:
        self.done += n
        if self.done % 50 == 0 or n > 1:  # a cache write per 50 exams is plenty for a progress bar
            self._show(self.done)
        if time.monotonic() - self.beaten >= settings.JOBS_HEARTBEAT_S:
            self.beaten = time.monotonic()
            current = ImportJob.objects.filter(pk=self.job_id).values_list("attempt", flat=True).first()
            if current != self.attempt:
                raise ImportInterrupted(f"import job {self.job_id} was taken over by run {current}")
            _beat(self.job_id, self.attempt)


def import_jobs_stalled_requeue(now: datetime) -> int:
    """Queue again each running import whose run stopped beating (its worker died); returns how many.
    Raises if the cache is unavailable (no beat can be read: nothing is taken for dead)."""
    cache.get("import-job:probe")  # raises when the cache is down
    old_enough = now - timedelta(seconds=settings.JOBS_STALLED_AFTER_S)
    running = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, started_at__lte=old_enough)
    queued = 0
    for job_id in running.order_by("started_at").values_list("pk", flat=True)[: settings.JOBS_SWEEP_LIMIT]:
        if _beating(job_id):
            continue
        with transaction.atomic():
            job = (
                ImportJob.objects.select_for_update()
                .filter(pk=job_id, status=ImportJob.Status.RUNNING)
                .first()
            )
            if job is None:
                continue
            job.status = ImportJob.Status.QUEUED
            job.save(update_fields=["status"])
            audit_record(
                actor=None,
                actor_username=SYSTEM_ACTOR,
                action="import_job.stalled",
                target=job,
                after={
                    "attempt": job.attempt,
                    "started_at": job.started_at.isoformat() if job.started_at else None,
                },
            )
            task_enqueue_on_commit("annotations.tasks.imports_run", job.pk)
        queued += 1
    return queued


def import_job_run(job_id: int) -> None:
    """Run a queued job. Idempotent: a finished job is left alone, and a job whose worker died mid-way is
    simply run again: the files it had already imported are found stored, and their exams, which carry
    the job, are counted as created by it, as the first run would have."""
    job = _job_start(job_id)
    if job is None:
        return
    root = Path(settings.IMPORT_ROOT).resolve()
    options = ImportOptions(
        format=job.source_format or None,
        confine_to=root,
        skip_invalid=bool(job.options.get("skip_invalid")),
        amplitude_scale=float(job.options.get("amplitude_scale", 1.0)),
        job_id=job.pk,
    )
    progress = _CachedProgress(job)
    try:
        plan = exams_plan(job.paths, options)
        ImportJob.objects.filter(pk=job.pk).update(total=sum(max(c, 0) for _, _, c in plan))
        report = exams_import(
            job.paths,
            dataset=job.dataset_name,
            options=options,
            actor=job.coordinator,
            progress=progress,
            plan=plan,
        )
    except ImportRefused as error:
        _job_finish(job, status=ImportJob.Status.FAILED, error=str(error))
        _uploads_remove(job, root)
        return
    except ImportInterrupted as taken:
        logger.warning("%s; this run stops", taken)
        return
    _job_report(job, report, root)
    _uploads_remove(job, root)
    try:
        cache.delete_many([progress.key, alive_key(job.pk)])
    except Exception:  # they expire on their own
        logger.warning("import progress: the cache is down")


def _job_report(job: ImportJob, report: ImportReport, root: Path) -> None:
    """A run's end: done with its counts and outcomes, or failed when it left nothing (_nothing_imported)."""
    summary = report.summary()
    nothing = _nothing_imported(report)
    _job_finish(
        job,
        status=ImportJob.Status.FAILED if nothing else ImportJob.Status.DONE,
        error=nothing,
        outcomes=_job_outcomes(report, root),
        created=summary["created"],
        unchanged=summary["unchanged"],
        skipped=summary["skipped"],
        failed=summary["error"],
        files_failed=summary["files_failed"],
    )


def _nothing_imported(report: ImportReport) -> str:
    """Why a finished run is a failure: no ECG file among what was given, or every one refused; "" when
    it stored (or found already stored) any exam. A script that polls the status must not read "done"
    for an import that left nothing behind; one that refused some files and kept others is done, and
    counts them in files_failed."""
    if not report.files:
        names = ", ".join(path.name for path, _ in report.ignored[:5])
        more = f" and {len(report.ignored) - 5} more" if len(report.ignored) > 5 else ""
        found = f": found only {names}{more}, which are not ECG records" if names else ""
        return f"No ECG file was found in what was given{found}."
    if report.files_failed == len(report.files):
        count = len(report.files)
        files = f"{count} file{'s' if count != 1 else ''}"
        return f"Every file was refused ({files}): the reason for each is listed."
    return ""


def _uploads_remove(job: ImportJob, root: Path) -> None:
    """Remove the job's upload folders once it has finished: the samples are in waveform storage, and
    every upload would otherwise be kept twice for ever. Only folders the upload itself made (uploads/<hex>),
    never a folder of the import root a coordinator named. A run that stops part-way never gets here: the
    run that takes it over needs the files."""
    for relative in job.paths:
        parts = Path(relative).parts
        if len(parts) != 2 or parts[0] != "uploads":
            continue
        folder = (root / relative).resolve()
        if folder.parent != (root / "uploads").resolve():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        logger.info("import job %s: removed its uploads %s", job.pk, relative)


# Rows kept per job for records that went in as they should (created, unchanged): their exams carry
# their own provenance, and a 20,000-exam file would otherwise be a 20,000-row table on the job page.
# Every problem (refused file, invalid or skipped record, ignored file) is always kept, and listed first.
OUTCOMES_LISTED = 1000
FINE = {"created", "unchanged"}


def _job_outcomes(report: ImportReport, root: Path) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    fine: list[dict[str, Any]] = []
    for file in report.files:
        name = _display_name(file.path, root)
        if not file.ok:
            message = file.error.replace(str(file.path), name)
            problems.append({"file": name, "record": "", "outcome": "error", "message": message})
        for record in file.records:
            (fine if record.outcome in FINE else problems).append(record.as_dict(name))
    for path, reason in report.ignored:
        name = _display_name(path, root)
        problems.append({"file": name, "record": "", "outcome": "ignored", "message": f"{name} {reason}"})
    unmapped = [
        {
            "file": _display_name(file.path, root),
            "record": "",
            "outcome": "unmapped",
            "message": f"{unmapped_label_text(system, code, count)} maps to no class of {report.taxonomy}",
        }
        for file in report.files
        for (system, code), count in sorted(file.unmapped.items())
    ]
    metadata = [
        {
            "file": _display_name(file.metadata, root) if file.metadata is not None else "",
            "record": "",
            "outcome": "metadata",
            "message": file.metadata_note(),
        }
        for file in report.files
        if file.metadata_note()
    ]
    return problems + unmapped + metadata + fine[:OUTCOMES_LISTED]


def _display_name(path: Path, root: Path) -> str:
    """Paths relative to the import root, minus the upload folder's random name."""
    try:
        parts = path.resolve().relative_to(root).parts
    except ValueError:
        return path.name
    if len(parts) >= 2 and parts[0] == "uploads":
        # The upload folder itself is a unit only as a PTB-XL folder: name its database, not the folder.
        parts = parts[2:] or (PTBXL_DATABASE,)
    return "/".join(parts)


def _job_finish(job: ImportJob, *, status: str, **fields: Any) -> None:
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), **fields)
        job.refresh_from_db()
        audit_record(
            actor=job.coordinator,
            action=f"import_job.{status}",
            target=job,
            after={
                "created": job.created,
                "unchanged": job.unchanged,
                "failed": job.failed,
                "files_failed": job.files_failed,
                "error": job.error[:500],
            },
        )
        if status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            import_finished_emit(job)
