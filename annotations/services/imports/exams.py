"""Importing exams from files: one service for every format, each file all-or-nothing.

The readers in annotations/lib/formats/ turn files into records; this module stores them. Each import unit
(a file, a WFDB record, a PTB-XL folder) is written in one transaction with one audit row. If anything in
it is wrong the transaction rolls back and the blobs it newly wrote are deleted again, so a bad file
leaves no rows and no blobs. With skip_invalid, the bad records of a multi-record file are reported and
the good ones kept.

Multi-record files are streamed: records are hashed and written to blob storage as they come and their
rows are inserted with bulk_create in batches, so memory does not grow with the file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotations.errors import Forbidden, Invalid
from annotations.lib.ecg import waveform
from annotations.lib.formats.base import (
    FormatError,
    Limits,
    ReadOptions,
    Record,
    RecordError,
    RecordSkipped,
    standardized,
)
from annotations.lib.formats.detect import (
    PTBXL_DATABASE,
    detect_format,
    folder_contents,
    import_units,
    is_xml,
)
from annotations.lib.formats.registry import READERS
from annotations.lib.formats.statements import clinical_labels
from annotations.models import Dataset, Exam, ReferenceLabel, Taxonomy
from annotations.selectors.imports import COUNTED_SYSTEMS, LabelMatcher
from annotations.services.audit import audit_record
from annotations.services.exams.quality import exams_quality_enqueue
from annotations.services.exams.waveforms import waveform_delete, waveform_store_blob

logger = logging.getLogger(__name__)
Progress = Callable[[int], None]
_DATASET_NAME = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
# A batch is flushed when it holds this many encoded bytes, whatever IMPORT_BATCH_SIZE says.
_BATCH_BYTES = 32 * 1024 * 1024


class ImportRefused(Invalid):
    """The import cannot start (bad dataset name, path outside the import root...)."""


class _FileFailed(Exception):
    """Aborts one file's transaction; the message names the record and the reason."""


@dataclass(frozen=True)
class ImportOptions:
    format: str | None = None  # None: detected from each file's content
    metadata: Path | None = None
    skip_invalid: bool = False
    amplitude_scale: float = 1.0
    confine_to: Path | None = None  # uploads and the API: every path must resolve inside this folder


@dataclass
class RecordOutcome:
    record: str
    outcome: str  # created, unchanged, skipped or error
    message: str = ""

    def as_dict(self, file: str) -> dict:
        return {"file": file, "record": self.record, "outcome": self.outcome, "message": self.message}


@dataclass
class FileOutcome:
    path: Path
    format: str = ""
    error: str = ""
    records: list[RecordOutcome] = field(default_factory=list)
    # Reference labels (snomed, statement) that map to no class of the default taxonomy: exams per label.
    unmapped: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.error

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.outcome == outcome)


@dataclass
class ImportReport:
    files: list[FileOutcome] = field(default_factory=list)
    # Files found in the folders given that are no ECG record, with why: listed, never silently dropped.
    ignored: list[tuple[Path, str]] = field(default_factory=list)
    taxonomy: str = ""  # the default taxonomy the labels were mapped onto ("tnmg 2026"), "" when none

    def count(self, outcome: str) -> int:
        return sum(f.count(outcome) for f in self.files)

    def unmapped_labels(self) -> dict[tuple[str, str], int]:
        """(system, code) -> exams, for stored reference labels that map to no class of the taxonomy."""
        total: Counter = Counter()
        for file in self.files:
            total.update(file.unmapped)
        return dict(total)

    @property
    def files_failed(self) -> int:
        return sum(1 for f in self.files if not f.ok)

    def summary(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "files_failed": self.files_failed,
            "files_ignored": len(self.ignored),
            **{name: self.count(name) for name in ("created", "unchanged", "skipped", "error")},
        }


