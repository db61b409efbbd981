"""A release's read_history.csv: the provenance of every read, earlier revisions included.

reads.csv gives each read as it counts now; an amended read's earlier revision, and a read a coordinator
returned to its reader, live on here: one row per submit, amendment and return, with its kind, reason,
statements and comment, the reader by the release's pseudonym. Draft saves are not records and are left
out. Free text (comments, reasons) is escaped as a spreadsheet cell, as skip reasons are in reads.csv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotations.lib.release_files.files import utc_iso
from annotations.lib.spreadsheet_csv import spreadsheet_cell
from annotations.selectors.releases.history import read_history_rows
from annotations.selectors.releases.plan import ExportPlan
from annotations.services.releases.layout import READ_HISTORY_COLUMNS, csv_writer


def _history_row(names: dict[int, str], row: tuple[Any, ...]) -> list[Any]:
    reader_id, dataset, external_id, batch_id, round_, stage, revision, kind, labels, comment, reason, at = (
        row
    )
    labels = labels or []
    return [
        names[reader_id],
        dataset,
        external_id,
        batch_id,
        round_,
        stage,
        revision,
        kind,
        " ".join(label["code"] for label in labels),
        " ".join(label["code"] for label in labels if label.get("uncertain")),
        spreadsheet_cell(comment),
        spreadsheet_cell(reason),
        utc_iso(at),
    ]


def write_read_history(plan: ExportPlan, path: Path, names: dict[int, str]) -> int:
    """Every recorded revision of every read of the plan's batches; returns the rows written."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = csv_writer(handle).writerow
        write(READ_HISTORY_COLUMNS)
        for row in read_history_rows(plan.batch_ids):
            write(_history_row(names, row))
            count += 1
    return count
