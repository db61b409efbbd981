"""Importing exams from files: one service for every format, each file all-or-nothing.

The readers in annotations/lib/formats/ turn files into records; this module stores them (the rows
and blobs through services.imports.store; upload jobs: services.imports.jobs). Each import unit
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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from annotations.lib.ecg import waveform
from annotations.lib.formats.base import (
    FormatError,
    Limits,
    ReadOptions,
    RecordError,
    RecordSkipped,
    standardized,
)
from annotations.lib.formats.code15 import read_metadata
from annotations.lib.formats.detect import (
    code_metadata_beside,
    detect_format,
    folder_contents,
    import_units,
    is_xml,
)
from annotations.lib.formats.registry import FORMAT_NAMES, READERS
from annotations.models import Dataset, Taxonomy
from annotations.services.audit import audit_record
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.imports.outcomes import (
    FileOutcome,
    ImportInterrupted,
    ImportOptions,
    ImportRefused,
    ImportReport,
    RecordOutcome,
)
from annotations.services.imports.store import BatchWriter, FileFailed, discard_blobs

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)
Progress = Callable[[int], None]
DATASET_NAME = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")


def import_limits() -> Limits:
    return Limits(
        max_file_bytes=settings.IMPORT_MAX_FILE_MB * 1024 * 1024,
        max_xml_bytes=settings.IMPORT_MAX_XML_MB * 1024 * 1024,
        max_inflated_bytes=settings.IMPORT_MAX_INFLATED_MB * 1024 * 1024,
        max_samples_per_lead=settings.IMPORT_MAX_SAMPLES_PER_LEAD,
        max_signals=settings.IMPORT_MAX_SIGNALS,
        max_records_per_file=settings.IMPORT_MAX_RECORDS_PER_FILE,
    )


# What Linux and macOS file systems keep in one name, in bytes (NAME_MAX): a longer one makes the system
# calls fail (ENAMETOOLONG), so it is refused by name before any of them.
NAME_MAX_BYTES = 255


def name_byte_length(name: str) -> int:
    return len(name.encode("utf-8", "surrogateescape"))


def import_path_resolve(path: str | Path, *, confine_to: Path | None) -> Path:
    """An absolute path; with confine_to (uploads, API) it must resolve (symlinks too) inside that folder."""
    candidate = Path(path)
    longest = max((name_byte_length(part) for part in candidate.parts), default=0)
    if longest > NAME_MAX_BYTES:
        raise ImportRefused(
            _("%(path)s: a name in this path is too long (%(bytes)s bytes; file systems keep up to %(max)s)")
            % {"path": path, "bytes": longest, "max": NAME_MAX_BYTES}
        )
    if confine_to is None:
        return candidate.resolve()
    root = Path(confine_to).resolve()
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root):
        said = _("%(path)s: outside the import root %(root)s; refused") % {"path": path, "root": root}
        raise ImportRefused(said)
    return resolved


def _dataset(name: str, actor: User | None) -> Dataset:
    return dataset_get_or_create(name=name, actor=actor)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


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
                    raise FormatError(xml_too_large(size, limits))


def megabytes(size: int, places: int) -> str:
    """A size in MB as the active language writes it, rounded (number_format alone would cut digits)."""
    return number_format(Decimal(f"{size / 1048576:.{places}f}"), places)


def xml_too_large(size: int, limits: Limits) -> str:
    return _("is XML of %(size)s MB, over the XML upload limit of %(limit)s MB (IMPORT_MAX_XML_MB)") % {
        "size": megabytes(size, 1),
        "limit": megabytes(limits.max_xml_bytes, 0),
    }


def dataset_name_refusal(dataset: str) -> str:
    return _("dataset name “%(name)s” must be letters, digits, '-' or '_'") % {"name": dataset}


# Exam.external_id's length: a longer record id is refused by name here, not by the database's
# "value too long", which would end the whole file without saying which field.
EXTERNAL_ID_MAX = 200


def _store_records(records: Iterable[Any], writer: BatchWriter, progress: Progress) -> None:
    for item in records:
        if isinstance(item, RecordSkipped):
            writer.outcomes.append(RecordOutcome(item.record, "skipped", item.reason))
        elif isinstance(item, RecordError):
            writer.reject(item.record, item.reason)
        elif len(item.external_id) > EXTERNAL_ID_MAX:
            writer.reject(
                item.external_id[:40] + "…",
                _("the record id is %(length)s characters long; an exam id keeps at most %(max)s")
                % {"length": len(item.external_id), "max": EXTERNAL_ID_MAX},
            )
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


@dataclass
class _Unit:
    """One import unit on its way in: what to read, and what storing it has left so far."""

    path: Path
    fmt: str
    dataset_name: str
    options: ImportOptions
    actor: User | None
    progress: Progress
    outcome: FileOutcome
    written: list[str] = field(default_factory=list)  # blob keys this unit newly wrote
    writer: BatchWriter | None = None
    # Exams this run of the import has created so far, in any unit: shared by every unit of the run.
    created_in_run: set[int] = field(default_factory=set)


def _unit_store(unit: _Unit) -> None:
    """Every record of the unit in one transaction with its audit row; raises on a refused file."""
    read_options = _read_options(unit.options)
    _check_size(unit.path, read_options.limits)
    reader = READERS[unit.fmt]
    single = reader.count(unit.path, read_options) == 1 and unit.path.is_file()
    source_sha = _file_sha256(unit.path) if single else ""
    outcome = unit.outcome
    with transaction.atomic():
        dataset = _dataset(unit.dataset_name, unit.actor)
        unit.writer = BatchWriter(
            dataset=dataset,
            source_format=unit.fmt,
            source_sha=source_sha,
            skip_invalid=unit.options.skip_invalid,
            outcomes=outcome.records,
            written=unit.written,
            unmapped=outcome.unmapped,
            job_id=unit.options.job_id,
            created_in_run=unit.created_in_run,
        )
        _store_records(reader.read(unit.path, read_options), unit.writer, unit.progress)
        audit_record(
            actor=unit.actor,
            action="exams.import",
            target=dataset,
            after={
                "file": str(unit.path),
                "format": unit.fmt,
                "source_sha256": source_sha,
                **{name: outcome.count(name) for name in ("created", "unchanged", "skipped", "error")},
                "filled_in": unit.writer.filled_in,
            },
        )


def _unit_failed(unit: _Unit) -> None:
    """Undo what a refused unit left (its new blobs, its outcomes) and record the refusal alone."""
    if unit.writer is not None:
        unit.writer.abandon()
    discard_blobs(unit.written)
    unit.outcome.records = []
    unit.outcome.unmapped.clear()
    with transaction.atomic():  # the refusal itself is on the record; nothing else of the file is
        audit_record(
            actor=unit.actor,
            action="exams.import_failed",
            after={"file": str(unit.path), "format": unit.fmt, "error": unit.outcome.error[:1000]},
        )


def _sqlite_locked(error: Exception) -> bool:
    return connection.vendor == "sqlite" and "database is locked" in str(error)


def _unit_rewind(unit: _Unit) -> None:
    """Back to before the unit's attempt (its transaction rolled back): its new blobs and outcomes gone."""
    if unit.writer is not None:
        unit.writer.abandon()
    discard_blobs(unit.written)
    unit.written.clear()
    unit.outcome.records.clear()
    unit.outcome.unmapped.clear()


