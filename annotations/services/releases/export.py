"""Writing an export: the consensus CSV and JSON Lines, the raw reads, the model suggestions, the tracings
and the dataset card.

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

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from annotations.lib.release_files.files import (
    card_markdown,
    file_sha256,
    json_document,
    pseudonyms,
    sha256sums,
)
from annotations.lib.release_files.shards import INDEX, PENDING_CARD, plan_name
from annotations.selectors.agreement.summary import batches_with_stale_agreement
from annotations.selectors.releases.export import exam_summary, read_snapshot
from annotations.selectors.releases.facts import earlier_pseudonym_keys, export_reader_ids
from annotations.selectors.releases.plan import ExportPlan, ExportRefused
from annotations.services.releases.accuracy import write_reader_accuracy
from annotations.services.releases.card import CardFacts, card_build
from annotations.services.releases.history import write_read_history
from annotations.services.releases.layout import (
    ADJUDICATIONS_CSV,
    CARD_JSON,
    CARD_MD,
    CONSENSUS_CSV,
    CONSENSUS_JSONL,
    DEVICE_CSV,
    READ_HISTORY_CSV,
    READER_ACCURACY_CSV,
    READS_CSV,
    SUGGESTIONS_CSV,
    SUMS,
    TRACINGS,
    WAVEFORM_CHUNK,
    ExportOptions,
    Progress,
)
from annotations.services.releases.tables import (
    write_adjudications,
    write_consensus_csv,
    write_consensus_jsonl,
    write_device_measurements,
    write_reads,
    write_shard_plans,
    write_suggestions,
    write_tracings,
)

logger = logging.getLogger(__name__)

# How many times a build brings the consensus up to date and tries again when reads keep landing between
# the two. Each try costs one recomputation of the batches that moved; a batch read this busily is rare.
EXPORT_TRIES = 5


class AgreementBehind(Exception):
    """The export's snapshot holds reads the stored consensus was not computed from: a submit landed after
    the consensus was brought up to date and before the snapshot began. Nothing was written."""

    def __init__(self, batch_ids: list[int], message: str = "") -> None:
        super().__init__(message or f"reads landed after the consensus of batches {batch_ids} was computed")
        self.batch_ids = batch_ids


@dataclass(frozen=True)
class ExportResult:
    files: list[dict[str, Any]]  # [{name, bytes, sha256}] sorted by name
    card: dict[str, Any]
    # Sharded tracings still to write: [{name, first_row, rows, plan_sha256}]. Then files lacks the
    # shards, the card and SHA256SUMS, and out_dir holds the plans and the pending card (PLAN_FOLDER)
    # that export_seal completes once every shard is written.
    shards: list[dict[str, Any]] | None = None
    # {pseudonym: user id} of everyone the files name (R01.., A01..): kept with the release, never in a file.
    # None where a call wrote no reads (the sealing of a sharded release).
    key: dict[str, int] | None = None


def _file_entry(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def export_write(
    plan: ExportPlan,
    out_dir: Path,
    options: ExportOptions,
    *,
    title: str,
    release_date: str,
    progress: Progress | None = None,
    shard_exams: int | None = None,
    current_consensus: bool = False,
) -> ExportResult:
    """Write every file of an export into out_dir; return their names, sizes and checksums, and the card.
    With more exams than shard_exams, the tracings are left to shard tasks (see ExportResult.shards).
    current_consensus: raise AgreementBehind, before writing anything, when the snapshot holds a read the
    stored consensus was not computed from (export_write_current brings it up to date and tries again)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {
        "title": title,
        "release_date": release_date,
        "progress": progress,
        "shard_exams": shard_exams,
    }
    if connection.in_atomic_block:
        return _export_write(plan, out_dir, options, **kwargs)
    with read_snapshot():
        # The first query of the snapshot: what it says holds for every file written from it.
        if current_consensus and (behind := batches_with_stale_agreement(plan.batch_ids)):
            raise AgreementBehind(behind)
        return _export_write(plan, out_dir, options, **kwargs)


def export_write_current[T](
    batch_ids: list[int],
    write: Callable[[], T],
    catch_up: Callable[[list[int]], list[int]],
) -> T:
    """`write()` (an export_write with current_consensus) after `catch_up(batch_ids)` has recomputed the
    consensus of every batch whose reads moved on, again while a submit lands between the two, so that
    the files give the consensus of exactly the reads they export. Raises AgreementBehind after
    EXPORT_TRIES: the batches are being read faster than their consensus is computed."""
    for attempt in range(1, EXPORT_TRIES + 1):
        catch_up(batch_ids)
        try:
            return write()
        except AgreementBehind as behind:
            logger.info("export of batches %s, try %s: %s", batch_ids, attempt, behind)
            stale = behind.batch_ids
    names = ", ".join(str(pk) for pk in stale)
    raise AgreementBehind(
        stale,
        f"reads of batch {names} kept coming in while the files were written: its consensus was brought "
        f"up to date {EXPORT_TRIES} times and each time newer reads had landed. Nothing was written; build "
        "it again when reading pauses, or close the batch first.",
    )


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


def _check_rates(options: ExportOptions, summary: dict[str, Any]) -> None:
    if options.hdf5 and options.native_rate and len(summary["rates"]) > 1:
        raise ExportRefused(
            f"exams are recorded at several rates ({', '.join(f'{r:g}' for r in summary['rates'])} Hz); "
            "export at 400 Hz instead of the native rate"
        )


