"""A benchmark submission's file, checked whole before anything is kept: per-class scores for every exam.

Two forms. NPY: a 2-D array of numbers, one row per exam in the order of the benchmark's tracings file
and one column per class in the benchmark's order (no exam ids: the order is the contract). CSV: a
header ``exam_id`` plus each class code once, then one row per exam, each exam once, in any order.
Every score is a finite number in [0, 1]; nothing else is accepted (no extra column, no unknown exam,
no spreadsheet formula). Refusals say what is wrong and where, once, and raise SubmissionRefused.

A refusal carries its English template and values (a Refusal); the caller translates it (Refusal.render
with its gettext), so this module stays free of Django. Every template is listed in REFUSALS, and marked
with gettext_noop so that makemessages collects it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
# A spreadsheet formula, or a number written so a spreadsheet would read it as one: refused, not parsed.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
MAX_NAMED = 5


REFUSALS: list[str] = []


def gettext_noop(template: str) -> str:
    """Marks a refusal's template for the catalogue; translated only when shown (Refusal.render)."""
    REFUSALS.append(template)
    return template


class Refusal:
    """A message as a template and its values; a value may be a Refusal itself (a cell's place)."""

    def __init__(self, template: str, **values: object) -> None:
        self.template, self.values = template, values

    def render(self, translate: Callable[[str], str] = lambda text: text) -> str:
        values = {k: v.render(translate) if isinstance(v, Refusal) else v for k, v in self.values.items()}
        return translate(self.template) % values


class SubmissionRefused(ValueError):
    """The file cannot be scored; the message says why (str: in English; .refusal: to translate)."""

    def __init__(self, template: str, **values: object) -> None:
        self.refusal = Refusal(template, **values)
        super().__init__(self.refusal.render())


NOT_NUMBER = gettext_noop("%(where)s is not a number (NaN or infinite); %(n)s such")
OUTSIDE = gettext_noop("%(where)s is %(value)s, outside [0, 1]; %(n)s such cells")
ROW_COLUMN = gettext_noop("row %(row)s, column %(column)s (%(code)s)")
NOT_NPY = gettext_noop("not a readable NPY array: %(error)s")
NPY_DTYPE = gettext_noop("the NPY array holds %(dtype)s values; scores must be numbers")
NPY_SHAPE = gettext_noop(
    "the array's shape is %(shape)s; this benchmark needs (%(rows)s, %(columns)s): one row per exam of the "
    "tracings file, one column per class (%(classes)s)"
)
CSV_EMPTY = gettext_noop("the CSV file is empty")
CSV_FIRST = gettext_noop("the CSV's first column must be exam_id")
CSV_TWICE = gettext_noop("columns named twice: %(names)s")
CSV_UNKNOWN = gettext_noop("unknown classes %(names)s; this benchmark has %(classes)s")
CSV_NO_COLUMN = gettext_noop("no column for %(names)s")
CELL_NOT_SCORE = gettext_noop("line %(line)s, column %(code)s: %(text)s is not a score in [0, 1]")
CELL_OUTSIDE = gettext_noop("line %(line)s, column %(code)s: %(text)s is outside [0, 1]")
CSV_NOT_UTF8 = gettext_noop("the CSV file is not UTF-8 text")
CSV_NUL = gettext_noop("the CSV file holds a NUL byte")
LINE_CELLS = gettext_noop("line %(line)s has %(cells)s cells; the header has %(header)s")
LINE_UNKNOWN = gettext_noop("line %(line)s: exam %(exam)s is not in this benchmark")
LINE_AGAIN = gettext_noop("line %(line)s: exam %(exam)s again (first on line %(first)s)")
ONE_MISSING = gettext_noop("1 exam has no row: %(names)s")
MANY_MISSING = gettext_noop("%(n)s exams have no row: %(names)s")
THRESHOLD_COUNT = gettext_noop("%(count)s thresholds for %(n)s classes (%(classes)s)")
THRESHOLD_NAN = gettext_noop("threshold of %(code)s: %(text)s is not a number")
THRESHOLD_OUTSIDE = gettext_noop("threshold of %(code)s: %(value)s is outside [0, 1]")
THRESHOLDS_WITH_RULE = gettext_noop("thresholds are chosen by the F1 rule: send none with it")
AND_MORE = gettext_noop("%(names)s and %(n)s more")


def _listed(items: list[str]) -> str | Refusal:
    shown = ", ".join(repr(i) for i in items[:MAX_NAMED])
    return Refusal(AND_MORE, names=shown, n=len(items) - MAX_NAMED) if len(items) > MAX_NAMED else shown


