"""CSV for spreadsheets: no cell a spreadsheet would run as a formula.

Excel, LibreOffice and Google Sheets evaluate a cell that starts with = + - @ (and, after trimming, a
tab or carriage return) as a formula: a user name typed at the login form such as `=cmd|' /C calc'!A0`
would run when a coordinator opens the audit export. Every CSV meant to be opened in a spreadsheet
(agreement tables) is written through `spreadsheet_writer`, which prefixes such a cell with an
apostrophe (OWASP's advice; spreadsheets show the text and hide the apostrophe); the audit export,
written by PostgreSQL's COPY, spells the same rule in its query (annotations/selectors/audit/__init__.py).
Numbers are left alone, as values and as text (`-0.31` is a kappa, not a formula), so numeric columns
stay numeric.

Release files are not written through this: they are data for programs, whose identifiers must come
back exactly as they went in (docs/security.md says what they hold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from annotations.lib.csv_text import CsvWriter, Writable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number as a spreadsheet reads one; "-inf" or "+nan" are not (they would be evaluated).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """The value, or for text a spreadsheet would evaluate, the text behind an apostrophe."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _NUMBER.fullmatch(value):
        return value
    return "'" + value


class SpreadsheetWriter:
    """A CSV writer (annotations.lib.csv_text) with every cell passed through spreadsheet_cell."""

    def __init__(self, handle: Writable, lineterminator: str = "\r\n") -> None:
        self._writer = CsvWriter(handle, end=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def spreadsheet_writer(handle: Writable, lineterminator: str = "\r\n") -> SpreadsheetWriter:
    """Line ends as csv.writer's default (CRLF) unless asked otherwise."""
    return SpreadsheetWriter(handle, lineterminator)
