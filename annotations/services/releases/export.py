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

import csv
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction

import ecgreview
from annotations.lib.release_files import hdf5
from annotations.lib.release_files.files import (
    card_markdown,
    file_sha256,
    fixed,
    json_document,
    json_line,
    pseudonyms,
    sha256sums,
    utc_iso,
    wilson_interval,
)
from annotations.lib.spreadsheet_csv import spreadsheet_cell
from annotations.lib.stats import BOOTSTRAP_METHODS, METHOD_EXAMS, bootstrap_agreement
from annotations.models import AgreementResult
from annotations.selectors.releases.export import (
    ExportPlan,
    ExportRefused,
    adjudicator_added_codes,
    consensus_method_counts,
    exam_detail_rows,
    exam_label_rows,
    exam_summary,
    exam_waveform_rows,
    export_data_as_of,
    export_reader_ids,
    read_rows,
    read_statuses,
    skipped_read_rows,
)
from annotations.services.exams.waveforms import waveform_load

logger = logging.getLogger(__name__)

CONSENSUS_CSV = "consensus.csv"
CONSENSUS_JSONL = "consensus.jsonl"
READS_CSV = "reads.csv"
TRACINGS = "tracings.hdf5"
CARD_JSON = "dataset_card.json"
CARD_MD = "dataset_card.md"
SUMS = "SHA256SUMS"
META_COLUMNS = ["row", "dataset", "exam_id", "age", "is_male", "batch", "reads"]
# Last column of consensus.csv: the statements (batch taxonomy codes, space-separated) an adjudicator
# added as present on the exam although no reader marked them.
ADDED_COLUMN = "added_by_adjudicator"
READ_COLUMNS = [
    "reader",
    "dataset",
    "exam_id",
    "batch",
    "read_round",
    "stage",
    "is_current",
    "code",
    "uncertain",
    "submitted_at",
    "time_on_task_ms",
    "suggestion_shown",
    "status",
    "skip_reason",
]
AGREEMENT_FIELDS = (
    "prevalence",
    "observed_agreement",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "pabak",
)
WAVEFORM_CHUNK = 256

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportResult:
    files: list[dict]  # [{name, bytes, sha256}] sorted by name
    card: dict


@dataclass(frozen=True)
class ExportOptions:
    hdf5: bool = True
    native_rate: bool = False

    def as_dict(self) -> dict:
        return {"hdf5": self.hdf5, "native_rate": self.native_rate}


def _writer(handle):
    return csv.writer(handle, lineterminator="\n")


# --- Consensus CSV -------------------------------------------------------------------------------------
INSUFFICIENT = "insufficient reads"


def _min_reads(plan: ExportPlan) -> dict[int, int]:
    """Per batch, the fewest submitted reads an exam needs for a consensus (the agreement service's rule:
    an exam read fewer times gets none, and the release says so instead of calling its classes absent)."""
    from annotations.selectors.agreement.rules import consensus_settings

    return {batch.pk: consensus_settings(batch)["min_reads"] for batch in plan.batches}


def _write_consensus_csv(plan: ExportPlan, path: Path, tick: Callable[[], None]) -> dict:
    """The CODE-15%-style table; returns the per-column counts and reads-per-exam the card needs, and
    the exams with too few reads for a consensus (every class cell empty)."""
    min_reads = _min_reads(plan)
    insufficient: list[dict] = []
    width = len(plan.columns)
    positions: dict[int, list[int]] = {}
    for j, column in enumerate(plan.columns):
        for class_id in column.source_ids:
            positions.setdefault(class_id, []).append(j)
    zeros = ["0"] * width
    positive = [0] * width
    undecided = [0] * width
    reads_per_exam: Counter[int] = Counter()
    male = {"M": "1", "F": "0"}
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = _writer(handle).writerow
        write(META_COLUMNS + [column.code for column in plan.columns] + [ADDED_COLUMN])
        added = adjudicator_added_codes(plan.batch_ids)
        for dataset, external_id, age, sex, batch_id, n, pos, und in exam_label_rows(plan.batch_ids):
            if n < min_reads[batch_id]:
                # Too few reads for any consensus: no value at all, which "0" (absent) would misstate.
                insufficient.append(
                    {"dataset": dataset, "exam_id": external_id, "batch": batch_id, "reads": n}
                )
                pos, und = [], []
                cells = [""] * width
            else:
                cells = zeros.copy()
            # Undecided first, positives after: a mapped column is 1 if any of its statements is, and
            # undecided only if none is and one is still undecided.
            for class_id in und:
                for j in positions.get(class_id, ()):
                    cells[j] = ""
            for class_id in pos:
                for j in positions.get(class_id, ()):
                    cells[j] = "1"
            write(
                [
                    rows,
                    dataset,
                    external_id,
                    "" if age is None else age,
                    male.get(sex, ""),
                    batch_id,
                    n,
                    *cells,
                    " ".join(added.get((dataset, external_id), ())),
                ]
            )
            if pos or und:
                for j, cell in enumerate(cells):
                    if cell == "1":
                        positive[j] += 1
                    elif cell == "":
                        undecided[j] += 1
            reads_per_exam[n] += 1
            rows += 1
            if rows % 5000 == 0:
                tick()
    return {
        "rows": rows,
        "positive": positive,
        "undecided": undecided,
        "reads_per_exam": reads_per_exam,
        "insufficient": insufficient,
    }