def import_limits() -> Limits:
    return Limits(
        max_file_bytes=settings.IMPORT_MAX_FILE_MB * 1024 * 1024,
        max_xml_bytes=settings.IMPORT_MAX_XML_MB * 1024 * 1024,
        max_samples_per_lead=settings.IMPORT_MAX_SAMPLES_PER_LEAD,
        max_signals=settings.IMPORT_MAX_SIGNALS,
        max_records_per_file=settings.IMPORT_MAX_RECORDS_PER_FILE,
    )


def import_path_resolve(path: str | Path, *, confine_to: Path | None) -> Path:
    """An absolute path; with confine_to (uploads, API) it must resolve (symlinks too) inside that folder."""
    candidate = Path(path)
    if confine_to is None:
        return candidate.resolve()
    root = Path(confine_to).resolve()
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise ImportRefused(f"{path}: outside the import root {root}; refused")
    return resolved


def _dataset(name: str, actor) -> Dataset:
    dataset, created = Dataset.objects.get_or_create(name=name, defaults={"title": name})
    if created:
        audit_record(actor=actor, action="dataset.create", target=dataset, after={"name": name})
    return dataset


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class _Pending:
    record: Record
    quantized: waveform.Quantized
    stored: Future[tuple[str, str, bool]]  # (key, sha256, newly written)


# Hashing and blob writes release the GIL: two threads overlap them with the next records' parsing.
# Module-level and lazily created, so it is shared by every import in a process.
_IO_POOL: ThreadPoolExecutor | None = None


def _io_pool() -> ThreadPoolExecutor:
    global _IO_POOL
    if _IO_POOL is None:
        _IO_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="import-io")
    return _IO_POOL


