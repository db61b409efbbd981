"""The data files of a release: the consensus CSV and JSON Lines, the raw reads, the model suggestions and
the tracings, each streamed from the export selectors a chunk at a time (annotations.services.releases.export
runs them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotations.lib.csv_text import csv_cell, csv_line
from annotations.lib.qualifiers import qualifiers_ordered
from annotations.lib.release_files import hdf5, shards
from annotations.lib.release_files.files import fixed, json_line, pseudonyms, utc_iso
from annotations.lib.spreadsheet_csv import spreadsheet_cell
from annotations.selectors.releases.export import (
    exam_detail_rows,
    exam_device_rows,
    exam_label_rows,
    exam_waveform_rows,
    read_rows,
)
from annotations.selectors.releases.facts import (
    adjudication_rows,
    adjudicator_added_codes,
    read_comment_rows,
    read_statuses,
    skipped_read_rows,
)
from annotations.selectors.releases.plan import ExportPlan
from annotations.selectors.releases.qualifiers import (
    consensus_qualifier_votes,
    qualifier_cells,
    read_qualifier_rows,
)
from annotations.selectors.releases.suggestions import ExamSuggestion, exam_suggestion_rows
from annotations.selectors.suggestions.scoring import source_code
from annotations.services.exams.waveforms import waveform_load
from annotations.services.releases.layout import (
    ADDED_COLUMN,
    ADJUDICATION_COLUMNS,
    CONSENSUS_CSV,
    DEVICE_COLUMNS,
    INSUFFICIENT,
    META_COLUMNS,
    READ_COLUMNS,
    SUGGESTION_COLUMNS,
    SUGGESTION_TEXT_COLUMNS,
    WAVEFORM_CHUNK,
    ExportOptions,
    csv_writer,
    min_reads,
)


# --- Consensus CSV -------------------------------------------------------------------------------------
@dataclass
class _ColumnCounts:
    """What the card says of the consensus table: per column positives and undecided cells, reads per
    exam, and the exams with too few reads for a consensus."""

    width: int
    rows: int = 0
    positive: list[int] = field(default_factory=list)
    undecided: list[int] = field(default_factory=list)
    reads_per_exam: Counter[int] = field(default_factory=Counter)
    insufficient: list[dict[str, Any]] = field(default_factory=list)
    undecided_exams: int = 0  # exams with at least one undecided cell

    def __post_init__(self) -> None:
        self.positive = [0] * self.width
        self.undecided = [0] * self.width

    def count(self, row: _Row | None, n: int) -> None:
        """One exam: its positive and undecided columns (None: too few reads, nothing decided)."""
        if row is not None:
            for j in row.positive:
                self.positive[j] += 1
            for j in row.undecided:
                self.undecided[j] += 1
            self.undecided_exams += bool(row.undecided)
        self.reads_per_exam[n] += 1
        self.rows += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "positive": self.positive,
            "undecided": self.undecided,
            "undecided_exams": self.undecided_exams,
            "reads_per_exam": self.reads_per_exam,
            "insufficient": self.insufficient,
        }


def _column_positions(plan: ExportPlan) -> dict[int, list[int]]:
    """Per class id, the columns it counts towards (several where a mapping ORs statements)."""
    positions: dict[int, list[int]] = {}
    for j, column in enumerate(plan.columns):
        for class_id in column.source_ids:
            positions.setdefault(class_id, []).append(j)
    return positions


@dataclass(frozen=True)
class _Row:
    """The class cells of one label pattern, and which columns are positive and undecided in it."""

    cells: list[str]
    positive: tuple[int, ...]
    undecided: tuple[int, ...]

    @property
    def text(self) -> str:
        """The cells as CSV, each "0", "1" or empty (none needs quoting), behind their separator."""
        return "".join("," + cell for cell in self.cells)


def _consensus_cells(positions: dict[int, list[int]], width: int, pos: list[int], und: list[int]) -> _Row:
    cells = ["0"] * width
    # Undecided first, positives after: a mapped column is 1 if any of its statements is, and
    # undecided only if none is and one is still undecided.
    for class_id in und:
        for j in positions.get(class_id, ()):
            cells[j] = ""
    for class_id in pos:
        for j in positions.get(class_id, ()):
            cells[j] = "1"
    return _Row(
        cells,
        tuple(j for j, cell in enumerate(cells) if cell == "1"),
        tuple(j for j, cell in enumerate(cells) if cell == ""),
    )


class _Patterns:
    """Label patterns repeat (most exams of a study share a handful: normal, AF, RBBB...), so each
    distinct pattern's cells are built, and joined into CSV text, once and reused, which keeps the writer
    near COPY's speed."""

    def __init__(self, positions: dict[int, list[int]], width: int) -> None:
        self.positions, self.width = positions, width
        self.seen: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[_Row, str]] = {}

    def row(self, pos: list[int], und: list[int]) -> tuple[_Row, str]:
        """The pattern's row and its cells' CSV text."""
        key = (tuple(pos), tuple(und))
        found = self.seen.get(key)
        if found is None:
            if len(self.seen) > 100_000:  # a study with unbounded distinct patterns: bound the memory
                self.seen.clear()
            row = _consensus_cells(self.positions, self.width, pos, und)
            found = self.seen[key] = (row, row.text)
        return found


