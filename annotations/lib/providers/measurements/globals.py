"""The global intervals and axis of a strip, from the measurement provider's own signal pipeline but
without its statements: what a serial comparison sets side by side for two ECGs of one patient."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotations.lib.providers.measurements.beats import genuine
from annotations.lib.providers.measurements.provider import MeasurementProvider, _round
from annotations.lib.providers.measurements.waves import (
    band_pass,
    detect_r_peaks,
    intervals,
    median_beats,
    rhythm,
    to_internal_rate,
)

KEYS = ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms", "qrs_axis_deg")


def global_measurements(signals_mv: np.ndarray, sampling_rate: float) -> dict[str, Any]:
    """Heart rate, PR, QRS, QT, Bazett's QTc and the QRS axis of the 12 standard leads (rows in
    STANDARD_LEADS order, mV); each None where the strip does not give it."""
    filtered = band_pass(to_internal_rate(signals_mv, sampling_rate))
    peaks, _ = detect_r_peaks(filtered, [])
    peaks = genuine(filtered, peaks)
    measured: dict[str, Any] = dict(rhythm(peaks))
    if len(peaks) >= 3:
        beats = median_beats(filtered, peaks)
        found = intervals(filtered, peaks, beats)
        measured.update(MeasurementProvider._morphology(beats, found, measured.get("heart_rate_bpm"), []))
    return {key: _round(measured.get(key)) for key in KEYS}