class _BatchWriter:
    """Collects stored-ready records and writes blobs + rows in batches, inside the file's transaction."""

    def __init__(
        self,
        *,
        dataset: Dataset,
        source_format: str,
        source_sha: str,
        skip_invalid: bool,
        outcomes: list[RecordOutcome],
        written: list[str],
        unmapped: Counter | None = None,
    ) -> None:
        self.dataset, self.source_format, self.source_sha = dataset, source_format, source_sha
        self.skip_invalid, self.outcomes, self.written = skip_invalid, outcomes, written
        self.unmapped = unmapped if unmapped is not None else Counter()
        self.matcher = _default_matcher()
        self.pending: list[_Pending] = []
        self.pending_bytes = 0
        self.keep_identifiers = settings.IDENTIFIERS_POLICY == "keep"
        self.batch_size = settings.IMPORT_BATCH_SIZE

    def add(self, record: Record, quantized: waveform.Quantized) -> None:
        # Hashed and stored right away, in the background: content addressing makes an early write
        # harmless (an unchanged exam's blob already exists and is not rewritten), and a blob of a
        # record refused later is deleted again (see flush and _discard_blobs).
        blob = waveform.encode_fast(quantized.samples)
        self.pending.append(_Pending(record, quantized, _io_pool().submit(waveform_store_blob, blob)))
        self.pending_bytes += len(blob)
        if len(self.pending) >= self.batch_size or self.pending_bytes >= _BATCH_BYTES:
            self.flush()

    def abandon(self) -> None:
        """The file failed: wait for the background writes and remember which blobs were new."""
        for item in self.pending:
            try:
                key, _, new = item.stored.result()
            except Exception:  # a failed write left nothing to clean up
                logger.warning("blob write failed during an abandoned import", exc_info=True)
                continue
            if new:
                self.written.append(key)
        self.pending = []

    def reject(self, record: str, reason: str) -> None:
        if not self.skip_invalid:
            raise _FileFailed(f"record {record}: {reason}")
        self.outcomes.append(RecordOutcome(record, "error", reason))

    def flush(self) -> None:
        if not self.pending:
            return
        ids = [p.record.external_id for p in self.pending]
        known = dict(
            Exam.objects.filter(dataset=self.dataset, external_id__in=ids).values_list(
                "external_id", "waveform_sha256"
            )
        )
        results = [item.stored.result() for item in self.pending]
        self.written.extend(key for key, _, new in results if new)
        rows: list[tuple[Exam, Record]] = []
        refused_new: list[str] = []
        for item, (key, sha, new) in zip(self.pending, results, strict=True):
            external_id = item.record.external_id
            prior = known.get(external_id)
            if prior == sha:
                self.outcomes.append(RecordOutcome(external_id, "unchanged"))
                continue
            if prior is not None:
                self.reject(external_id, "a different waveform is already stored under this id")
                if new:
                    refused_new.append(key)
                continue
            known[external_id] = sha
            rows.append((self._exam(item, sha, key), item.record))
        self.pending, self.pending_bytes = [], 0
        created = Exam.objects.bulk_create([exam for exam, _ in rows])
        exams_quality_enqueue([exam.pk for exam in created])
        labels = [
            ReferenceLabel(
                exam=exam,
                code_system=label[0][:30],
                code=str(label[1])[:60],
                likelihood=label[2] if len(label) > 2 else None,
                source=self.source_format,
            )
            for exam, (_, record) in zip(created, rows, strict=True)
            for label in _unique_labels(clinical_labels(record.labels))
        ]
        ReferenceLabel.objects.bulk_create(labels)
        if self.matcher is not None:
            self.unmapped.update(
                (label.code_system, label.code)
                for label in labels
                if label.code_system in COUNTED_SYSTEMS
                and not self.matcher.classes_for(label.code_system, label.code)
            )
        self.outcomes.extend(RecordOutcome(exam.external_id, "created") for exam in created)
        _discard_blobs(refused_new)  # skip-invalid: a refused record's blob must not linger

    def _exam(self, item: _Pending, sha: str, key: str) -> Exam:
        record = item.record
        return Exam(
            dataset=self.dataset,
            external_id=record.external_id,
            patient_pseudo_id=record.patient_id[:100],
            age=record.age,
            sex=record.sex if record.sex in {"F", "M"} else Exam.Sex.UNKNOWN,
            acquired_at=_aware(record.acquired_at),
            sampling_rate=record.sampling_rate,
            n_samples=item.quantized.samples.shape[1],
            lead_names=list(record.lead_names),
            gain_uv=item.quantized.gain_uv,
            waveform_key=key,
            waveform_sha256=sha,
            source_format=self.source_format,
            source_sha256=self.source_sha,
            source_record=record.source_record[:300],
            identifiers=dict(record.identifiers) if self.keep_identifiers else {},
        )


def _default_matcher() -> LabelMatcher | None:
    taxonomy = Taxonomy.objects.filter(is_default=True).first()
    return LabelMatcher(taxonomy) if taxonomy is not None else None


def _unique_labels(labels: Iterable[tuple]) -> list[tuple]:
    seen: dict[tuple[str, str], tuple] = {}
    for label in labels:
        seen.setdefault((label[0], str(label[1])), label)
    return list(seen.values())


def _aware(moment):
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _discard_blobs(keys: list[str]) -> None:
    """Delete blobs a failed file wrote, unless a committed exam (another import) uses the same content."""
    for key in keys:
        sha = Path(key).stem
        if not Exam.objects.filter(waveform_sha256=sha).exists():
            waveform_delete(key)


def _read_options(options: ImportOptions) -> ReadOptions:
    return ReadOptions(
        limits=import_limits(), metadata=options.metadata, amplitude_scale=options.amplitude_scale
    )


def _check_size(unit: Path, limits: Limits) -> None:
    files = [unit] if unit.is_file() else []
    for path in files:
        size = path.stat().st_size
        if size == 0:
            raise FormatError("is an empty file (0 bytes); nothing to import")
        if size > limits.max_file_bytes:
            raise FormatError(
                f"is {size / 1048576:.1f} MB, over the import limit of "
                f"{limits.max_file_bytes / 1048576:.0f} MB (IMPORT_MAX_FILE_MB)"
            )
        if size > limits.max_xml_bytes:
            with open(path, "rb") as handle:
                if is_xml(handle.read(512)):
                    raise FormatError(_xml_too_large(size, limits))


