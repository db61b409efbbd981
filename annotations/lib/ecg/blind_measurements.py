"""What a blind reader may be shown of an ECG beside its leads: the global intervals, the frontal axes, the
ST level per lead and a representative beat. Measurements of the signal, as a cart prints them above the
tracing, never a statement or a score: nothing here names a diagnosis or a model.

The intervals come from the measurement provider's signal code (providers/measurements/waves.py: the same
R peaks, median beats, delineation and global QRS that the provider stores), taken without any of its
rules, so that the numbers a blind reader sees are the ones a suggestion would later carry. The ST level is
read on the same median beats: at J (the global QRS end) and 60 ms after it, against the PR segment's end
(the 20 ms before the QRS onset, as qrs_amplitudes takes it), in mm at 10 mm/mV. The median beats are
0.5-40 Hz zero-phase band-passed: a bidirectional high-pass under 0.67 Hz keeps the ST level (AHA/ACCF/HRS
2007 recommendations for the standardization of the ECG, part I).

A cart's own representative beat (cart_beat_json) is drawn as the cart gave it, its R found on it (the
peak of the leads' joint magnitude), so that the computed marks, which count from R, fall on it too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.resample import resample
from annotations.lib.providers.measurements.beats import genuine
from annotations.lib.providers.measurements.waves import (
    BEAT_BEFORE,
    FS,
    band_pass,
    detect_r_peaks,
    frontal_axis,
    intervals,
    median_beats,
    plausible_interval,
    qrs_amplitudes,
    rhythm,
    to_internal_rate,
)

# What a batch shows its blind readers (ReviewBatch.design["blind_measurements"]): nothing, the cart's
# measurements and beat, or those and the computed ones.
SETTINGS = ("none", "cart", "cart_and_computed")

# The global measurements, by the keys of DEVICE_MEASUREMENTS (lib.formats.base): the cart's and the
# computed ones sit side by side under the same names.
INTERVAL_KEYS = (
    "heart_rate_bpm",
    "rr_ms",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
)
MM_PER_MV = 10.0
J60_MS = 60.0
BASELINE_MS = 20.0  # the end of the PR segment, before the QRS onset: the isoelectric reference
T_AXIS_MIN = 1.0  # mV*ms: a flatter frontal T has no axis (as frontal_axis says of the QRS)
CART_BEAT_MAX_RATE = 500.0  # Hz: a 1000 Hz cart beat is sent at half, all a 150 Hz-band beat holds


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _ms(samples: float, rate: float) -> float:
    return samples * 1000.0 / rate


# The provider's pipeline step by step (waves.py says why each), stopping before any rule: one list of
# steps is clearer read at once than cut into helpers that each pass the same five arrays on.
def computed_measurements(signals_mv: np.ndarray, sampling_rate: float) -> dict[str, Any] | None:
    """{"intervals": {key: value or None}, "marks": {p_on_ms, qrs_on_ms, qrs_off_ms, t_off_ms} from R,
    "st_mm": {"j": {lead: mm}, "j60": {lead: mm}} or None} for the 12 standard leads in mV, or None when
    the strip has no plausible R-peak series (fewer than three beats, a flat or noisy recording)."""
    signals = np.asarray(signals_mv, dtype=np.float64)
    if signals.shape[0] != len(STANDARD_LEADS) or signals.shape[-1] < 2 * sampling_rate:
        return None
    filtered = band_pass(to_internal_rate(signals, sampling_rate))
    peaks, _ = detect_r_peaks(filtered, [])
    peaks = genuine(filtered, peaks)
    if len(peaks) < 3:
        return None
    beats = median_beats(filtered, peaks)
    found = intervals(filtered, peaks, beats)
    # The rate over the strip (the mean RR), as the provider and a reader counting beats give it.
    rr = float(rhythm(peaks)["rr_mean_ms"])
    pr = plausible_interval(found["pr"], 60.0, 400.0)
    qrs = plausible_interval(found["qrs"], 40.0, 240.0)
    qt = plausible_interval(found["qt"], 200.0, 700.0)
    onset = found.get("qrs_onset") if qrs is not None else found["velocity_onset"]
    offset = found.get("qrs_offset") if qrs is not None else found["velocity_offset"]
    t_offset = onset + qt if qt is not None and onset is not None else None
    amplitude = qrs_amplitudes(beats, onset, offset)
    r_index = round(BEAT_BEFORE * FS)
    st = st_levels(beats, r_index, FS, onset, offset)
    rr_s = rr / 1000.0
    values = {
        "heart_rate_bpm": 60000.0 / rr,
        "rr_ms": rr,
        "pr_ms": pr,
        "qrs_ms": qrs,
        "qt_ms": qt,
        "qtc_ms": None,  # a cart's own formula: the computed QTc is named by its formula below
        "qtc_bazett_ms": qt / math.sqrt(rr_s) if qt else None,
        "qtc_fridericia_ms": qt / rr_s ** (1 / 3) if qt else None,
        "p_axis_deg": found["p_axis"] if pr is not None else None,
        "qrs_axis_deg": frontal_axis(amplitude["area"]),
        "t_axis_deg": t_axis(beats, r_index, FS, onset, offset, t_offset),
    }
    marks = {
        "p_on_ms": onset - pr if onset is not None and pr is not None else None,
        "qrs_on_ms": onset,
        "qrs_off_ms": offset,
        "t_off_ms": t_offset,
    }
    return {
        "intervals": {key: _round(values[key]) for key in INTERVAL_KEYS},
        "marks": {key: _round(value) for key, value in marks.items()},
        "st_mm": st,
    }


def _baseline(beats: np.ndarray, r_index: int, rate: float, onset_ms: float) -> np.ndarray:
    start = r_index + round(onset_ms * rate / 1000.0)
    width = max(1, round(BASELINE_MS * rate / 1000.0))
    baseline: np.ndarray = np.median(beats[:, max(0, start - width) : max(1, start + 1)], axis=1)
    return baseline


def st_levels(
    beats: np.ndarray, r_index: int, rate: float, onset_ms: float | None, offset_ms: float | None
) -> dict[str, dict[str, float]] | None:
    """The ST level of each lead's median beat (mV, (leads, samples) with R at r_index) at J and J+60 ms,
    in mm against the PR segment's end; None without a QRS onset and end."""
    if onset_ms is None or offset_ms is None:
        return None
    baseline = _baseline(beats, r_index, rate, onset_ms)
    j = r_index + round(offset_ms * rate / 1000.0)
    j60 = j + round(J60_MS * rate / 1000.0)
    if j60 >= beats.shape[1]:
        return None
    names = STANDARD_LEADS[: beats.shape[0]]

    def at(index: int) -> dict[str, float]:
        levels = (beats[:, index] - baseline) * MM_PER_MV
        return {name: round(float(level), 2) for name, level in zip(names, levels, strict=True)}

    return {"j": at(j), "j60": at(j60)}