# --- Consensus JSON Lines --------------------------------------------------------------------------------
def _write_consensus_jsonl(plan: ExportPlan, path: Path, tick: Callable[[], None]) -> None:
    """Per exam: every stored decision (value, method, votes, latent probability, algorithm version) and
    every undecided class, by the batches' own codes; any other class is absent by all reads (value 0,
    positive_votes 0, total_votes = reads)."""
    codes = {
        class_id: code
        for column in plan.columns
        for class_id, code in zip(column.source_ids, column.source_codes, strict=True)
    }
    codes.update(dict(plan.taxonomy.classes.values_list("pk", "code")))
    min_reads = _min_reads(plan)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row, (dataset, external_id, batch_id, n, decided, open_) in enumerate(
            exam_detail_rows(plan.batch_ids)
        ):
            thin = n < min_reads[batch_id]
            if thin:
                decided, open_ = [], []
            labels = [
                {
                    "code": codes[class_id],
                    "value": int(bool(value)),
                    "method": method,
                    "positive_votes": positive,
                    "total_votes": total,
                    "probability": fixed(probability),
                    "algorithm_version": version,
                    # Present because an adjudicator added it: no reader marked it.
                    "added_by_adjudicator": bool(value) and method == "adjudicated" and not positive,
                }
                for class_id, value, method, positive, total, probability, version in decided
            ]
            pending = [
                {
                    "code": codes[class_id],
                    "reason": reason,
                    "positive_votes": positive,
                    "total_votes": total,
                    "probability": fixed(probability),
                }
                for class_id, reason, positive, total, probability in open_
            ]
            labels.sort(key=lambda item: item["code"])
            pending.sort(key=lambda item: item["code"])
            handle.write(
                json_line(
                    {
                        "row": row,
                        "dataset": dataset,
                        "exam_id": external_id,
                        "batch": batch_id,
                        "reads": n,
                        "consensus": INSUFFICIENT if thin else "decided",
                        "labels": labels,
                        "undecided": pending,
                    }
                )
            )
            if (row + 1) % 5000 == 0:
                tick()


# --- Raw reads -----------------------------------------------------------------------------------------
def _write_reads(plan: ExportPlan, path: Path, names: dict[int, str]) -> int:
    """Submitted reads, one row per marked class, and each skipped slot as one row with its status and
    reason (no class, no time): a skip is not a read, but the release says who set which exam aside."""
    count = 0
    statuses = read_statuses(plan.batch_ids)
    skips = skipped_read_rows(plan.batch_ids)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = _writer(handle).writerow
        write(READ_COLUMNS)

        def write_skips_before(key: tuple | None) -> None:
            nonlocal count
            while skips and (key is None or (skips[0][1], skips[0][2], skips[0][0], skips[0][4]) < key):
                reader_id, dataset, external_id, batch_id, round_, reason = skips.pop(0)
                reason = spreadsheet_cell(reason)  # a reader's free text: never a formula in a spreadsheet
                empty = [""] * 7
                write([names[reader_id], dataset, external_id, batch_id, round_, *empty, "skipped", reason])
                count += 1

        for (
            reader_id,
            dataset,
            external_id,
            batch_id,
            round_,
            stage,
            current,
            code,
            uncertain,
            at,
            ms,
            shown,
        ) in read_rows(plan.batch_ids):
            write_skips_before((dataset, external_id, reader_id, round_))
            write(
                [
                    names[reader_id],
                    dataset,
                    external_id,
                    batch_id,
                    round_,
                    stage,
                    int(current),
                    code,
                    int(uncertain),
                    utc_iso(at),
                    ms,
                    int(shown),
                    statuses.get((reader_id, dataset, external_id, batch_id, round_), "submitted"),
                    "",
                ]
            )
            count += 1
        write_skips_before(None)
    return count