def _xml_too_large(size: int, limits: Limits) -> str:
    return (
        f"is XML of {size / 1048576:.1f} MB, over the XML upload limit of "
        f"{limits.max_xml_bytes / 1048576:.0f} MB (IMPORT_MAX_XML_MB)"
    )


def _store_records(records: Iterable, writer: _BatchWriter, progress: Progress) -> None:
    for item in records:
        if isinstance(item, RecordSkipped):
            writer.outcomes.append(RecordOutcome(item.record, "skipped", item.reason))
        elif isinstance(item, RecordError):
            writer.reject(item.record, item.reason)
        else:
            try:
                record = standardized(item)
                quantized = waveform.to_int16(record.signals, record.gain_uv)
            except RecordError as error:
                writer.reject(error.record, error.reason)
            except ValueError as error:  # e.g. a peak beyond int16 at 1 uV
                writer.reject(item.external_id, str(error))
            else:
                writer.add(record, quantized)
        progress(1)
    writer.flush()


def _import_unit(
    unit: Path, fmt: str, dataset_name: str, options: ImportOptions, actor, progress: Progress
) -> FileOutcome:
    outcome = FileOutcome(path=unit, format=fmt)
    written: list[str] = []
    writer: _BatchWriter | None = None
    read_options = _read_options(options)
    try:
        _check_size(unit, read_options.limits)
        reader = READERS[fmt]
        single = reader.count(unit, read_options) == 1 and unit.is_file()
        source_sha = _file_sha256(unit) if single else ""
        with transaction.atomic():
            dataset = _dataset(dataset_name, actor)
            writer = _BatchWriter(
                dataset=dataset,
                source_format=fmt,
                source_sha=source_sha,
                skip_invalid=options.skip_invalid,
                outcomes=outcome.records,
                written=written,
                unmapped=outcome.unmapped,
            )
            _store_records(reader.read(unit, read_options), writer, progress)
            audit_record(
                actor=actor,
                action="exams.import",
                target=dataset,
                after={
                    "file": str(unit),
                    "format": fmt,
                    "source_sha256": source_sha,
                    **{name: outcome.count(name) for name in ("created", "unchanged", "skipped", "error")},
                },
            )
    except (_FileFailed, FormatError, RecordError) as error:
        outcome.error = f"{unit}: {error}"
    except Exception as error:  # a library choking on a malformed file: report it, never half-store it
        logger.exception("import of %s failed", unit)
        outcome.error = f"{unit}: unreadable {fmt} file ({type(error).__name__}: {error})"
    if outcome.error:
        if writer is not None:
            writer.abandon()
        _discard_blobs(written)
        outcome.records = []
        outcome.unmapped.clear()
        with transaction.atomic():  # the refusal itself is on the record; nothing else of the file is
            audit_record(
                actor=actor,
                action="exams.import_failed",
                after={"file": str(unit), "format": fmt, "error": outcome.error[:1000]},
            )
    return outcome


def exams_plan(paths: Iterable[str | Path], options: ImportOptions) -> list[tuple[Path, str, int]]:
    """The import units behind `paths`, each with its format and record count (-1: cannot tell yet)."""
    plan = []
    read_options = _read_options(options)
    for raw in paths:
        path = import_path_resolve(raw, confine_to=options.confine_to)
        if not path.exists():
            raise ImportRefused(f"{raw}: no such file or folder")
        for unit in import_units(path):
            try:
                fmt = options.format or detect_format(unit)
                total = READERS[fmt].count(unit, read_options)
            except Exception:  # reported properly when the unit is imported
                fmt, total = options.format or "", -1
            plan.append((unit, fmt, total))
    return plan


