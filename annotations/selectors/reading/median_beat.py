"""The median beat beside the reader's sheet: the 12 standard leads in mV, one computed median beat per
exam (cached), and the panel that sets it beside the cart's or the model's measurements where the batch
shows them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core.cache import cache
from django.core.files.storage import storages

from annotations.lib.ecg import waveform as waveform_codec
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.measurement_tolerance import TOLERANCES, compared
from annotations.lib.ecg.median_beat import fiducial_marks, median_beat
from annotations.models import (
    Suggestion,
)
from annotations.selectors.suggestions.titles import provider_title

if TYPE_CHECKING:
    from annotations.models import Exam

logger = logging.getLogger(__name__)


# The measurements table beside the median beat: the shown provider's global measurements.
PANEL_MEASUREMENTS = (
    "heart_rate_bpm",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
)
MEDIAN_CACHE_S = 7 * 24 * 3600  # keyed by content, so never stale: the timeout only bounds the memory


def standard_leads_mv(exam: Exam) -> np.ndarray | None:
    """The exam's 12 standard leads in millivolts, in STANDARD_LEADS order; None when one is missing or
    the blob cannot be read. What the median beat and the blind measurements are computed from."""
    if any(lead not in exam.lead_names for lead in STANDARD_LEADS):
        return None
    try:
        with storages["waveforms"].open(exam.waveform_key, "rb") as handle:
            samples = waveform_codec.decode(handle.read())
    except (OSError, ValueError):
        logger.warning("waveform of exam %s unreadable", exam.pk)
        return None
    order = [exam.lead_names.index(lead) for lead in STANDARD_LEADS]
    return samples[order].astype(np.float64) * (exam.gain_uv / 1000.0)


def _median_beat_compute(exam: Exam) -> dict[str, Any] | None:
    """The exam's median beat, or None when its blob cannot be read or holds no usable R-peak series."""
    leads = standard_leads_mv(exam)
    if leads is None:
        return None
    beat = median_beat(leads, exam.sampling_rate)
    return None if beat is None else beat.as_json(list(STANDARD_LEADS))


def median_beat_cached(exam: Exam) -> dict[str, Any] | None:
    """Computed on demand (7-17 ms for 10-43 s strips, tests/exams/test_median_beat.py), under the 30 ms
    that would call for storing it with the suggestions; cached by waveform content in the shared cache
    ({} for "no beat"), which is optional: a cache that is down costs the computation, never the page."""
    key = f"median-beat:v1:{exam.waveform_sha256}"
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("median beat: the cache is down")
        cached = None
    if cached is not None:
        return cached or None
    computed = _median_beat_compute(exam)
    try:
        cache.set(key, computed or {}, timeout=MEDIAN_CACHE_S)
    except Exception:
        logger.warning("median beat: the cache is down")
    return computed


def median_panel(
    exam: Exam, suggestion: Suggestion | None, *, device_shown: bool = False
) -> dict[str, Any] | None:
    """The median beat with fiducial marks and the measurements table, only with a suggestion the viewer
    may see now: the marks and numbers are the model's, so they are blinded exactly like its statements
    (a reader's shown suggestion; the suggestion an adjudicator's case shows).

    device_shown: the viewer may see the recording cart's own measurements (a batch designed to show them);
    the table then gives the cart's value beside the model's, and how far apart they are against the
    tolerances of lib.ecg.measurement_tolerance. Otherwise `device` is None, as the exam's is."""
    if suggestion is None:
        return None
    stored = suggestion.measurements or {}
    beat = median_beat_cached(exam)
    if beat is not None:
        intervals = {key: stored.get(key) for key in ("pr_ms", "qrs_ms", "qt_ms")}
        beat = {**beat, "marks": fiducial_marks(beat["qrs_onset_ms"], **intervals)}
    measurements = {key: stored[key] for key in PANEL_MEASUREMENTS if key in stored}
    given = (exam.device_measurements or {}) if device_shown else {}
    device = {key: given[key] for key in PANEL_MEASUREMENTS if key in given} if device_shown else None
    return {
        "provider": suggestion.provider,
        "title": provider_title(suggestion.provider),
        "measurements": measurements,
        "beat": beat,
        "device": device,
        "differences": compared(device, measurements) if device else {},
        "tolerances": dict(TOLERANCES),
    }