# --- Tracings --------------------------------------------------------------------------------------------
def _write_tracings(
    plan: ExportPlan, path: Path, n_rows: int, options: ExportOptions, summary: dict, tick: Callable[[], None]
) -> dict:
    if options.native_rate:
        rate = summary["rates"][0] if summary["rates"] else hdf5.CODE_RATE_HZ
        target, length = None, max(summary["longest"], 1)
    else:
        rate, target, length = hdf5.CODE_RATE_HZ, hdf5.CODE_RATE_HZ, hdf5.CODE_LENGTH
    exam_ids: list[bytes] = []
    datasets: list[bytes] = []
    attrs = {"convention": "CODE" if target else "native", "rows_align_with": CONSENSUS_CSV}
    with hdf5.TracingsWriter(path, n_rows=n_rows, length=length, rate_hz=rate, attrs=attrs) as writer:
        chunk: list[np.ndarray] = []
        for dataset, external_id, key, exam_rate, _, gain in exam_waveform_rows(plan.batch_ids):
            samples = waveform_load(key)
            chunk.append(
                hdf5.code_tracing(samples, gain_uv=gain, rate_hz=exam_rate, target_hz=target, length=length)
            )
            exam_ids.append(external_id.encode())
            datasets.append(dataset.encode())
            if len(chunk) == WAVEFORM_CHUNK:
                writer.write(np.stack(chunk))
                chunk = []
                tick()
        if chunk:
            writer.write(np.stack(chunk))
        if writer.row != n_rows:
            raise RuntimeError(f"tracings: {writer.row} rows written for {n_rows} exams")
        writer.write_ids("exam_id", exam_ids)
        writer.write_ids("dataset", datasets)
    return {"sampling_rate_hz": rate, "length": length, "shape": [n_rows, length, hdf5.N_LEADS]}


# --- The dataset card ----------------------------------------------------------------------------------
#: Per reader figures of the stored agreement given in the card: gold exams and test-retest.
READER_QUALITY_FIELDS = (
    "exams_read",
    "gold_exams",
    "gold_label_accuracy",
    "gold_exam_accuracy",
    "retest_exams",
    "retest_kappa",
    "retest_agreement",
)


def _reader_quality(stored: AgreementResult, names: dict[int, str]) -> list[dict]:
    """Each reader's gold accuracy and test-retest agreement, under the release's pseudonyms."""
    rows = []
    for row in stored.results.get("readers", []):
        if row["reader_id"] not in names:
            continue
        entry = {"reader": names[row["reader_id"]]}
        for name in READER_QUALITY_FIELDS:
            value = row.get(name)
            entry[name] = fixed(value) if isinstance(value, float) else value
        rows.append(entry)
    return sorted(rows, key=lambda r: r["reader"])


def _batch_agreement(batch, names: dict[int, str] | None = None) -> dict:
    """Per-class agreement of one batch with its intervals and which bootstrap made them, and per reader
    gold and test-retest figures: the stored AgreementResult, or, for a batch that has none
    yet, computed here from its reads with the same pure functions (no per-reader figures then)."""
    from annotations.selectors.agreement.summary import batch_read_state, batch_reads_snapshot

    stored = AgreementResult.objects.filter(batch=batch).first()
    if stored is not None:
        reads, latest = batch_read_state(batch.pk)
        classes = {}
        for row in stored.results.get("classes", []):
            entry = {name: fixed(row.get(name)) for name in AGREEMENT_FIELDS}
            for name in AGREEMENT_FIELDS[2:]:
                entry[f"{name}_ci"] = [fixed(v) for v in (row.get(f"{name}_ci") or [None, None])]
                if f"{name}_defined" in row:  # share of resamples that defined it; partial: flagged
                    entry[f"{name}_defined"] = fixed(row[f"{name}_defined"])
                    entry[f"{name}_ci_partial"] = row[f"{name}_ci_partial"]
            entry["n_exams_read"] = row.get("n_exams_read")
            classes[row["code"]] = entry
        boot = stored.results.get("bootstrap") or {}
        return {
            "source": "stored",
            "algorithm_version": stored.algorithm_version,
            "read_count": stored.read_count,
            "up_to_date": (stored.read_count, stored.latest_submission_at) == (reads, latest),
            "bootstrap": boot,
            "interval_method": boot.get("method", METHOD_EXAMS),
            "interval_description": boot.get("description", BOOTSTRAP_METHODS[METHOD_EXAMS]),
            "classes": classes,
            "readers": _reader_quality(stored, names or {}),
        }
    snapshot = batch_reads_snapshot(batch)
    if not snapshot.reads.size:
        return {"source": "none", "classes": {}}
    boot = bootstrap_agreement(
        snapshot.reads, n_resamples=settings.AGREEMENT_BOOTSTRAP_RESAMPLES, seed=batch.seed
    )
    point = boot.point.classes
    classes = {}
    for c, code in enumerate(snapshot.class_codes):
        entry = {name: fixed(float(getattr(point, name)[c])) for name in AGREEMENT_FIELDS}
        for name in AGREEMENT_FIELDS[2:]:
            interval = boot.intervals[name]
            entry[f"{name}_ci"] = [fixed(float(interval.lower[c])), fixed(float(interval.upper[c]))]
        entry["n_exams_read"] = int(point.n_exams_read[c])
        classes[code] = entry
    return {
        "source": "computed",
        "read_count": snapshot.read_count,
        "up_to_date": True,
        "bootstrap": {"n_resamples": boot.n_resamples, "seed": boot.seed, "confidence": boot.confidence},
        "interval_method": boot.method,
        "interval_description": boot.description,
        "classes": classes,
        "readers": [],
    }