def t_axis(
    beats: np.ndarray,
    r_index: int,
    rate: float,
    onset_ms: float | None,
    offset_ms: float | None,
    t_offset_ms: float | None,
) -> float | None:
    """The frontal T axis: the net area of the T wave (from J to the T end, against the PR baseline) in I
    and aVF, read as the QRS axis is (waves.frontal_axis)."""
    if onset_ms is None or offset_ms is None or t_offset_ms is None:
        return None
    start = r_index + round(offset_ms * rate / 1000.0)
    end = min(beats.shape[1], r_index + round(t_offset_ms * rate / 1000.0) + 1)
    if end - start < 2:
        return None
    baseline = _baseline(beats, r_index, rate, onset_ms)
    area = (beats[:, start:end] - baseline[:, None]).sum(axis=1) * 1000.0 / rate
    return frontal_axis(area, minimum=T_AXIS_MIN)


def cart_beat_json(leads_uv: dict[str, list[int]], sampling_rate: float) -> dict[str, Any] | None:
    """A cart's representative beat in the shape of MedianBeat.as_json (lib.ecg.median_beat): microvolts
    per lead, start_ms the first sample's time from R, R found on the beat itself (where the leads' joint
    magnitude above their own median peaks). n_beats is None: the cart does not say how many it took.
    None when the beat lacks a standard lead or is flat."""
    if any(lead not in leads_uv for lead in STANDARD_LEADS):
        return None
    rows = np.asarray([leads_uv[lead] for lead in STANDARD_LEADS], dtype=np.float64)
    rate = float(sampling_rate)
    if rate > CART_BEAT_MAX_RATE:
        rows = resample(rows, rate, CART_BEAT_MAX_RATE)
        rate = CART_BEAT_MAX_RATE
    centred = rows - np.median(rows, axis=1, keepdims=True)
    magnitude = np.sqrt((centred**2).sum(axis=0))
    if rows.shape[1] < 3 or not magnitude.max() > 0:
        return None
    # Smoothed over 20 ms first: a 5 ms spike on every lead (a Welch Allyn reference beat has one, where a
    # pacemaker spike or a marker may sit) outweighs no QRS then, and the raw peak is taken near it.
    width = max(1, round(0.020 * rate))
    smooth = np.convolve(magnitude, np.ones(width) / width, mode="same")
    centre = int(np.argmax(smooth))
    low = max(0, centre - width // 2)
    r_index = low + int(np.argmax(magnitude[low : centre + width // 2 + 1]))
    return {
        "sampling_rate": rate,
        "start_ms": _round(-_ms(r_index, rate)),
        "n_beats": None,
        "qrs_onset_ms": None,
        "leads": {
            lead: [round(float(v)) for v in row] for lead, row in zip(STANDARD_LEADS, rows, strict=True)
        },
    }


def within_beat(marks: dict[str, float | None], beat: dict[str, Any]) -> dict[str, float | None]:
    """The marks that fall inside the drawn beat's window; the others None (the drawing has no room)."""
    start = beat["start_ms"]
    first_lead: list[float] = next(iter(beat["leads"].values()), [])
    end = start + _ms(len(first_lead), beat["sampling_rate"])
    return {
        key: value if value is not None and start <= value <= end else None for key, value in marks.items()
    }
