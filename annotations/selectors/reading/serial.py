"""Serial comparison's overlay, as MUSE compares serial ECGs: the median beats of the open exam and of one
earlier exam of the same patient, to be drawn one over the other per lead (aligned on QRS onset), and the
change of each interval and axis between the two.

The earlier exam is reached only as selectors.reading.priors allows (the reader's own assignment, a batch
designed with serial comparison, one of the three most recent earlier exams): its samples and date, never
anything anybody said about it. The numbers come only from a source the batch already shows its readers:
computed from the signals (selectors.reading.blind_measurements) where the reader may see computed
measurements now (a shown suggestion, or a batch whose `blind_measurements` is "cart_and_computed"), else
the recording carts' own where the batch shows the cart's ("cart"); else none. The beats are the computed
median beats of both exams, also where a cart's beat was kept: a cart's beat has no QRS onset to align on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from annotations.models import Assignment, Exam
from annotations.selectors.reading.assignments import assignment_for_reader
from annotations.selectors.reading.blind_measurements import _computed, blind_measurements_setting
from annotations.selectors.reading.context import current_annotation, suggestion_visible
from annotations.selectors.reading.median_beat import median_beat_cached
from annotations.selectors.reading.priors import prior_exam_for_reader

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The table's rows, in the order a cart's serial report gives them.
ROWS = (
    "heart_rate_bpm",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
)


# The shapes annotations.api.reading.SerialOverlaySerializer answers, attribute by attribute.
@dataclass(frozen=True, slots=True)
class SerialRow:
    key: str
    earlier: float | None
    current: float | None
    change: float | None  # current - earlier


@dataclass(frozen=True, slots=True)
class SerialSide:
    acquired_on: date
    beat: dict[str, Any] | None  # selectors.reading.median_beat; None without usable R peaks


@dataclass(frozen=True, slots=True)
class SerialMeasurements:
    source: str | None
    rows: list[SerialRow]


@dataclass(frozen=True, slots=True)
class SerialOverlay:
    earlier: SerialSide
    current: SerialSide
    measurements: SerialMeasurements


def _source(assignment: Assignment) -> str | None:
    """Which measurements the reader may see of this assignment's exams now: "computed", "cart" or None."""
    setting = blind_measurements_setting(assignment.batch)
    if setting == "cart_and_computed" or suggestion_visible(assignment, current_annotation(assignment)):
        return "computed"
    return "cart" if setting == "cart" else None


def _change(earlier: float | None, current: float | None) -> float | None:
    return None if earlier is None or current is None else round(current - earlier, 1)


def _rows(source: str | None, earlier: Exam, current: Exam) -> list[SerialRow]:
    if source is None:
        return []
    if source == "computed":
        before, now = ((_computed(exam) or {}).get("intervals") or {} for exam in (earlier, current))
    else:
        before, now = earlier.device_measurements or {}, current.device_measurements or {}
    return [
        SerialRow(
            key=key,
            earlier=before.get(key),
            current=now.get(key),
            change=_change(before.get(key), now.get(key)),
        )
        for key in ROWS
    ]


def _side(exam: Exam) -> SerialSide:
    assert exam.acquired_at is not None  # a serial comparison is offered between dated exams only
    return SerialSide(acquired_on=exam.acquired_at.date(), beat=median_beat_cached(exam))


def serial_overlay_for_reader(user: User, assignment_id: int, n: int) -> SerialOverlay:
    """The overlay of the reader's own assignment and its n-th earlier exam (1: the most recent); 404 as
    for that earlier exam's waveform (not theirs, no serial comparison, no such earlier exam)."""
    earlier, _ = prior_exam_for_reader(user, assignment_id, n)
    assignment = assignment_for_reader(user, assignment_id)
    current = assignment.exam
    source = _source(assignment)
    return SerialOverlay(
        earlier=_side(earlier),
        current=_side(current),
        measurements=SerialMeasurements(source=source, rows=_rows(source, earlier, current)),
    )