def _unit_store_waiting_for_sqlite(unit: _Unit) -> None:
    """The embedded SQLite file takes one writer at a time, and a writer gives up after its busy timeout:
    an import running beside another (an upload's job on the web process's thread, a second command) had
    50 of 145 files fail with "database is locked" while the other held the file. The unit is all or
    nothing, so it is simply tried again, after 1, 2, 4 ... s, for up to IMPORT_SQLITE_WAIT_S in all."""
    waited, pause = 0.0, 1.0
    while True:
        try:
            return _unit_store(unit)
        except OperationalError as error:
            if not _sqlite_locked(error) or waited >= settings.IMPORT_SQLITE_WAIT_S:
                raise
            _unit_rewind(unit)
            logger.warning(
                "%s: the database is busy with another writer; trying again in %.0f s", unit.path, pause
            )
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, 30.0)


def _import_unit(
    path: Path,
    fmt: str,
    dataset_name: str,
    options: ImportOptions,
    actor: User | None,
    progress: Progress,
    created_in_run: set[int],
) -> FileOutcome:
    unit = _Unit(
        path,
        fmt,
        dataset_name,
        options,
        actor,
        progress,
        FileOutcome(path=path, format=fmt),
        created_in_run=created_in_run,
    )
    outcome = unit.outcome
    try:
        _unit_store_waiting_for_sqlite(unit)
    except ImportInterrupted:
        # The unit's rows roll back; its new blobs stay: the run that took over may hold the same ones
        # (content-addressed) for its own exams.
        raise
    except (FileFailed, FormatError, RecordError) as error:
        outcome.error = f"{path}: {error}"
    except Exception:  # a library choking on a malformed file: report it, never half-store it
        # The library's own exception (an UnboundLocalError deep in a parser) tells a coordinator
        # nothing and may quote its internals: the log keeps it whole for the operator.
        logger.exception("import of %s failed", path)
        outcome.error = _(
            "%(path)s: the %(format)s reader failed on this file, which it could not make sense of; the "
            "server log holds the details"
        ) % {"path": path, "format": FORMAT_NAMES.get(fmt, fmt)}
    if outcome.error:
        _unit_failed(unit)
    return outcome


