"""R peaks of a 12-lead strip, found on the QRS energy of all its leads at once.

Why not neurokit2's detectors, which the rest of the measurement pipeline uses: they look at one lead. On
two of the fifteen real records in tests/data, lead II's tall T waves (a 41 bpm sinus bradycardia from a
Philips HeartStart MRx) or sharp P waves (a normal Welch Allyn record) lie 0.2-0.3 s from their QRS, and
with a refractory period short enough to keep an early premature beat (JS20000's PAC comes 294 ms after
its predecessor) neurokit2 took them for beats: the strips read as 85 and 132 bpm "atrial fibrillation";
with its default 0.3 s it missed the PAC instead, and sat its R peaks on the Welch Allyn P waves.

A QRS is the one part of a beat that is fast in every lead at once. Each lead is band-passed to 5-25 Hz
(where QRS energy lies and T and P waves have little), the leads' squares are summed, the root is smoothed
over 40 ms (a QRS's width: a narrow spike integrates to little), and the peaks of that envelope at least
REFRACTORY_S apart that reach MIN_HEIGHT of the tallest ones are the beats. Every record of tests/data,
and every synthetic rhythm of the measurement tests, comes out at the rate counted on its strip.
Pure numpy and scipy: no Django.
"""

from __future__ import annotations

import numpy as np

from annotations.lib.lazy_imports import HEAVY_IMPORT

QRS_BAND = (5.0, 25.0)  # Hz
SMOOTH_S = 0.04  # a QRS's width
REFRACTORY_S = 0.2  # the ventricles' refractory period: no two beats closer
# Of the 90th percentile of the envelope's peaks: a T wave reaches 0.05-0.25 of it, a QRS 0.6-1.2, a
# premature beat with an aberrant QRS more.
MIN_HEIGHT = 0.3


def qrs_energy(filtered: np.ndarray, rate: float, *, skip_loudest: bool = False) -> np.ndarray:
    """The smoothed QRS-band energy envelope of (leads, samples) signals. skip_loudest: leave out, at
    each sample, the lead with the most energy, so that one lead's artefact (an electrode's spikes of
    5 mV in V2 alone, on a real record) cannot make a beat, while a QRS, seen in most leads, still does."""
    # scipy.signal is imported where it is used: it takes 1-1.5 s, which every process importing the
    # reader's selectors would otherwise pay at start.
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import butter, sosfiltfilt

    sos = butter(2, [QRS_BAND[0], min(QRS_BAND[1], 0.45 * rate)], btype="bandpass", fs=rate, output="sos")
    power = sosfiltfilt(sos, filtered, axis=1) ** 2
    energy = np.sqrt(power.sum(axis=0) - (power.max(axis=0) if skip_loudest else 0.0))
    width = max(1, round(SMOOTH_S * rate))
    return np.convolve(energy, np.ones(width) / width, mode="same")


def qrs_peaks(filtered: np.ndarray, rate: float, *, skip_loudest: bool = False) -> np.ndarray:
    """Sample indices of the beats of (leads, samples) signals, ascending; empty when none stands out.
    skip_loudest: see qrs_energy."""
    if filtered.ndim != 2 or filtered.shape[1] < 3:
        return np.zeros(0, dtype=int)
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import find_peaks

    energy = qrs_energy(filtered, rate, skip_loudest=skip_loudest)
    candidates, _ = find_peaks(energy, distance=max(1, round(REFRACTORY_S * rate)))
    if not len(candidates):
        return np.zeros(0, dtype=int)
    heights = energy[candidates]
    top = float(np.percentile(heights, 90))
    if top <= 0:
        return np.zeros(0, dtype=int)
    peaks: np.ndarray = candidates[heights >= MIN_HEIGHT * top].astype(int)
    return peaks