def _check_values(array: np.ndarray, where: Callable[[int, int], Refusal]) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise SubmissionRefused(NOT_NUMBER, where=where(row, col), n=int(bad.sum()))
    out = (array < 0) | (array > 1)
    if out.any():
        row, col = map(int, np.argwhere(out)[0])
        raise SubmissionRefused(OUTSIDE, where=where(row, col), value=repr(array[row, col]), n=int(out.sum()))


def read_npy(data: bytes, *, n_exams: int, classes: list[str]) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise SubmissionRefused(NOT_NPY, error=str(error)) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise SubmissionRefused(NPY_DTYPE, dtype=str(array.dtype))
    if array.shape != (n_exams, len(classes)):
        raise SubmissionRefused(
            NPY_SHAPE, shape=str(array.shape), rows=n_exams, columns=len(classes), classes=", ".join(classes)
        )
    array = array.astype(np.float64)
    _check_values(array, lambda r, c: Refusal(ROW_COLUMN, row=r, column=c, code=classes[c]))
    return array


def _header(rows: list[list[str]], classes: list[str]) -> dict[str, int]:
    if not rows:
        raise SubmissionRefused(CSV_EMPTY)
    header = [cell.strip() for cell in rows[0]]
    if not header or header[0] != "exam_id":
        raise SubmissionRefused(CSV_FIRST)
    names = header[1:]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise SubmissionRefused(CSV_TWICE, names=_listed(doubled))
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise SubmissionRefused(CSV_UNKNOWN, names=_listed(unknown), classes=", ".join(classes))
    missing = [c for c in classes if c not in names]
    if missing:
        raise SubmissionRefused(CSV_NO_COLUMN, names=_listed(missing))
    return {name: i + 1 for i, name in enumerate(names)}


def _cell(text: str, line: int, code: str) -> float:
    value = text.strip()
    if _FORMULA.match(text) or not _NUMBER.match(value):
        raise SubmissionRefused(CELL_NOT_SCORE, line=line, code=code, text=repr(text[:40]))
    number = float(value)
    if not math.isfinite(number) or number > 1:
        raise SubmissionRefused(CELL_OUTSIDE, line=line, code=code, text=repr(text[:40]))
    return number


def read_csv(data: bytes, *, exam_ids: list[str], classes: list[str]) -> np.ndarray:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionRefused(CSV_NOT_UTF8) from None
    if "\x00" in text:
        raise SubmissionRefused(CSV_NUL)
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    columns = _header(rows, classes)
    position = {exam: i for i, exam in enumerate(exam_ids)}
    out = np.full((len(exam_ids), len(classes)), np.nan)
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            raise SubmissionRefused(LINE_CELLS, line=line, cells=len(row), header=len(rows[0]))
        exam = row[0].strip()
        if exam not in position:
            raise SubmissionRefused(LINE_UNKNOWN, line=line, exam=repr(exam[:40]))
        if exam in seen:
            raise SubmissionRefused(LINE_AGAIN, line=line, exam=repr(exam), first=seen[exam])
        seen[exam] = line
        out[position[exam]] = [_cell(row[columns[code]], line, code) for code in classes]
    missing = [exam for exam in exam_ids if exam not in seen]
    if missing:
        if len(missing) == 1:
            raise SubmissionRefused(ONE_MISSING, names=_listed(missing))
        raise SubmissionRefused(MANY_MISSING, n=len(missing), names=_listed(missing))
    return out


def read_submission(data: bytes, *, exam_ids: list[str], classes: list[str]) -> np.ndarray:
    """The scores (exams in ``exam_ids`` order x ``classes``, float64) of an NPY or CSV file."""
    if data.startswith(NPY_MAGIC):
        return read_npy(data, n_exams=len(exam_ids), classes=classes)
    return read_csv(data, exam_ids=exam_ids, classes=classes)


def read_thresholds(values: list[Any], classes: list[str]) -> np.ndarray:
    """One threshold per class, each a number in [0, 1]."""
    if not isinstance(values, list | tuple) or len(values) != len(classes):
        count = len(values) if isinstance(values, list | tuple) else 0
        raise SubmissionRefused(THRESHOLD_COUNT, count=count, n=len(classes), classes=", ".join(classes))
    out = []
    for code, value in zip(classes, values, strict=True):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SubmissionRefused(THRESHOLD_NAN, code=code, text=repr(str(value)[:40])) from None
        if not math.isfinite(number) or not 0 <= number <= 1:
            raise SubmissionRefused(THRESHOLD_OUTSIDE, code=code, value=repr(number))
        out.append(number)
    return np.array(out)
