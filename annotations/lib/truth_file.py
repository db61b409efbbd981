"""A file of reference labels to evaluate suggestions against: read, checked and mapped to TNMG codes.

Two layouts:
* CSV ``external_id,codes``: one exam per line (a header line naming external_id is skipped), its codes
  in one column separated by ``;`` or spaces.
* A CinC-style ``records.tsv``: tab-separated with a header holding ``snomed_ct_dx`` (codes separated
  by commas) and ``record`` (else the first column) naming the exam.

Codes are TNMG codes (any case) or SNOMED CT identifiers, one system per file, detected from the codes
themselves (a TSV's ``snomed_ct_dx`` is SNOMED CT). A line's codes are the exam's whole label set: a
class not listed is absent. SNOMED CT codes map through the crosswalk the caller passes (the one the
importer uses); a code it has no TNMG statement for is counted as unmapped, as the import report does,
since the Challenge sets name findings TNMG does not state (a myocardial infarction of unknown age,
low voltage without saying where). Anything else that is not a code of the detected system is refused.

Pure Python: no Django.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TSV_CODES_COLUMN = "snomed_ct_dx"
TSV_RECORD_COLUMN = "record"
CSV_HEADER_NAMES = {"external_id", "record", "exam"}
# A SNOMED CT identifier: 6 to 18 digits, no leading zero (its own partition and check digits included).
SCTID = re.compile(r"[1-9][0-9]{5,17}")
SPLIT = re.compile(r"[;,\s]+")
LISTED = 8  # offending codes named in a message; the count says how many more


class TruthFileError(ValueError):
    """The truth file cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True)
class TruthRows:
    """The file's rows as written: external id -> codes, and the line each exam is on."""

    format: str  # "csv" or "tsv"
    rows: dict[str, tuple[str, ...]]
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Truth:
    """code_system: "tnmg" or "snomed", as detected; labels: external id -> TNMG codes present;
    unmapped: SNOMED CT code -> exams (rows) carrying it that TNMG has no statement for."""

    code_system: str
    labels: dict[str, set[str]]
    unmapped: dict[str, int]


def truth_rows_read(path: Path) -> TruthRows:
    try:
        # utf-8-sig: spreadsheets often write a byte order mark first
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TruthFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TruthFileError(f"{path}: a folder, not a truth file") from None
    except UnicodeDecodeError as error:
        raise TruthFileError(f"{path}: not UTF-8 text ({error})") from None
    try:
        return truth_rows_parse(text)
    except TruthFileError as error:
        raise TruthFileError(f"{path}: {error}") from None


def truth_rows_parse(text: str) -> TruthRows:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise TruthFileError("the file is empty")
    if "\t" in lines[0][1]:
        return _tsv_rows(lines)
    return _csv_rows(lines)


def _tsv_rows(lines: list[tuple[int, str]]) -> TruthRows:
    header = [cell.strip().lower() for cell in lines[0][1].split("\t")]
    if TSV_CODES_COLUMN not in header:
        raise TruthFileError(
            f"a tab-separated truth file needs a header with a {TSV_CODES_COLUMN} column (as CinC's "
            f"records.tsv); this one has no {TSV_CODES_COLUMN} column, only: {', '.join(header)}"
        )
    codes_at = header.index(TSV_CODES_COLUMN)
    record_at = header.index(TSV_RECORD_COLUMN) if TSV_RECORD_COLUMN in header else 0
    rows: list[tuple[int, str, str]] = []
    for number, line in lines[1:]:
        cells = line.split("\t")
        if len(cells) <= max(codes_at, record_at):
            raise TruthFileError(f"line {number} has {len(cells)} columns, the header {len(header)}")
        rows.append((number, cells[record_at], cells[codes_at]))
    return _collected("tsv", rows)


def _csv_rows(lines: list[tuple[int, str]]) -> TruthRows:
    rows: list[tuple[int, str, str]] = []
    for index, (number, line) in enumerate(lines):
        cells = next(csv.reader(io.StringIO(line)))
        if index == 0 and cells and cells[0].strip().lower() in CSV_HEADER_NAMES:
            continue
        if len(cells) > 2:
            raise TruthFileError(
                f"line {number} has {len(cells)} columns; write external_id,codes with the codes in one "
                "column, separated by ';' or spaces"
            )
        rows.append((number, cells[0], cells[1] if len(cells) > 1 else ""))
    return _collected("csv", rows)


def _collected(layout: str, rows: Iterable[tuple[int, str, str]]) -> TruthRows:
    codes: dict[str, tuple[str, ...]] = {}
    where: dict[str, int] = {}
    for number, external_id, text in rows:
        external_id = external_id.strip()
        if not external_id:
            raise TruthFileError(f"line {number} names no exam")
        if external_id in codes:
            raise TruthFileError(f"{external_id} is listed twice (lines {where[external_id]} and {number})")
        codes[external_id] = tuple(code for code in SPLIT.split(text.strip()) if code)
        where[external_id] = number
    if not codes:
        raise TruthFileError("the file lists no exam")
    return TruthRows(format=layout, rows=codes, lines=where)


def truth_codes(
    rows: TruthRows, *, tnmg_codes: Iterable[str], snomed_to_tnmg: Mapping[str, Sequence[str]]
) -> Truth:
    """The rows' codes as TNMG codes: the system detected, unknown codes refused (TruthFileError)."""
    tnmg = {code.lower(): code for code in tnmg_codes}
    written = [
        (rows.lines.get(external_id, 0), code) for external_id, codes in rows.rows.items() for code in codes
    ]
    snomed = [(line, code) for line, code in written if SCTID.fullmatch(code)]
    named = [(line, code) for line, code in written if code.lower() in tnmg]
    if rows.format == "csv" and snomed and named:
        raise TruthFileError(
            f"the file mixes TNMG codes [{_where(named)}] and SNOMED CT codes [{_where(snomed)}]; "
            "use one system per file"
        )
    if rows.format == "tsv" or snomed:
        others = [(line, code) for line, code in written if not SCTID.fullmatch(code)]
        if others:
            raise TruthFileError(f"not SNOMED CT codes: {_where(others)}")
        return _mapped(rows, snomed_to_tnmg)
    unknown = [(line, code) for line, code in written if code.lower() not in tnmg]
    if unknown:
        raise TruthFileError(
            f"unknown TNMG codes: {_where(unknown)}; the taxonomy's codes are {', '.join(tnmg.values())}"
        )
    labels = {external_id: {tnmg[code.lower()] for code in codes} for external_id, codes in rows.rows.items()}
    return Truth(code_system="tnmg", labels=labels, unmapped={})


def _mapped(rows: TruthRows, snomed_to_tnmg: Mapping[str, Sequence[str]]) -> Truth:
    labels: dict[str, set[str]] = {}
    unmapped: Counter[str] = Counter()
    for external_id, codes in rows.rows.items():
        labels[external_id] = {target for code in codes for target in snomed_to_tnmg.get(code, ())}
        unmapped.update({code for code in codes if not snomed_to_tnmg.get(code)})
    return Truth(code_system="snomed", labels=labels, unmapped=dict(sorted(unmapped.items())))


def _where(found: list[tuple[int, str]]) -> str:
    """'AFIB (line 1), STACH (line 2)', the first LISTED, then how many more."""
    shown = ", ".join(f"{code} (line {line})" for line, code in found[:LISTED])
    return shown + (f" and {len(found) - LISTED} more" if len(found) > LISTED else "")