def _card(
    plan: ExportPlan,
    options: ExportOptions,
    *,
    title: str,
    release_date: str,
    stats: dict,
    summary: dict,
    n_readers: int,
    names: dict[int, str] | None = None,
    n_read_rows: int,
    tracings: dict | None,
    files: list[dict],
) -> dict:
    agreement = {str(batch.pk): _batch_agreement(batch, names) for batch in plan.batches}
    exams = stats["rows"]
    thin = len(stats["insufficient"])
    classes = []
    for j, column in enumerate(plan.columns):
        decided = exams - thin - stats["undecided"][j]
        row = {
            "code": column.code,
            "name": column.name,
            "source_codes": list(column.source_codes),
            "positive": stats["positive"][j],
            "undecided": stats["undecided"][j],
            "prevalence": fixed(stats["positive"][j] / decided) if decided else None,
            "prevalence_ci": list(wilson_interval(stats["positive"][j], decided)),
        }
        # Reader agreement belongs to a statement the readers chose, so it is given where a column is
        # one statement of one batch; otherwise see "agreement" per batch and statement.
        only = agreement[str(plan.batches[0].pk)]["classes"].get(column.source_codes[0])
        row["agreement"] = only if len(plan.batches) == 1 and len(column.source_codes) == 1 else None
        classes.append(row)
    conventions = [
        f"{CONSENSUS_CSV}: one row per exam in (dataset, exam_id) order; 'row' is the row of {TRACINGS}; "
        "each class column is 1 (present), 0 (absent) or empty (undecided: readers tied, the latent "
        "estimate was uncertain or contradicted unanimous readers, or the decisions broke an exclusive set, "
        "and nobody has adjudicated it yet); is_male is 1, 0 or empty (unknown). An exam with fewer "
        "submitted reads than its batch's minimum has no consensus: every class cell is empty and it is "
        "listed under 'insufficient_reads' in this card.",
        f"{CONSENSUS_JSONL}: per exam, every stored consensus decision by the batches' own codes with its "
        "method (unanimous, majority, latent, single, adjudicated), votes and probability (the latent "
        "estimate under the latent rule, else the share of positive reads), and every undecided class with "
        "its reason; any other class was marked by no reader: value 0 (unanimous, or the single read), "
        "positive_votes 0, total_votes = reads. 'consensus' is 'decided', or 'insufficient reads' for an "
        "exam with fewer reads than its batch's minimum, which has no labels.",
        f"{READS_CSV}: one row per reader, exam, read and marked class (unmarked classes are absent); "
        "readers are pseudonyms R01.. by sorted account, the same in every file of this release; "
        "stage blind/revised and read_round 2 (retest) included, is_current marks the read consensus uses; "
        "status is the slot's (submitted; in_progress for a two-stage blind read whose revision is open); "
        "a skipped slot is one row with status skipped, its skip_reason and no class: a skip is not a read.",
        "Readers' identities appear in no file of this release.",
    ]
    conventions.append(
        f"{CONSENSUS_CSV} '{ADDED_COLUMN}' (last column) and {CONSENSUS_JSONL} 'added_by_adjudicator': "
        "statements an adjudicator added as present although no reader marked them (method adjudicated, "
        "positive_votes 0); the CSV lists their codes in the batches' own taxonomy, space-separated."
    )
    if tracings:
        conventions.append(
            f"{TRACINGS}: 'tracings' float32 (N, {tracings['length']}, 12) in mV at "
            f"{tracings['sampling_rate_hz']:g} Hz, leads I, II, III, aVR, aVL, aVF, V1-V6; "
            + (
                "resampled with scipy.signal.resample_poly and zero-padded (centred) or centre-cropped to "
                "4096 samples (the CODE convention)"
                if not options.native_rate
                else "at the recorded rate, zero-padded (centred) to the longest exam"
            )
            + f"; 'exam_id' and 'dataset' give each row's exam, row i = row i of {CONSENSUS_CSV}."
        )
    if plan.target:
        conventions.append(
            f"Columns are {plan.target} {plan.target_version} classes, each the OR of the "
            f"{plan.taxonomy.key} statements that map to it; {plan.target} classes with no mapped "
            f"statement are left out: {', '.join(plan.unmapped) or 'none'}."
        )
    return {
        "title": title,
        "release_date": release_date,
        "data_as_of": utc_iso(export_data_as_of(plan.batch_ids)),
        "software_version": ecgreview.__version__,
        "taxonomy": {
            "key": plan.taxonomy.key,
            "version": plan.taxonomy.version,
            "name": plan.taxonomy.name,
            "content_sha256": plan.taxonomy.content_sha256,
        },
        "columns": {
            "taxonomy": plan.target or plan.taxonomy.key,
            "version": plan.target_version,
            "mapped": bool(plan.target),
            "unmapped": plan.unmapped,
            "count": len(plan.columns),
        },
        "batches": [
            {
                "id": batch.pk,
                "name": batch.name,
                "readers_per_exam": batch.readers_per_exam,
                "suggestion_mode": batch.suggestion_mode,
                "status": batch.status,
                "consensus_rule": (batch.design or {}).get("consensus") or {"method": "majority"},
                "min_reads": _min_reads(plan)[batch.pk],
            }
            for batch in plan.batches
        ],
        "counts": {
            "exams": exams,
            "readers": n_readers,
            "first_reads": summary["first_reads"],
            "read_rows": n_read_rows,
            "reads_per_exam": {str(k): v for k, v in sorted(stats["reads_per_exam"].items())},
            "mean_reads_per_exam": fixed(summary["first_reads"] / exams) if exams else None,
            "insufficient_reads": thin,
        },
        "insufficient_reads": stats["insufficient"],
        "consensus_methods": consensus_method_counts(plan.batch_ids),
        "classes": classes,
        "agreement": agreement,
        "options": options.as_dict(),
        "tracings": tracings,
        "files": files,
        "conventions": conventions,
    }