def exams_plan(paths: Iterable[str | Path], options: ImportOptions) -> list[tuple[Path, str, int]]:
    """The import units behind `paths`, each with its format and record count (-1: cannot tell yet)."""
    plan = []
    read_options = _read_options(options)
    for raw in paths:
        path = import_path_resolve(raw, confine_to=options.confine_to)
        if not path.exists():
            raise ImportRefused(_("%(path)s: no such file or folder") % {"path": raw})
        for unit in import_units(path):
            try:
                _check_size(unit, read_options.limits)
            except FormatError:  # refused unopened when imported: it counts as one, as a refused file does
                plan.append((unit, options.format or "", 1))
                continue
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
    actor: User | None = None,
    progress: Progress | None = None,
    plan: list[tuple[Path, str, int]] | None = None,
) -> ImportReport:
    """Import every record of every file under `paths` into `dataset`; see the module docstring."""
    options = options or ImportOptions()
    if not DATASET_NAME.match(dataset):
        raise ImportRefused(dataset_name_refusal(dataset))
    if options.format and options.format not in READERS:
        raise ImportRefused(
            _("unknown format “%(format)s”; one of %(formats)s")
            % {"format": options.format, "formats": ", ".join(READERS)}
        )
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
    created_in_run: set[int] = set()
    for unit, fmt, _count in plan:
        try:
            _check_size(unit, limits)  # before even sniffing the content
            fmt = fmt or detect_format(unit)
        except FormatError as error:
            report.files.append(FileOutcome(path=unit, format=fmt, error=f"{unit}: {error}"))
            continue
        unit_options = _with_metadata_beside(options, unit, fmt)
        outcome = _import_unit(
            unit, fmt, dataset, unit_options, actor, progress or (lambda n: None), created_in_run
        )
        if fmt == "code15" and unit_options.metadata is not None:
            _note_metadata(outcome, unit_options.metadata)
        report.files.append(outcome)
    return report


def _with_metadata_beside(options: ImportOptions, unit: Path, fmt: str) -> ImportOptions:
    """A CODE HDF5 part reads the exams.csv beside it, unless the caller named a table."""
    if fmt != "code15" or options.metadata is not None:
        return options
    table = code_metadata_beside(unit)
    return replace(options, metadata=table) if table else options


def _note_metadata(outcome: FileOutcome, table: Path) -> None:
    """For the report: which table gave the part's metadata, and how many of its records had a row."""
    if not outcome.ok:
        return
    rows = {str(exam_id) for exam_id in read_metadata(table, outcome.path.name)}
    outcome.metadata = table
    outcome.metadata_matched = len(
        {r.record for r in outcome.records if r.outcome in {"created", "unchanged"} and r.record in rows}
    )