def write_consensus_csv(plan: ExportPlan, path: Path, tick: Callable[[], None]) -> dict[str, Any]:
    """The CODE-15%-style table; returns the per-column counts and reads-per-exam the card needs, and
    the exams with too few reads for a consensus (every class cell empty)."""
    needed = min_reads(plan)
    width = len(plan.columns)
    patterns = _Patterns(_column_positions(plan), width)
    counts = _ColumnCounts(width)
    male = {"M": "1", "F": "0"}
    empty = "," * width  # too few reads: every class cell empty
    datasets: dict[str, str] = {}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(csv_line(META_COLUMNS + [column.code for column in plan.columns] + [ADDED_COLUMN]))
        added = adjudicator_added_codes(plan.batch_ids)
        for dataset, external_id, age, sex, batch_id, n, pos, und in exam_label_rows(plan.batch_ids):
            thin = n < needed[batch_id]
            if thin:
                # Too few reads for any consensus: no value at all, which "0" (absent) would misstate.
                counts.insufficient.append(
                    {"dataset": dataset, "exam_id": external_id, "batch": batch_id, "reads": n}
                )
                row, cells = None, empty
            else:
                row, cells = patterns.row(pos, und)
            # Integers need no quoting; the texts go through csv_cell (the dataset's once per dataset).
            named = datasets.get(dataset) or datasets.setdefault(dataset, csv_cell(dataset))
            handed = " ".join(added.get((dataset, external_id), ()))
            handle.write(
                f"{counts.rows},{named},{csv_cell(external_id)},{'' if age is None else int(age)},"
                f"{male.get(sex, '')},{int(batch_id)},{int(n)}{cells},{csv_cell(handed) if handed else ''}\n"
            )
            counts.count(row if pos or und else None, n)
            if counts.rows % 5000 == 0:
                tick()
    return counts.as_dict()


# --- Consensus JSON Lines --------------------------------------------------------------------------------
def _plan_codes(plan: ExportPlan) -> dict[int, str]:
    """Every class id the batches' reads can name, with its code in the batches' own taxonomy."""
    codes = {
        class_id: code
        for column in plan.columns
        for class_id, code in zip(column.source_ids, column.source_codes, strict=True)
    }
    codes.update(dict(plan.taxonomy.classes.values_list("pk", "code")))
    return codes


def _decided_labels(codes: dict[int, str], decided: list[Any]) -> list[dict[str, Any]]:
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
    return sorted(labels, key=lambda item: item["code"])