def exams_import(
    paths: Iterable[str | Path],
    *,
    dataset: str,
    options: ImportOptions | None = None,
    actor=None,
    progress: Progress | None = None,
    plan: list[tuple[Path, str, int]] | None = None,
) -> ImportReport:
    """Import every record of every file under `paths` into `dataset`; see the module docstring."""
    options = options or ImportOptions()
    if not _DATASET_NAME.match(dataset):
        raise ImportRefused(f"dataset name {dataset!r} must be letters, digits, '-' or '_'")
    if options.format and options.format not in READERS:
        raise ImportRefused(f"unknown format {options.format!r}; one of {', '.join(READERS)}")
    if options.metadata is not None:
        options = ImportOptions(
            **{
                **options.__dict__,
                "metadata": import_path_resolve(options.metadata, confine_to=options.confine_to),
            }
        )
    plan = plan if plan is not None else exams_plan(paths, options)
    default = Taxonomy.objects.filter(is_default=True).first()
    report = ImportReport(taxonomy=f"{default.key} {default.version}" if default else "")
    for raw in paths:
        report.ignored += folder_contents(import_path_resolve(raw, confine_to=options.confine_to)).ignored
    limits = import_limits()
    for unit, fmt, _ in plan:
        try:
            _check_size(unit, limits)  # before even sniffing the content
            fmt = fmt or detect_format(unit)
        except FormatError as error:
            report.files.append(FileOutcome(path=unit, format=fmt, error=f"{unit}: {error}"))
            continue
        report.files.append(_import_unit(unit, fmt, dataset, options, actor, progress or (lambda n: None)))
    return report


# --- Import jobs (upload page and API) ----------------------------------------------------------------
def _progress_key(job_id: int) -> str:
    return f"import-job:{job_id}:done"


def _progress_done(job_id: int) -> int:
    from django.core.cache import cache

    try:
        return cache.get(_progress_key(job_id), 0)
    except Exception:  # Redis down: the page and the API still answer, without the live count
        logger.warning("import progress unavailable: the cache is down")
        return 0


def import_job_progress(job) -> dict:
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
        # Created or unchanged records counted above but not listed in the outcomes (OUTCOMES_LISTED).
        "not_listed": max(0, job.created + job.unchanged - sum(o["outcome"] in FINE for o in job.outcomes)),
        "error": job.error,
        "finished": job.status in {job.Status.DONE, job.Status.FAILED},
    }


def _save_uploads(files, folder: Path, limits: Limits) -> None:
    from django.utils.text import get_valid_filename

    from annotations.lib.formats.detect import archive_kind, archive_refusal

    folder.mkdir(parents=True, exist_ok=False)
    for upload in files:
        if upload.size > limits.max_file_bytes:
            raise ImportRefused(
                f"{upload.name}: {upload.size / 1048576:.1f} MB is over the upload limit of "
                f"{limits.max_file_bytes / 1048576:.0f} MB (IMPORT_MAX_FILE_MB)"
            )
        # Refused here, with the job never created: in the upload folder an archive would only be
        # skipped as "not an ECG file", and the job would finish with nothing said about it.
        upload.seek(0)
        head = upload.read(512)
        kind = archive_kind(head, upload.name)
        upload.seek(0)
        if upload.size > limits.max_xml_bytes and is_xml(head):
            raise ImportRefused(f"{upload.name}: {_xml_too_large(upload.size, limits)}")
        if kind:
            raise ImportRefused(f"{upload.name}: {archive_refusal(kind)}")
        name = get_valid_filename(Path(upload.name).name)  # never a path from the browser
        with open(folder / name, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)


