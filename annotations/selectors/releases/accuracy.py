"""Each reader's sensitivity and specificity per column against the released consensus and against the
other readers' majority (leave-one-out), all reads and split by whether a suggestion was shown, and each
reader's drift over their reads in submission order (annotations.lib.stats.accuracy): what a release
writes to reader_accuracy.csv and the card's readers_vs_consensus (services.releases.accuracy), and what
the agreement page and its API show for one batch (:func:`batch_reader_accuracy`), from one computation.

The reads are those consensus counts (current, submitted, first round; escalation's extra reads
included), read in the export's exam order beside the consensus table's cells, one exam at a time: the
memory is the counters and four numbers per read, whatever the size of the release.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotations.lib.release_files.files import fixed
from annotations.lib.stats.accuracy import (
    MISSING,
    Confusion,
    Drift,
    drift_from_counts,
    majority_of_others,
)
from annotations.selectors.agreement.rules import consensus_settings
from annotations.selectors.releases.export import current_read_label_rows, exam_label_rows
from annotations.selectors.releases.plan import ExportPlan

REFERENCES = ("consensus", "leave_one_out")
EXPOSURES = ("all", "shown", "not_shown")
DRIFT_ALPHA = 0.05


@dataclass(frozen=True)
class _Read:
    reader_id: int
    read_id: int
    submitted_at: object
    shown: bool
    marks: np.ndarray  # bool per column


@dataclass
class _Tally:
    """Counters [reader, column, reference, exposure, tp fp fn tn left-out] and, per read, its reader,
    order and counts against the consensus (for the drift). Cells are gathered as flat indices into the
    counters and counted FLUSH_CELLS at a time: one exam's few reads are too small for numpy to pay."""

    readers: list[int]
    width: int
    counts: np.ndarray = field(init=False)
    reads: list[tuple[Any, ...]] = field(default_factory=list)

    FLUSH_CELLS = 1 << 20

    def __post_init__(self) -> None:
        self.index = {reader_id: i for i, reader_id in enumerate(self.readers)}
        self.counts = np.zeros((len(self.readers), self.width, len(REFERENCES), len(EXPOSURES), 5), np.int64)
        self._pending: list[np.ndarray] = []
        self._pending_cells = 0

    def of_reader(self, r: int) -> list[tuple[Any, ...]]:
        """Reader r's reads as (reader, submitted at, read id, shown, tp, fn, tn, fp)."""
        if not hasattr(self, "_by_reader"):
            self._by_reader: dict[int, list[tuple[Any, ...]]] = {}
            for read in self.reads:
                self._by_reader.setdefault(read[0], []).append(read)
        return self._by_reader.get(r, [])

    def add_exam(self, cells: np.ndarray, reads: list[_Read]) -> None:
        """An exam's reads against its consensus cells and against the majority of each one's others."""
        marks = np.stack([read.marks for read in reads])
        others = majority_of_others(marks.sum(axis=0) - marks, len(reads) - 1)
        against = _kinds(marks, np.broadcast_to(cells, marks.shape))
        r = np.array([self.index[read.reader_id] for read in reads])[:, None]
        shown = np.array([1 if read.shown else 2 for read in reads])[:, None]
        base = (r * self.width + np.arange(self.width)) * len(REFERENCES)
        for reference, kind in enumerate((against, _kinds(marks, others))):
            for exposure in (0, shown):
                self._pending.append((((base + reference) * len(EXPOSURES) + exposure) * 5 + kind).ravel())
        self._pending_cells += 4 * marks.size
        if self._pending_cells >= self.FLUSH_CELLS:
            self.flush()
        per_read = (against[:, :, None] == np.arange(4)).sum(axis=1)  # tp fp fn tn
        for read, (tp, fp, fn, tn) in zip(reads, per_read.tolist(), strict=True):
            self.reads.append(
                (self.index[read.reader_id], read.submitted_at, read.read_id, read.shown, tp, fn, tn, fp)
            )

    def flush(self) -> None:
        if self._pending:
            flat = np.bincount(np.concatenate(self._pending), minlength=self.counts.size)
            self.counts += flat.reshape(self.counts.shape)
        self._pending, self._pending_cells = [], 0


# reader_accuracy.csv's columns, one row per reader, class, reference and exposure: the release file,
# the agreement page's table and its CSV.
READER_ACCURACY_COLUMNS = [
    "reader",
    "code",
    "reference",
    "exposure",
    "tp",
    "fp",
    "fn",
    "tn",
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "specificity",
    "specificity_low",
    "specificity_high",
    "n_undecided_left_out",
]