def _with_qualifiers(
    labels: list[dict[str, Any]], votes: Mapping[tuple[Any, ...], dict[str, int]], exam: tuple[Any, ...]
) -> list[dict[str, Any]]:
    """A present statement whose readers chose qualifiers gets their votes and those chosen by more than
    half of the reads that chose the statement (positive_votes)."""
    for label in labels:
        counts = votes.get((*exam, label["code"]))
        if label["value"] and counts:
            label["qualifier_votes"] = {q: counts[q] for q in qualifiers_ordered(counts)}
            label["qualifiers"] = [
                q for q in label["qualifier_votes"] if 2 * counts[q] > label["positive_votes"]
            ]
    return labels


def _undecided_labels(codes: dict[int, str], open_: list[Any]) -> list[dict[str, Any]]:
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
    return sorted(pending, key=lambda item: item["code"])


def _comments(names: Mapping[int, str], reads: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The exam's reads with a comment, as reads.csv names them: reader, batch, round, stage, revision."""
    keys = ("batch", "read_round", "stage", "revision", "comment")
    return [{"reader": names.get(read[0], ""), **dict(zip(keys, read[1:], strict=True))} for read in reads]


def write_consensus_jsonl(
    plan: ExportPlan, path: Path, tick: Callable[[], None], names: Mapping[int, str] | None = None
) -> None:
    """Per exam: every stored decision (value, method, votes, latent probability, algorithm version) and
    every undecided class, by the batches' own codes; any other class is absent by all reads (value 0,
    positive_votes 0, total_votes = reads); and the readers' comments on it (`names`: the pseudonyms)."""
    codes = _plan_codes(plan)
    needed = min_reads(plan)
    comments = read_comment_rows(plan.batch_ids)
    qualifier_votes = consensus_qualifier_votes(plan.batch_ids)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row, (dataset, external_id, batch_id, n, decided, open_) in enumerate(
            exam_detail_rows(plan.batch_ids)
        ):
            thin = n < needed[batch_id]
            if thin:
                decided, open_ = [], []
            line = {
                "row": row,
                "dataset": dataset,
                "exam_id": external_id,
                "batch": batch_id,
                "reads": n,
                "consensus": INSUFFICIENT if thin else "decided",
                "labels": _with_qualifiers(
                    _decided_labels(codes, decided), qualifier_votes, (dataset, external_id, batch_id)
                ),
                "undecided": _undecided_labels(codes, open_),
                "comments": _comments(names or {}, comments.get((dataset, external_id), [])),
            }
            handle.write(json_line(line))
            if (row + 1) % 5000 == 0:
                tick()


# --- Raw reads -----------------------------------------------------------------------------------------
def _read_row(names: dict[int, str], statuses: dict[tuple[Any, ...], str], row: tuple[Any, ...]) -> list[Any]:
    reader_id, dataset, external_id, batch_id, round_, stage, current, code, uncertain, at, ms = row[:11]
    shown, revision, comment = row[11:14]
    return [
        names[reader_id],
        dataset,
        external_id,
        batch_id,
        round_,
        stage,
        int(current),
        code or "",  # a read that marks nothing: its one row names no class
        "" if uncertain is None else int(uncertain),
        utc_iso(at),
        ms,
        int(shown),
        statuses.get((reader_id, dataset, external_id, batch_id, round_), "submitted"),
        "",
        "",
        revision,
        spreadsheet_cell(comment),  # the reader's words, repeated on each row of the read
    ]


def _skip_row(names: dict[int, str], skip: tuple[Any, ...]) -> list[Any]:
    reader_id, dataset, external_id, batch_id, round_, reason, code = skip
    reason = spreadsheet_cell(reason)  # a reader's free text: never a formula in a spreadsheet
    empty = [""] * 7
    return [names[reader_id], dataset, external_id, batch_id, round_, *empty, "skipped", reason, code, "", ""]


def _skip_key(skip: tuple[Any, ...]) -> tuple[Any, ...]:
    """A skip's place among the read rows: (dataset, exam, reader, round)."""
    return (skip[1], skip[2], skip[0], skip[4])


def write_reads(plan: ExportPlan, path: Path, names: dict[int, str]) -> int:
    """Submitted reads, one row per marked class (a read that marks nothing, one row with no class), and
    each skipped slot as one row with its status and reason (no class, no time): a skip is not a read, but
    the release says who set which exam aside."""
    count = 0
    statuses = read_statuses(plan.batch_ids)
    skips = skipped_read_rows(plan.batch_ids)
    qualifiers = read_qualifier_rows(plan.batch_ids)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = csv_writer(handle).writerow
        write(READ_COLUMNS)
        for row in read_rows(plan.batch_ids):
            reader_id, dataset, external_id, _, round_ = row[:5]
            while skips and _skip_key(skips[0]) < (dataset, external_id, reader_id, round_):
                write([*_skip_row(names, skips.pop(0)), "", ""])
                count += 1
            chosen = qualifiers.get((*row[:6], row[7]), [])
            write([*_read_row(names, statuses, row), *qualifier_cells(chosen)])
            count += 1
        for skip in skips:
            write([*_skip_row(names, skip), "", ""])
            count += 1
    return count


def write_adjudications(
    plan: ExportPlan, path: Path, earlier: Sequence[Mapping[str, int]] = ()
) -> tuple[dict[str, int], dict[int, str], dict[str, int]]:
    """Every signed decision behind an adjudicated cell: who (A01.., kept from the ``earlier`` releases'
    keys, never the name), the class and value, the signed version and when, and the adjudicator's
    rationale (free text, escaped as a spreadsheet cell), so each adjudicated label is traced to its
    decision and its reasons inside the release. Returns the class decisions (rows) per adjudicator pseudonym,
    the pseudonyms by user id, and the exams (in their batches) each adjudicator decided on."""
    decided = adjudication_rows(plan.batch_ids)
    names = pseudonyms([row[0] for row in decided], prefix="A", earlier=earlier)
    per_adjudicator: Counter[Any] = Counter()
    exams: dict[str, set[Any]] = {}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = csv_writer(handle).writerow
        write(ADJUDICATION_COLUMNS)
        for adjudicator, dataset, external_id, batch_id, code, value, version, at, why in decided:
            name = names[adjudicator]
            per_adjudicator[name] += 1
            exams.setdefault(name, set()).add((batch_id, dataset, external_id))
            cells = [name, dataset, external_id, batch_id, code, int(value), version, utc_iso(at)]
            write([*cells, spreadsheet_cell(why)])
    on_exams = {name: len(held) for name, held in sorted(exams.items())}
    return dict(sorted(per_adjudicator.items())), names, on_exams


# --- The carts' measurements ----------------------------------------------------------------------------
def write_device_measurements(plan: ExportPlan, path: Path) -> int:
    """The recording carts' own global measurements, one row per exam that has any, keyed by its row in
    the consensus table; a cell the cart did not give is empty. Returns the rows written; a release of
    exams without any writes no file."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = csv_writer(handle).writerow
        write(DEVICE_COLUMNS)
        for row, dataset, external_id, values in exam_device_rows(plan.batch_ids):
            write([row, dataset, external_id, *(_device_cell(values.get(key)) for key in DEVICE_COLUMNS[3:])])
            rows += 1
    if not rows:
        path.unlink()
    return rows


def _device_cell(value: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --- Model suggestions -----------------------------------------------------------------------------------
@dataclass
class _SuggestionCounts:
    """What the card says of suggestions.csv: its rows (the suggested statements), the exams with a row,
    and per provider version the exams it is given for (a row or not: one that suggested nothing is
    still a suggestion readers may have been shown), those on which a reader of the release was shown
    it, and its rows."""

    rows: int = 0
    exams: int = 0
    versions: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def count(self, item: ExamSuggestion) -> None:
        seen = self.versions.setdefault((item.provider, item.provider_version), [0, 0, 0])
        seen[0] += 1
        seen[1] += bool(item.shown_to_readers)
        seen[2] += len(item.suggested)
        self.rows += len(item.suggested)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "exams": self.exams,
            "versions": [
                {
                    "provider": provider,
                    "provider_version": version,
                    "exams": exams,
                    "shown_on_exams": shown,
                    "rows": rows,
                }
                for (provider, version), (exams, shown, rows) in sorted(self.versions.items())
            ],
            "free_text_columns": list(SUGGESTION_TEXT_COLUMNS),
        }


class _TextCells:
    """A rationale's free text as CSV cells, escaped as spreadsheet cells then quoted. A rule provider
    gives the same criterion and source on every exam, so each distinct text is escaped once (bounded:
    the findings, measured values, are mostly distinct)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def cell(self, value: object) -> str:
        if value is None:
            return ""
        text = str(value)
        found = self.seen.get(text)
        if found is None:
            if len(self.seen) > 100_000:
                self.seen.clear()
            found = self.seen[text] = csv_cell(spreadsheet_cell(text))
        return found

    def cells(self, why: object) -> str:
        """criterion,source,finding of one rationale ({} or None: the provider gave none)."""
        if not isinstance(why, dict):
            return ",".join([""] * len(SUGGESTION_TEXT_COLUMNS))
        return ",".join(self.cell(why.get(name)) for name in SUGGESTION_TEXT_COLUMNS)


def _suggestion_lines(
    first: str, item: ExamSuggestion, codes: dict[int, tuple[str, str]], texts: _TextCells
) -> Iterable[str]:
    """One suggestion's rows, `first` being its exam's cells (row, dataset, exam_id): per statement it
    suggested, the batches' code; threshold and rationale by the provider's code it stands for, as readers
    were shown them. Joined here rather than by csv_line, cell by cell: the cells shared by a suggestion's
    rows are the same text (test_release_suggestions checks the bytes against the csv module's)."""
    head = ",".join(
        [first, *map(csv_cell, [item.provider, item.provider_version, utc_iso(item.computed_at)])]
    )
    for class_id, score, threshold in item.suggested:
        code, source = codes[class_id]
        why = texts.cells(item.rationale.get(source))
        yield f"{head},{code},{float(score)!r},{threshold!r},{why},{item.shown_to_readers}\n"


def write_suggestions(plan: ExportPlan, path: Path) -> dict[str, Any]:
    """The model suggestions behind the release's exams (selectors.releases.suggestions says which), one
    row per exam, suggestion and statement of the batches' taxonomy it suggested (score at or above its
    threshold); the header alone where there are none. Returns the card's counts."""
    codes = {klass.pk: (csv_cell(klass.code), source_code(klass)) for klass in plan.taxonomy.classes.all()}
    counts = _SuggestionCounts()
    texts = _TextCells()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(csv_line(SUGGESTION_COLUMNS))
        for row, dataset, external_id, items in exam_suggestion_rows(plan.batch_ids, plan.taxonomy.pk):
            counts.exams += any(item.suggested for item in items)
            first = f"{int(row)},{csv_cell(dataset)},{csv_cell(external_id)}"
            for item in items:
                counts.count(item)
                handle.writelines(_suggestion_lines(first, item, codes, texts))
    return counts.as_dict()


# --- Tracings --------------------------------------------------------------------------------------------
def tracing_geometry(options: ExportOptions, summary: dict[str, Any]) -> dict[str, Any]:
    """The rate and length every row shares: the CODE convention, or the recorded rate padded to the
    longest exam."""
    if options.native_rate:
        rate = summary["rates"][0] if summary["rates"] else hdf5.CODE_RATE_HZ
        return {"rate_hz": rate, "target_hz": None, "length": max(summary["longest"], 1)}
    return {"rate_hz": hdf5.CODE_RATE_HZ, "target_hz": hdf5.CODE_RATE_HZ, "length": hdf5.CODE_LENGTH}


def _tracings_attrs(geometry: dict[str, Any]) -> dict[str, Any]:
    return {"convention": "CODE" if geometry["target_hz"] else "native", "rows_align_with": CONSENSUS_CSV}


def _fill(
    writer: hdf5.TracingsWriter, rows: Iterable[Any], geometry: dict[str, Any], tick: Callable[[], None]
) -> None:
    """Every row of the file from (dataset, exam id, waveform key, rate, gain), a chunk at a time."""
    exam_ids: list[bytes] = []
    datasets: list[bytes] = []
    chunk: list[np.ndarray] = []
    target, length = geometry["target_hz"], geometry["length"]
    for dataset, external_id, key, exam_rate, gain in rows:
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
    if writer.row != writer.n_rows:
        raise RuntimeError(f"tracings: {writer.row} rows written for {writer.n_rows} exams")
    writer.write_ids("exam_id", exam_ids)
    writer.write_ids("dataset", datasets)


def _facts(geometry: dict[str, Any], n_rows: int) -> dict[str, Any]:
    length = geometry["length"]
    return {
        "sampling_rate_hz": geometry["rate_hz"],
        "length": length,
        "shape": [n_rows, length, hdf5.N_LEADS],
    }


def write_tracings(
    plan: ExportPlan,
    path: Path,
    n_rows: int,
    options: ExportOptions,
    summary: dict[str, Any],
    tick: Callable[[], None],
) -> dict[str, Any]:
    geometry = tracing_geometry(options, summary)
    rows = ((d, e, key, rate, gain) for d, e, key, rate, _, gain in exam_waveform_rows(plan.batch_ids))
    with hdf5.TracingsWriter(
        path,
        n_rows=n_rows,
        length=geometry["length"],
        rate_hz=geometry["rate_hz"],
        attrs=_tracings_attrs(geometry),
    ) as writer:
        _fill(writer, rows, geometry, tick)
    return _facts(geometry, n_rows)


def write_shard_plans(
    plan: ExportPlan,
    out_dir: Path,
    n_rows: int,
    options: ExportOptions,
    summary: dict[str, Any],
    per_shard: int,
) -> dict[str, Any]:
    """Instead of the tracings: the index (every row's shard file and row in it) and each shard's plan,
    read in the labels' snapshot so that the shards, written later by other tasks, hold exactly the
    exams of consensus.csv. Returns the card's tracings facts, the shards listed."""
    geometry = tracing_geometry(options, summary)
    layout = shards.shard_split(n_rows, per_shard)
    (out_dir / shards.PLAN_FOLDER).mkdir(exist_ok=True)
    rows = exam_waveform_rows(plan.batch_ids)
    written = 0
    with open(out_dir / shards.INDEX, "w", newline="", encoding="utf-8") as index:
        write = csv_writer(index).writerow
        write(shards.INDEX_COLUMNS)
        for shard in layout:
            with open(out_dir / shard.plan_name, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(shards.plan_header(shard, len(layout), geometry))
                # range first: zip stops on it without taking the next shard's first row from rows.
                taken = zip(range(shard.rows), rows, strict=False)
                for offset, (dataset, external_id, key, rate, _, gain) in taken:
                    handle.write(shards.plan_line(dataset, external_id, key, rate, gain))
                    write([shard.first_row + offset, dataset, external_id, shard.name, offset])
                    written += 1
    if written != n_rows or next(rows, None) is not None:
        raise RuntimeError(f"tracings: the index holds {written} rows for {n_rows} exams")
    listed = [{"name": s.name, "first_row": s.first_row, "rows": s.rows} for s in layout]
    return {**_facts(geometry, n_rows), "index": shards.INDEX, "shards": listed}


def write_tracings_shard(plan_text: str, path: Path, tick: Callable[[], None]) -> int:
    """One shard's file from its plan alone (no database): its rows, in the plan's order. Returns them."""
    header, rows = shards.plan_read(plan_text)
    attrs = {
        **_tracings_attrs(header),
        "first_row": header["first_row"],
        "shard": header["shard"],
        "shards": header["shards"],
    }
    with hdf5.TracingsWriter(
        path, n_rows=header["rows"], length=header["length"], rate_hz=header["rate_hz"], attrs=attrs
    ) as writer:
        _fill(writer, rows, header, tick)
    written: int = header["rows"]
    return written