def import_job_create(
    *,
    coordinator,
    dataset: str,
    files=(),
    paths=(),
    source_format: str = "",
    skip_invalid: bool = False,
    amplitude_scale: float = 1.0,
):
    """Save uploads under IMPORT_ROOT (or take paths inside it), create the job, queue its task on commit."""
    import shutil
    import uuid

    from annotations.models import ImportJob
    from annotations.roles import Role, has_role

    if not has_role(coordinator, Role.COORDINATOR):
        raise Forbidden("only coordinators import exams")
    if not _DATASET_NAME.match(dataset or ""):
        raise ImportRefused(f"dataset name {dataset!r} must be letters, digits, '-' or '_'")
    if source_format and source_format not in READERS:
        raise ImportRefused(f"unknown format {source_format!r}")
    if not files and not paths:
        raise ImportRefused("choose at least one file")
    root = Path(settings.IMPORT_ROOT).resolve()
    relative = []
    for path in paths:
        resolved = import_path_resolve(path, confine_to=root)
        if not resolved.exists():
            raise ImportRefused(f"{path}: no such file or folder under the import root")
        relative.append(str(resolved.relative_to(root)))
    upload_dir = None
    if files:
        upload_dir = root / "uploads" / uuid.uuid4().hex
        try:
            _save_uploads(files, upload_dir, import_limits())
        except Exception:
            shutil.rmtree(upload_dir, ignore_errors=True)
            raise
        relative.append(str(upload_dir.relative_to(root)))
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
        from annotations.services.enqueue import task_enqueue_on_commit

        # Guarded: with the broker down the upload still answers, and the jobs sweep queues it later.
        task_enqueue_on_commit("annotations.tasks.imports_run", job.pk)
    return job


def import_job_run(job_id: int) -> None:
    """Run a queued job. Idempotent: a finished job is left alone, and a job whose worker died mid-way is
    simply run again (its already imported files come back 'unchanged')."""
    from django.core.cache import cache

    from annotations.models import ImportJob

    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status in {ImportJob.Status.DONE, ImportJob.Status.FAILED}:
            return
        job.status, job.started_at = ImportJob.Status.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
    root = Path(settings.IMPORT_ROOT).resolve()
    options = ImportOptions(
        format=job.source_format or None,
        confine_to=root,
        skip_invalid=bool(job.options.get("skip_invalid")),
        amplitude_scale=float(job.options.get("amplitude_scale", 1.0)),
    )
    key = _progress_key(job.pk)
    cache.set(key, 0, timeout=24 * 3600)
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % 50 == 0 or n > 1:  # a cache write per 50 exams is plenty for a progress bar
            cache.set(key, done, timeout=24 * 3600)

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
        return
    outcomes = _job_outcomes(report, root)
    summary = report.summary()
    _job_finish(
        job,
        status=ImportJob.Status.DONE,
        outcomes=outcomes,
        created=summary["created"],
        unchanged=summary["unchanged"],
        skipped=summary["skipped"],
        failed=summary["error"],
        files_failed=summary["files_failed"],
    )
    cache.delete(key)


# Rows kept per job for records that went in as they should (created, unchanged): their exams carry
# their own provenance, and a 20,000-exam file would otherwise be a 20,000-row table on the job page.
# Every problem (refused file, invalid or skipped record, ignored file) is always kept, and listed first.
OUTCOMES_LISTED = 1000
FINE = {"created", "unchanged"}


def _job_outcomes(report: ImportReport, root: Path) -> list[dict]:
    problems, fine = [], []
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
    return problems + unmapped + fine[:OUTCOMES_LISTED]


def unmapped_label_text(system: str, code: str, exams: int) -> str:
    """An unmapped label as reports name it: snomed 251146004 (2 exams), statement 'Wide QRS' (1 exam)."""
    shown = f"'{code}'" if system == "statement" else code
    return f"{system} {shown} ({exams} exam{'s' if exams != 1 else ''})"


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


def _job_finish(job, *, status: str, **fields) -> None:
    from annotations.models import ImportJob

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
