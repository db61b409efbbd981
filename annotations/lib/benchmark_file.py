"""A benchmark submission's file, checked whole before anything is kept: per-class scores for every exam.

Two forms. NPY: a 2-D array of numbers, one row per exam in the order of the benchmark's tracings file
and one column per class in the benchmark's order (no exam ids: the order is the contract). CSV: a
header ``exam_id`` plus each class code once, then one row per exam, each exam once, in any order.
Every score is a finite number in [0, 1]; nothing else is accepted (no extra column, no unknown exam,
no spreadsheet formula). Refusals say what is wrong and where, once, and raise SubmissionRefused.
"""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
# A spreadsheet formula, or a number written so a spreadsheet would read it as one: refused, not parsed.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
MAX_NAMED = 5


class SubmissionRefused(ValueError):
    """The file cannot be scored; the message says why."""


def _listed(items: list[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def _check_values(array: np.ndarray, where) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise SubmissionRefused(f"{where(row, col)} is not a number (NaN or infinite); {int(bad.sum())} such")
    out = (array < 0) | (array > 1)
    if out.any():
        row, col = map(int, np.argwhere(out)[0])
        raise SubmissionRefused(
            f"{where(row, col)} is {array[row, col]!r}, outside [0, 1]; {int(out.sum())} such cells"
        )


def read_npy(data: bytes, *, n_exams: int, classes: list[str]) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise SubmissionRefused(f"not a readable NPY array: {error}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise SubmissionRefused(f"the NPY array holds {array.dtype} values; scores must be numbers")
    if array.shape != (n_exams, len(classes)):
        raise SubmissionRefused(
            f"the array's shape is {array.shape}; this benchmark needs ({n_exams}, {len(classes)}): "
            f"one row per exam of the tracings file, one column per class ({', '.join(classes)})"
        )
    array = array.astype(np.float64)
    _check_values(array, lambda r, c: f"row {r}, column {c} ({classes[c]})")
    return array


def _header(rows: list[list[str]], classes: list[str]) -> dict[str, int]:
    if not rows:
        raise SubmissionRefused("the CSV file is empty")
    header = [cell.strip() for cell in rows[0]]
    if not header or header[0] != "exam_id":
        raise SubmissionRefused("the CSV's first column must be exam_id")
    names = header[1:]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise SubmissionRefused(f"columns named twice: {_listed(doubled)}")
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise SubmissionRefused(
            f"unknown classes {_listed(unknown)}; this benchmark has {', '.join(classes)}"
        )
    missing = [c for c in classes if c not in names]
    if missing:
        raise SubmissionRefused(f"no column for {_listed(missing)}")
    return {name: i + 1 for i, name in enumerate(names)}


def _cell(text: str, line: int, code: str) -> float:
    value = text.strip()
    if _FORMULA.match(text) or not _NUMBER.match(value):
        raise SubmissionRefused(f"line {line}, column {code}: {text[:40]!r} is not a score in [0, 1]")
    number = float(value)
    if not math.isfinite(number) or number > 1:
        raise SubmissionRefused(f"line {line}, column {code}: {text[:40]!r} is outside [0, 1]")
    return number


def read_csv(data: bytes, *, exam_ids: list[str], classes: list[str]) -> np.ndarray:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionRefused("the CSV file is not UTF-8 text") from None
    if "\x00" in text:
        raise SubmissionRefused("the CSV file holds a NUL byte")
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    columns = _header(rows, classes)
    position = {exam: i for i, exam in enumerate(exam_ids)}
    out = np.full((len(exam_ids), len(classes)), np.nan)
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]):
            raise SubmissionRefused(f"line {line} has {len(row)} cells; the header has {len(rows[0])}")
        exam = row[0].strip()
        if exam not in position:
            raise SubmissionRefused(f"line {line}: exam {exam[:40]!r} is not in this benchmark")
        if exam in seen:
            raise SubmissionRefused(f"line {line}: exam {exam!r} again (first on line {seen[exam]})")
        seen[exam] = line
        out[position[exam]] = [_cell(row[columns[code]], line, code) for code in classes]
    missing = [exam for exam in exam_ids if exam not in seen]
    if missing:
        counted = "1 exam has" if len(missing) == 1 else f"{len(missing)} exams have"
        raise SubmissionRefused(f"{counted} no row: {_listed(missing)}")
    return out


def read_submission(data: bytes, *, exam_ids: list[str], classes: list[str]) -> np.ndarray:
    """The scores (exams in ``exam_ids`` order x ``classes``, float64) of an NPY or CSV file."""
    if data.startswith(NPY_MAGIC):
        return read_npy(data, n_exams=len(exam_ids), classes=classes)
    return read_csv(data, exam_ids=exam_ids, classes=classes)


def read_thresholds(values: list, classes: list[str]) -> np.ndarray:
    """One threshold per class, each a number in [0, 1]."""
    if not isinstance(values, list | tuple) or len(values) != len(classes):
        count = len(values) if isinstance(values, list | tuple) else 0
        raise SubmissionRefused(f"{count} thresholds for {len(classes)} classes ({', '.join(classes)})")
    out = []
    for code, value in zip(classes, values, strict=True):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SubmissionRefused(f"threshold of {code}: {str(value)[:40]!r} is not a number") from None
        if not math.isfinite(number) or not 0 <= number <= 1:
            raise SubmissionRefused(f"threshold of {code}: {number!r} is outside [0, 1]")
        out.append(number)
    return np.array(out)
