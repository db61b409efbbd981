"""A release's reader_accuracy.csv and the card's readers_vs_consensus, written from the one computation
the agreement page shows too (selectors.releases.accuracy)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from annotations.selectors.releases.accuracy import (
    READER_ACCURACY_COLUMNS,
    card_section,
    reader_accuracy_rows,
    reader_accuracy_tally,
)
from annotations.selectors.releases.plan import ExportPlan
from annotations.services.releases.layout import READER_ACCURACY_CSV, csv_writer


def write_reader_accuracy(plan: ExportPlan, path: Path, names: Mapping[int, str]) -> dict[str, Any]:
    """The file, one row per reader, column, reference and exposure; returns the card's section."""
    tally = reader_accuracy_tally(plan, names)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        write = csv_writer(handle).writerow
        write(READER_ACCURACY_COLUMNS)
        for row in reader_accuracy_rows(tally, plan, names):
            write(row)
    return card_section(tally, names, READER_ACCURACY_CSV)
