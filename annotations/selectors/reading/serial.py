"""Serial comparison's overlay, as MUSE compares serial ECGs: the median beats of the open exam and of one
earlier exam of the same patient, to be drawn one over the other per lead (aligned on QRS onset), and the
change of each interval and axis between the two.

The earlier exam is reached only as selectors.reading.priors allows (the reader's own assignment, a batch
designed with serial comparison, one of the three most recent earlier exams): its samples and date, never
anything anybody said about it. The numbers come only from a source the batch already shows its readers:
measured from the signals (the measurement provider's pipeline, lib.providers.measurements.globals) where
the reader may see computed measurements now (a shown suggestion, or a batch whose `blind_measurements`
is "cart_and_computed"), else the recording carts' own where the batch shows the cart's; else none.
"""

from __future__ import annotations

import logging

import numpy as np
from django.core.cache import cache
from django.core.files.storage import storages

from annotations.lib.ecg import waveform as waveform_codec
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.measurements.globals import global_measurements
from annotations.models import Assignment, Exam
from annotations.selectors.reading.assignments import (
    _current_annotation,
    _median_beat_cached,
    assignment_for_reader,
    device_measurements_shown,
    suggestion_visible,
)
from annotations.selectors.reading.priors import prior_exam_for_reader

logger = logging.getLogger(__name__)
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
MEASURED_CACHE_S = 7 * 24 * 3600  # keyed by content, so never stale: the timeout only bounds the memory


def _computed(exam: Exam) -> dict:
    """The exam's global measurements from its signals ({} when its blob is unreadable), cached by content."""
    key = f"serial-measured:v1:{exam.waveform_sha256}"
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("serial measurements: the cache is down")
        cached = None
    if cached is not None:
        return cached
    measured: dict = {}
    if all(lead in exam.lead_names for lead in STANDARD_LEADS):
        try:
            with storages["waveforms"].open(exam.waveform_key, "rb") as handle:
                samples = waveform_codec.decode(handle.read())
        except (OSError, ValueError):
            logger.warning("serial measurements: waveform of exam %s unreadable", exam.pk)
            return {}
        order = [exam.lead_names.index(lead) for lead in STANDARD_LEADS]
        measured = global_measurements(
            samples[order].astype(np.float64) * (exam.gain_uv / 1000.0), exam.sampling_rate
        )
    try:
        cache.set(key, measured, timeout=MEASURED_CACHE_S)
    except Exception:
        logger.warning("serial measurements: the cache is down")
    return measured


def _source(assignment: Assignment) -> str | None:
    """Which measurements the reader may see of this assignment's exams now: "computed", "cart" or None."""
    design = assignment.batch.design or {}
    blind = design.get("blind_measurements") or "none"
    if blind == "cart_and_computed" or suggestion_visible(assignment, _current_annotation(assignment)):
        return "computed"
    if blind == "cart" or device_measurements_shown(assignment.batch):
        return "cart"
    return None


def _change(earlier, current):
    return None if earlier is None or current is None else round(current - earlier, 1)


def _rows(source: str | None, earlier: Exam, current: Exam) -> list[dict]:
    if source is None:
        return []
    if source == "computed":
        before, now = _computed(earlier), _computed(current)
    else:
        before, now = earlier.device_measurements or {}, current.device_measurements or {}
    return [
        {
            "key": key,
            "earlier": before.get(key),
            "current": now.get(key),
            "change": _change(before.get(key), now.get(key)),
        }
        for key in ROWS
    ]


def _side(exam: Exam) -> dict:
    return {"acquired_on": exam.acquired_at.date().isoformat(), "beat": _median_beat_cached(exam)}


def serial_overlay_for_reader(user, assignment_id: int, n: int) -> dict:
    """The overlay of the reader's own assignment and its n-th earlier exam (1: the most recent); 404 as
    for that earlier exam's waveform (not theirs, no serial comparison, no such earlier exam)."""
    earlier, _ = prior_exam_for_reader(user, assignment_id, n)
    assignment = assignment_for_reader(user, assignment_id)
    current = assignment.exam
    source = _source(assignment)
    return {
        "earlier": _side(earlier),
        "current": _side(current),
        "measurements": {"source": source, "rows": _rows(source, earlier, current)},
    }
