"""What an exam import was asked and what became of it: the options, each file's and record's outcome,
and the report of the whole import (annotations.services.imports.exams writes them)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotations.errors import Invalid


class ImportRefused(Invalid):
    """The import cannot start (bad dataset name, path outside the import root...)."""


class ImportInterrupted(Exception):
    """The run stops here: another run of its job took it over. Raised from the progress callback, inside
    a unit's transaction, which it rolls back; never reported as the file's failure."""


# What a CODE HDF5's stored values may be multiplied by, for the import API and command alike: a negative
# scale would flip every tracing, 0 blank it; CODE-15%'s published files need 0.5.
AMPLITUDE_SCALE_MIN, AMPLITUDE_SCALE_MAX = 0.001, 1000.0


def amplitude_scale_checked(text: str) -> float:
    """The scale of a command-line option, or ValueError saying the range."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not AMPLITUDE_SCALE_MIN <= value <= AMPLITUDE_SCALE_MAX:  # False for NaN too
        raise ValueError(
            f"amplitude scale {text!r}: a number from {AMPLITUDE_SCALE_MIN:g} to {AMPLITUDE_SCALE_MAX:g}"
        )
    return value


@dataclass(frozen=True)
class ImportOptions:
    format: str | None = None  # None: detected from each file's content
    metadata: Path | None = None
    skip_invalid: bool = False
    amplitude_scale: float = 1.0
    confine_to: Path | None = None  # uploads and the API: every path must resolve inside this folder
    job_id: int | None = None  # the import job running it: its exams carry it


@dataclass
class RecordOutcome:
    record: str
    outcome: str  # created, unchanged, skipped or error; duplicate: a warning beside a created record
    message: str = ""
    same_as: list[int] = field(default_factory=list)  # duplicate: the earlier exams with this waveform
    exam: int | None = None  # the record's exam (created, unchanged, duplicate) or the one it clashes with

    def as_dict(self, file: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "file": file,
            "record": self.record,
            "outcome": self.outcome,
            "message": self.message,
        }
        if self.same_as:
            row["same_as"] = self.same_as
        if self.exam is not None:
            row["exam"] = self.exam
        return row


@dataclass
class FileOutcome:
    path: Path
    format: str = ""
    error: str = ""
    records: list[RecordOutcome] = field(default_factory=list)
    # Reference labels (snomed, statement) that map to no class of the default taxonomy: exams per label.
    unmapped: Counter[Any] = field(default_factory=Counter)
    # The metadata table read for this file (CODE's exams.csv), and for how many of its records it had a row.
    metadata: Path | None = None
    metadata_matched: int = 0

    @property
    def ok(self) -> bool:
        return not self.error

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.records if r.outcome == outcome)

    def metadata_note(self) -> str:
        """What the metadata table gave this file's records ('' when none was read)."""
        if self.metadata is None or not self.ok:
            return ""
        records = len({r.record for r in self.records if r.outcome != "duplicate"})
        return (
            f"read as the metadata of {self.path.name}: age, sex, patient and labels for "
            f"{self.metadata_matched} of its {records} records"
        )


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
        total: Counter[Any] = Counter()
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
            **{name: self.count(name) for name in ("created", "unchanged", "skipped", "error", "duplicate")},
        }


def unmapped_label_text(system: str, code: str, exams: int) -> str:
    """An unmapped label as reports name it: snomed 251146004 (2 exams), statement 'Wide QRS' (1 exam)."""
    shown = f"'{code}'" if system == "statement" else code
    return f"{system} {shown} ({exams} exam{'s' if exams != 1 else ''})"
