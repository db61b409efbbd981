"""Writing an export: the consensus CSV and JSON Lines, the raw reads, the tracings and the dataset card.

``export_write`` is the one writer behind the release task and ``manage.py export_labels``. It streams:
each file is written from a server-side cursor a chunk at a time, so memory does not grow with the batch.
Outside a caller's transaction it reads in one REPEATABLE READ snapshot, so the CSV, the JSON, the reads
and the tracings all describe the same state even while readers keep submitting.

Reproducibility: the same state gives byte-identical files. Rows are in (dataset, external id) order
under the "C" collation, readers are R01.. by sorted user id, floats have fixed digits, JSON keys are
sorted, the HDF5 file carries no timestamps, and the only date in any file is the release date the
caller passes (a Release row's creation time, or the data's own latest read for the command).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from annotations.lib.release_files.files import (
    card_markdown,
    file_sha256,
    json_document,
    pseudonyms,
    sha256sums,
)
from annotations.selectors.releases.export import exam_summary
from annotations.selectors.releases.facts import export_reader_ids
from annotations.selectors.releases.plan import ExportPlan, ExportRefused
from annotations.services.releases.card import CardFacts, card_build
from annotations.services.releases.layout import (
    CARD_JSON,
    CARD_MD,
    CONSENSUS_CSV,
    CONSENSUS_JSONL,
    READS_CSV,
    SUMS,
    TRACINGS,
    WAVEFORM_CHUNK,
    ExportOptions,
    Progress,
)
from annotations.services.releases.tables import (
    write_consensus_csv,
    write_consensus_jsonl,
    write_reads,
    write_tracings,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    files: list[dict]  # [{name, bytes, sha256}] sorted by name
    card: dict


def _file_entry(path: Path) -> dict:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def export_write(
    plan: ExportPlan,
    out_dir: Path,
    options: ExportOptions,
    *,
    title: str,
    release_date: str,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every file of an export into out_dir; return their names, sizes and checksums, and the card."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if connection.in_atomic_block:
        return _export_write(
            plan, out_dir, options, title=title, release_date=release_date, progress=progress
        )
    with read_snapshot():
        return _export_write(
            plan, out_dir, options, title=title, release_date=release_date, progress=progress
        )


@contextmanager
def read_snapshot() -> Iterator[None]:
    """One read-only snapshot for every pass: the files agree with each other whatever is submitted
    meanwhile, on either database.

    PostgreSQL: a REPEATABLE READ READ ONLY transaction. SQLite (the embedded default, in WAL mode): any
    transaction reads one snapshot from its first SELECT to its end, but it must begin DEFERRED; the
    settings' IMMEDIATE mode would hold the write lock for the whole export and lock every reader's
    submit out of the database meanwhile."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
        return
    mode = getattr(connection, "transaction_mode", None)
    connection.ensure_connection()
    connection.transaction_mode = "DEFERRED" if mode is not None else None
    try:
        with transaction.atomic():
            connection.transaction_mode = mode  # only the BEGIN of this transaction is deferred
            yield
    finally:
        connection.transaction_mode = mode


class _Ticks:
    """Progress over the passes: each pass moves ``done`` by its own step, and a finished pass sets it to
    where the next one starts."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def report(self, done: int) -> None:
        self.done = done
        if self.progress:
            self.progress(min(self.done, self.total), self.total)

    def by(self, step: int) -> Callable[[], None]:
        def tick() -> None:
            self.report(self.done + step)

        return tick


def _check_rates(options: ExportOptions, summary: dict) -> None:
    if options.hdf5 and options.native_rate and len(summary["rates"]) > 1:
        raise ExportRefused(
            f"exams are recorded at several rates ({', '.join(f'{r:g}' for r in summary['rates'])} Hz); "
            "export at 400 Hz instead of the native rate"
        )


def _write_sums(out_dir: Path, files: list[dict], card: dict) -> list[dict]:
    """The card in both forms and SHA256SUMS over everything; every file's entry, by name."""
    (out_dir / CARD_JSON).write_text(json_document(card), encoding="utf-8")
    (out_dir / CARD_MD).write_text(card_markdown(card), encoding="utf-8")
    files = sorted(
        [*files, _file_entry(out_dir / CARD_JSON), _file_entry(out_dir / CARD_MD)], key=lambda f: f["name"]
    )
    (out_dir / SUMS).write_text(sha256sums((f["name"], f["sha256"]) for f in files), encoding="utf-8")
    return sorted([*files, _file_entry(out_dir / SUMS)], key=lambda f: f["name"])


def _export_write(
    plan: ExportPlan,
    out_dir: Path,
    options: ExportOptions,
    *,
    title: str,
    release_date: str,
    progress: Progress | None,
) -> ExportResult:
    summary = exam_summary(plan.batch_ids)
    _check_rates(options, summary)
    n = summary["exams"]
    ticks = _Ticks(progress, max(n * (3 if options.hdf5 else 2), 1))
    if progress:
        progress(0, ticks.total)
    stats = write_consensus_csv(plan, out_dir / CONSENSUS_CSV, ticks.by(5000))
    ticks.done = n
    write_consensus_jsonl(plan, out_dir / CONSENSUS_JSONL, ticks.by(5000))
    ticks.done = 2 * n
    names = pseudonyms(export_reader_ids(plan.batch_ids))
    n_read_rows = write_reads(plan, out_dir / READS_CSV, names)
    tracings = None
    if options.hdf5:
        tracings = write_tracings(plan, out_dir / TRACINGS, n, options, summary, ticks.by(WAVEFORM_CHUNK))
    if progress:
        progress(ticks.total, ticks.total)
    data_files = [CONSENSUS_CSV, CONSENSUS_JSONL, READS_CSV] + ([TRACINGS] if options.hdf5 else [])
    files = [_file_entry(out_dir / name) for name in sorted(data_files)]
    facts = CardFacts(
        title=title,
        release_date=release_date,
        stats=stats,
        summary=summary,
        names=names,
        n_read_rows=n_read_rows,
        tracings=tracings,
        files=files,
    )
    card = card_build(plan, options, facts)
    return ExportResult(_write_sums(out_dir, files, card), card)