def _write_sums(out_dir: Path, files: list[dict[str, Any]], card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card in both forms and SHA256SUMS over everything; every file's entry, by name."""
    (out_dir / CARD_JSON).write_text(json_document(card), encoding="utf-8")
    (out_dir / CARD_MD).write_text(card_markdown(card), encoding="utf-8")
    files = sorted(
        [*files, _file_entry(out_dir / CARD_JSON), _file_entry(out_dir / CARD_MD)], key=lambda f: f["name"]
    )
    (out_dir / SUMS).write_text(sha256sums((f["name"], f["sha256"]) for f in files), encoding="utf-8")
    return sorted([*files, _file_entry(out_dir / SUMS)], key=lambda f: f["name"])


def _tracings_write(
    plan: ExportPlan,
    out_dir: Path,
    options: ExportOptions,
    summary: dict[str, Any],
    ticks: _Ticks,
    shard_exams: int | None,
) -> tuple[dict[str, Any] | None, list[str], list[dict[str, Any]] | None]:
    """The tracings file, or the index and the shards' plans: (card facts, data files written, shards)."""
    n = summary["exams"]
    if not options.hdf5:
        return None, [], None
    if not shard_exams or n <= shard_exams:
        tracings = write_tracings(plan, out_dir / TRACINGS, n, options, summary, ticks.by(WAVEFORM_CHUNK))
        return tracings, [TRACINGS], None
    tracings = write_shard_plans(plan, out_dir, n, options, summary, shard_exams)
    listed = [
        {**shard, "plan_sha256": file_sha256(out_dir / plan_name(shard["name"]))}
        for shard in tracings["shards"]
    ]
    return tracings, [INDEX], listed


def _data_files(out_dir: Path, written: list[str]) -> list[dict[str, Any]]:
    """The entries of the tables every release has and of the files this one wrote besides, by name."""
    names = [ADJUDICATIONS_CSV, CONSENSUS_CSV, CONSENSUS_JSONL, READS_CSV, READ_HISTORY_CSV, SUGGESTIONS_CSV]
    names += [READER_ACCURACY_CSV]
    names += written
    return [_file_entry(out_dir / name) for name in sorted(names)]


# One file after another in the order the card lists them, each a call: split further, the order
# and the progress ticks that run through them would be spread over several functions.
def _export_write(
    plan: ExportPlan,
    out_dir: Path,
    options: ExportOptions,
    *,
    title: str,
    release_date: str,
    progress: Progress | None,
    shard_exams: int | None,
) -> ExportResult:
    summary = exam_summary(plan.batch_ids)
    _check_rates(options, summary)
    n = summary["exams"]
    ticks = _Ticks(progress, max(n * (3 if options.hdf5 else 2), 1))
    if progress:
        progress(0, ticks.total)
    earlier = earlier_pseudonym_keys()  # one name, one person, in every release
    names = pseudonyms(export_reader_ids(plan.batch_ids), earlier=earlier)
    stats = write_consensus_csv(plan, out_dir / CONSENSUS_CSV, ticks.by(5000))
    ticks.done = n
    write_consensus_jsonl(plan, out_dir / CONSENSUS_JSONL, ticks.by(5000), names)
    ticks.done = 2 * n
    n_read_rows = write_reads(plan, out_dir / READS_CSV, names)
    write_read_history(plan, out_dir / READ_HISTORY_CSV, names)  # the earlier revisions reads.csv lacks
    readers_vs_consensus = write_reader_accuracy(plan, out_dir / READER_ACCURACY_CSV, names)
    adjudicators, adjudicator_ids, on_exams = write_adjudications(plan, out_dir / ADJUDICATIONS_CSV, earlier)
    device_rows = write_device_measurements(plan, out_dir / DEVICE_CSV)
    suggestions = write_suggestions(plan, out_dir / SUGGESTIONS_CSV)
    # By pseudonym: one person may be both a reader (R..) and an adjudicator (A..) of the release.
    key = {name: user_id for user_id, name in [*names.items(), *adjudicator_ids.items()]}
    tracings, written, shards = _tracings_write(plan, out_dir, options, summary, ticks, shard_exams)
    if progress and shards is None:  # else the shard tasks count the last third
        progress(ticks.total, ticks.total)
    files = _data_files(out_dir, [*written, *([DEVICE_CSV] if device_rows else [])])
    facts = CardFacts(
        title=title,
        release_date=release_date,
        stats=stats,
        summary=summary,
        names=names,
        n_read_rows=n_read_rows,
        tracings=tracings,
        files=files,
        adjudicators=adjudicators,
        adjudicated_exams=on_exams,
        device_rows=device_rows,
        suggestions=suggestions,
        readers_vs_consensus=readers_vs_consensus,
    )
    card = card_build(plan, options, facts)
    if shards is not None:
        (out_dir / PENDING_CARD).write_text(json_document(card), encoding="utf-8")
        return ExportResult(files, card, shards, key)
    return ExportResult(_write_sums(out_dir, files, card), card, key=key)


def export_seal(out_dir: Path, files: list[dict[str, Any]], pending_card: str) -> ExportResult:
    """The last files of a sharded export, once every shard is written: the pending card completed with
    every data file's checksum (the shards' included), its Markdown, and SHA256SUMS over everything.
    Written from the pending card's text and the recorded checksums alone, so any worker writes the same
    bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    card = json.loads(pending_card)
    card["files"] = sorted(files, key=lambda f: f["name"])
    return ExportResult(_write_sums(out_dir, card["files"], card), card)
