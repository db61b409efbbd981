"""The representative (median) beat of each lead, as printed beside the 12 leads by ECG carts.

R peaks are found on the QRS energy of all the leads at once (annotations/lib/ecg/qrs.py, which says
why not on one lead); every lead's beats are cut on those same samples, so the leads of the median beat
stay simultaneous. Beats whose window (BEFORE_MS..AFTER_MS around R) runs past the strip are
left out. The median is sample-wise over beats, after a 0.5-40 Hz zero-phase band-pass that removes
baseline wander without moving a fiducial. The output is at OUT_RATE: 250 Hz keeps everything a
40 Hz-filtered beat holds and halves what travels to the reader.

The QRS onset is found on the median beat itself, where the spatial velocity (the sum over leads of
the absolute slope) first rises above a fraction of its peak; the other marks are placed from a
provider's interval measurements counted from that onset, so the marks on the beat and the numbers in
the table beside it always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from annotations.lib.ecg.qrs import qrs_peaks
from annotations.lib.ecg.resample import resample
from annotations.lib.lazy_imports import HEAVY_IMPORT

BEFORE_MS, AFTER_MS = -250.0, 450.0  # window around R: a PR up to ~250 ms, a QT up to ~450 ms past R
WORK_RATE = 500.0  # Hz, what R detection and the median run at
OUT_RATE = 250.0  # Hz, what the median beat is returned at
MIN_RATE, MAX_RATE = 20.0, 250.0  # bpm outside which an R-peak series is a detection failure
ONSET_FRACTION = 0.15  # of the peak spatial velocity: where the QRS onset is called
ONSET_SEARCH_MS = 120.0  # how far before R a QRS onset may lie


# scipy.signal is imported where it filters, not at the top: it takes 1-1.5 s to import, and every web
# process, worker and manage command imports this module through the reader's selectors (the median beat
# is drawn from stored suggestions there) without filtering anything.
@cache
def _band() -> np.ndarray:
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import butter

    sos: np.ndarray = butter(2, [0.5, 40.0], btype="bandpass", fs=WORK_RATE, output="sos")
    return sos


@dataclass(frozen=True)
class MedianBeat:
    leads: np.ndarray  # (leads, samples) in mV at sampling_rate; R at -BEFORE_MS ms from the start
    sampling_rate: float
    n_beats: int  # beats that went into the median
    r_peaks: int  # R peaks found on the whole strip, edge beats included
    qrs_onset_ms: float | None  # relative to R, found on the median beat

    def as_json(self, lead_names: list[str]) -> dict[str, Any]:
        return {
            "sampling_rate": self.sampling_rate,
            "start_ms": BEFORE_MS,
            "n_beats": self.n_beats,
            "qrs_onset_ms": self.qrs_onset_ms,
            "leads": {
                name: [round(float(v) * 1000.0) for v in row]  # microvolts: integers travel short
                for name, row in zip(lead_names, self.leads, strict=True)
            },
        }


def _r_peaks(filtered: np.ndarray) -> np.ndarray:
    peaks = qrs_peaks(filtered, WORK_RATE)
    if len(peaks) >= 2:
        rate = 60.0 * WORK_RATE / float(np.mean(np.diff(peaks)))
        if MIN_RATE <= rate <= MAX_RATE:
            return peaks
    return np.zeros(0, dtype=int)


def _qrs_onset_ms(beat: np.ndarray, rate: float) -> float | None:
    r_index = round(-BEFORE_MS * rate / 1000.0)
    velocity = np.abs(np.diff(beat, axis=1)).sum(axis=0)
    search = max(1, r_index - round(ONSET_SEARCH_MS * rate / 1000.0))
    peak = search + int(np.argmax(velocity[search : r_index + 1]))
    quiet = np.flatnonzero(velocity[search:peak] < ONSET_FRACTION * velocity[peak])
    if len(quiet) == 0:
        return None
    return (search + int(quiet[-1]) + 1 - r_index) * 1000.0 / rate


def median_beat(signals_mv: np.ndarray, sampling_rate: float) -> MedianBeat | None:
    """The median beat of each lead, or None when the strip has no usable R-peak series."""
    signals = resample(np.asarray(signals_mv, dtype=np.float64), sampling_rate, WORK_RATE)
    if signals.shape[-1] < 2 * WORK_RATE:
        return None
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import sosfiltfilt

    filtered = sosfiltfilt(_band(), signals, axis=1)
    peaks = _r_peaks(filtered)
    before, after = round(-BEFORE_MS * WORK_RATE / 1000.0), round(AFTER_MS * WORK_RATE / 1000.0)
    inside = peaks[(peaks >= before) & (peaks + after <= filtered.shape[1])]
    if len(inside) < 2:
        return None
    cut = filtered[:, inside[:, None] + np.arange(-before, after)[None, :]]  # (leads, beats, samples)
    median = np.median(cut, axis=1)
    step = round(WORK_RATE / OUT_RATE)
    leads = median[:, ::step]
    return MedianBeat(
        leads=leads,
        sampling_rate=WORK_RATE / step,
        n_beats=len(inside),
        r_peaks=len(peaks),
        qrs_onset_ms=_qrs_onset_ms(median, WORK_RATE),
    )


def fiducial_marks(
    qrs_onset_ms: float | None, *, pr_ms: float | None, qrs_ms: float | None, qt_ms: float | None
) -> dict[str, float | None]:
    """P onset, QRS onset and offset, T offset in ms relative to R, from the intervals counted from the
    beat's QRS onset; a mark without its interval, or one falling outside the beat's window, is None."""

    def within(value: float | None) -> float | None:
        return round(value, 1) if value is not None and BEFORE_MS <= value <= AFTER_MS else None

    def from_onset(interval: float | None, sign: float) -> float | None:
        return within(qrs_onset_ms + sign * interval) if qrs_onset_ms is not None and interval else None

    return {
        "p_on_ms": from_onset(pr_ms, -1.0),
        "qrs_on_ms": within(qrs_onset_ms),
        "qrs_off_ms": from_onset(qrs_ms, 1.0),
        "t_off_ms": from_onset(qt_ms, 1.0),
    }
