"""CSV text as every CSV of the product is written: the release files, the agreement tables, and the audit
export wherever PostgreSQL's COPY does not write it.

Written here rather than by the csv module, for two reasons. With "\n" as the line end, csv.writer leaves a
carriage return inside a field unquoted, and every CSV reader then ends the row there; RFC 4180 quotes CR
and LF alike, as PostgreSQL's COPY does (a name typed at the login form lands in the audit trail as
typed). And the release's consensus table repeats a handful of label patterns over 73 class columns:
joined once per pattern, a row costs a few fields instead of 80 (bench/export.py). Otherwise the output is
csv.writer's (QUOTE_MINIMAL, '"' doubled, floats as repr), which the release tests check byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Writable(Protocol):
    """Anything text is written to: an open file, a StringIO, a streaming HTTP response."""

    def write(self, text: str, /) -> object: ...


_SPECIAL = frozenset(',"\r\n')


def csv_cell(value: object) -> str:
    """One CSV field: None as nothing, text quoted when it holds a comma, a quote or a line break."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    if _SPECIAL.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def csv_line(values: Iterable[object], end: str = "\n") -> str:
    """One CSV row with its line end; a row of one empty field is written '""', as csv.writer writes it."""
    cells = [csv_cell(value) for value in values]
    return ('""' if cells == [""] else ",".join(cells)) + end


class CsvWriter:
    """A csv.writer-like object over csv_line."""

    def __init__(self, handle: Writable, end: str = "\n") -> None:
        self._write, self._end = handle.write, end

    def writerow(self, values: Iterable[object]) -> None:
        self._write(csv_line(values, self._end))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