def _kinds(marks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each cell's kind, as an index into the counters' last axis: 0 tp, 1 fp, 2 fn, 3 tn, 4 left out."""
    return np.where(reference == MISSING, 4, 2 * (~marks) + (reference == 0))


def _column_positions(plan: ExportPlan) -> dict[int, list[int]]:
    positions: dict[int, list[int]] = {}
    for j, column in enumerate(plan.columns):
        for class_id in column.source_ids:
            positions.setdefault(class_id, []).append(j)
    return positions


def _consensus_cells(
    positions: dict[int, list[int]], width: int, pos: list[Any], und: list[Any]
) -> np.ndarray:
    """The exam's released cells as consensus.csv has them: a mapped column is 1 if any of its
    statements is, else undecided if one is (MISSING), else 0."""
    cells = np.zeros(width, np.int64)
    for class_id in und:
        cells[positions.get(class_id, [])] = MISSING
    for class_id in pos:
        cells[positions.get(class_id, [])] = 1
    return cells


def _reads_of(group: Iterator[tuple[Any, ...]], positions: dict[int, list[int]], width: int) -> list[_Read]:
    reads = []
    for read_id, grouped in itertools.groupby(group, key=lambda row: row[3]):
        rows = list(grouped)
        marks = np.zeros(width, bool)
        for row in rows:
            marks[positions.get(row[6], [])] = True
        reader_id, _, at, shown = rows[0][2:6]
        reads.append(_Read(reader_id, read_id, at, bool(shown), marks))
    return reads


def _exams(plan: ExportPlan) -> Iterator[tuple[np.ndarray, list[_Read]]]:
    """Per exported exam: its consensus cells (all MISSING where it has too few reads) and its reads.
    Both queries give the exams in one order, each exam of one with reads in the other."""
    positions = _column_positions(plan)
    width = len(plan.columns)
    needed = {batch.pk: consensus_settings(batch)["min_reads"] for batch in plan.batches}
    reads = itertools.groupby(current_read_label_rows(plan.batch_ids), key=lambda row: (row[0], row[1]))
    for (dataset, external_id, _, _, batch_id, n, pos, und), (key, group) in zip(
        exam_label_rows(plan.batch_ids), reads, strict=True
    ):
        if key != (dataset, external_id):
            raise RuntimeError(f"reader accuracy: reads of {key} met exam {(dataset, external_id)}")
        if n < needed[batch_id]:
            cells = np.full(width, MISSING, np.int64)
        else:
            cells = _consensus_cells(positions, width, pos, und)
        yield cells, _reads_of(group, positions, width)


def reader_accuracy_tally(plan: ExportPlan, names: Mapping[int, str]) -> _Tally:
    """Every read of the plan's batches counted against its exam's consensus cells and its others."""
    tally = _Tally(sorted(names, key=names.__getitem__), len(plan.columns))
    for cells, reads in _exams(plan):
        tally.add_exam(cells, reads)
    tally.flush()
    return tally


def _cell(value: float | None) -> object:
    rounded = fixed(value)
    return "" if rounded is None else rounded


def _csv_row(name: str, code: str, reference: str, exposure: str, counts: np.ndarray) -> list[Any]:
    confusion = Confusion(*(int(v) for v in counts))
    figures = confusion.figures()
    return [
        name,
        code,
        reference,
        exposure,
        confusion.tp,
        confusion.fp,
        confusion.fn,
        confusion.tn,
        *(_cell(getattr(figures, key)) for key in _FIGURES),
        confusion.n_left_out,
    ]


_FIGURES = (
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "specificity",
    "specificity_low",
    "specificity_high",
)


def _exposures(tally: _Tally, r: int) -> list[int]:
    """All reads; shown and not shown as well where the reader has reads of both."""
    shown = [read[3] for read in tally.of_reader(r)]
    return [0, 1, 2] if any(shown) and not all(shown) else [0]


def reader_accuracy_rows(tally: _Tally, plan: ExportPlan, names: Mapping[int, str]) -> Iterator[list[Any]]:
    """reader_accuracy.csv's rows (READER_ACCURACY_COLUMNS' order, a figure "" where undefined): per reader
    with reads, column, reference and exposure."""
    for r, reader_id in enumerate(tally.readers):
        if not tally.of_reader(r):  # only skips, or a read returned to them: nothing to score
            continue
        exposures = _exposures(tally, r)
        for j, column in enumerate(plan.columns):
            for k, reference in enumerate(REFERENCES):
                for e in exposures:
                    yield _csv_row(
                        names[reader_id], column.code, reference, EXPOSURES[e], tally.counts[r, j, k, e]
                    )


# --- The card's section ------------------------------------------------------------------------------
def _pooled(counts: np.ndarray) -> dict[str, Any]:
    """Counts [column, 5] pooled over columns, with Wilson intervals (cells taken as independent), and
    the mean over columns of the per-column figures where defined (macro)."""
    confusion = Confusion(*(int(v) for v in counts.sum(axis=0)))
    figures = confusion.figures()
    per_column = [Confusion(*(int(v) for v in row)).figures() for row in counts]
    return {
        "tp": confusion.tp,
        "fp": confusion.fp,
        "fn": confusion.fn,
        "tn": confusion.tn,
        "n_undecided_left_out": confusion.n_left_out,
        "sensitivity": fixed(figures.sensitivity),
        "sensitivity_ci": [fixed(figures.sensitivity_low), fixed(figures.sensitivity_high)],
        "specificity": fixed(figures.specificity),
        "specificity_ci": [fixed(figures.specificity_low), fixed(figures.specificity_high)],
        "macro_sensitivity": _mean([f.sensitivity for f in per_column]),
        "macro_specificity": _mean([f.specificity for f in per_column]),
    }


def _mean(values: list[float]) -> float | None:
    defined = [v for v in values if v == v]
    return fixed(sum(defined) / len(defined)) if defined else None


def _drift(drift: Drift) -> dict[str, Any]:
    sens, spec = drift.sensitivity_trend, drift.specificity_trend
    return {
        "quarters": [
            {
                "reads": q.n_reads,
                "tp": q.tp,
                "fp": q.fp,
                "fn": q.fn,
                "tn": q.tn,
                "sensitivity": fixed(q.sensitivity),
                "specificity": fixed(q.specificity),
            }
            for q in drift.quarters
        ],
        "sensitivity_slope": fixed(sens.slope),
        "sensitivity_p": fixed(sens.p_value),
        "specificity_slope": fixed(spec.slope),
        "specificity_p": fixed(spec.p_value),
        "flagged": any(t.p_value < DRIFT_ALPHA for t in (sens, spec)),
    }


def _reader_entry(tally: _Tally, r: int, name: str) -> dict[str, Any]:
    mine = tally.of_reader(r)
    shown = sum(read[3] for read in mine)
    order = sorted(range(len(mine)), key=lambda i: (mine[i][1], mine[i][2]))
    rank = np.empty(len(mine), np.int64)
    rank[order] = np.arange(len(mine))
    counts = np.array([read[4:] for read in mine], np.int64).reshape(-1, 4)
    entry = {
        "reader": name,
        "reads": len(mine),
        "reads_with_suggestion": shown,
        "suggestion_share": fixed(shown / len(mine)) if mine else None,
        "consensus": _pooled(tally.counts[r, :, 0, 0]),
        "leave_one_out": _pooled(tally.counts[r, :, 1, 0]),
        "drift": _drift(drift_from_counts(rank, *counts.T)),
    }
    if len(_exposures(tally, r)) > 1:
        entry["by_exposure"] = {
            EXPOSURES[e]: {ref: _pooled(tally.counts[r, :, k, e]) for k, ref in enumerate(REFERENCES)}
            for e in (1, 2)
        }
    return entry


READER_ACCURACY_NOTE = (
    "Each reader against two references, class by class. 'consensus': the released consensus cell "
    "(consensus.csv); an undecided cell, or an exam read too few times for a consensus, is left out and "
    "counted (n_undecided_left_out). The reader's own read is one of the consensus votes, which flatters "
    "them (incorporation bias: with three readers, their vote decides every split they side with). "
    "'leave_one_out': the majority of the exam's other reads, where there are at least two; a tie, or "
    "fewer than two other reads, is left out and counted. Reads: those consensus counts (current, first "
    "round). Intervals: 95% Wilson. Drift: against the consensus, pooled over classes, per quarter of the "
    "reader's reads in submission order, with the slope of a logistic regression of a right call on the "
    "read's place (log-odds from first to last read) and its Wald p-value, separately for reference-"
    "positive (sensitivity) and reference-negative (specificity) cells; flagged at p < 0.05, not corrected "
    "for the number of readers. Pooled figures take cells as independent."
)


def card_section(tally: _Tally, names: Mapping[int, str], file_name: str = "") -> dict[str, Any]:
    """The card's readers_vs_consensus (the page's summary per reader): pooled figures, exposure, drift."""
    return {
        "file": file_name,
        "note": READER_ACCURACY_NOTE,
        "drift_alpha": DRIFT_ALPHA,
        "readers": [
            _reader_entry(tally, r, names[reader_id])
            for r, reader_id in enumerate(tally.readers)
            if tally.of_reader(r)
        ],
    }