# --- The whole export ------------------------------------------------------------------------------------
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
    if options.hdf5 and options.native_rate and len(summary["rates"]) > 1:
        raise ExportRefused(
            f"exams are recorded at several rates ({', '.join(f'{r:g}' for r in summary['rates'])} Hz); "
            "export at 400 Hz instead of the native rate"
        )
    n = summary["exams"]
    passes = 3 if options.hdf5 else 2
    total = max(n * passes, 1)
    done = 0

    def advance(step: int) -> Callable[[], None]:
        def tick() -> None:
            nonlocal done
            done += step
            if progress:
                progress(min(done, total), total)

        return tick

    if progress:
        progress(0, total)
    stats = _write_consensus_csv(plan, out_dir / CONSENSUS_CSV, advance(5000))
    done = n
    _write_consensus_jsonl(plan, out_dir / CONSENSUS_JSONL, advance(5000))
    done = 2 * n
    names = pseudonyms(export_reader_ids(plan.batch_ids))
    n_read_rows = _write_reads(plan, out_dir / READS_CSV, names)
    tracings = None
    if options.hdf5:
        tracings = _write_tracings(plan, out_dir / TRACINGS, n, options, summary, advance(WAVEFORM_CHUNK))
    if progress:
        progress(total, total)
    data_files = [CONSENSUS_CSV, CONSENSUS_JSONL, READS_CSV] + ([TRACINGS] if options.hdf5 else [])
    files = [_file_entry(out_dir / name) for name in sorted(data_files)]
    card = _card(
        plan,
        options,
        title=title,
        release_date=release_date,
        stats=stats,
        summary=summary,
        n_readers=len(names),
        names=names,
        n_read_rows=n_read_rows,
        tracings=tracings,
        files=files,
    )
    (out_dir / CARD_JSON).write_text(json_document(card), encoding="utf-8")
    (out_dir / CARD_MD).write_text(card_markdown(card), encoding="utf-8")
    files = sorted(
        [*files, _file_entry(out_dir / CARD_JSON), _file_entry(out_dir / CARD_MD)], key=lambda f: f["name"]
    )
    (out_dir / SUMS).write_text(sha256sums((f["name"], f["sha256"]) for f in files), encoding="utf-8")
    return ExportResult(sorted([*files, _file_entry(out_dir / SUMS)], key=lambda f: f["name"]), card)
