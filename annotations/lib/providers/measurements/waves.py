"""The signal side of the measurement provider: conditioning, R peaks and rhythm, wave delineation,
median beats, QRS amplitudes and the frontal axis (see the package's description for why each choice)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.qrs import qrs_peaks
from annotations.lib.ecg.resample import resample

FS = 500.0  # internal sampling rate, Hz
LEAD = {name: index for index, name in enumerate(STANDARD_LEADS)}
LIMB = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL = ("V1", "V2", "V3", "V4", "V5", "V6")
MIN_RATE, MAX_RATE = 20.0, 250.0  # bpm outside which an R-peak series is treated as a detection failure
# An interval shorter than 85% of the median followed by one longer than 110% is a premature beat with
# its pause; those pairs are left out of the irregularity measure (occasional ectopy is not AF).
PREMATURE, PAUSE = 0.85, 1.10
BEAT_BEFORE, BEAT_AFTER = 0.30, 0.60  # s around R for median beats (covers PR and most of QT)
MIN_LEAD_PR_MS = 80.0
DEFAULT_QRS = (-0.05, 0.06)  # s around R when delineation found no QRS onset/offset
TERMINAL_QRS = 0.04  # s: the last 40 ms of QRS carry the bundle-branch-block morphology
FIDUCIALS = ("ECG_P_Onsets", "ECG_R_Onsets", "ECG_R_Offsets", "ECG_T_Offsets")


# --- Signal conditioning ------------------------------------------------------------------------------
def to_internal_rate(signals: np.ndarray, sampling_rate: float) -> np.ndarray:
    return resample(signals, sampling_rate, FS)


def band_pass(signals: np.ndarray) -> np.ndarray:
    """0.5-40 Hz, 2nd-order Butterworth run forward and back: zero phase, so fiducials do not move."""
    from scipy.signal import butter, sosfiltfilt  # about 1 s to import: here, as neurokit2 (see below)

    sos = butter(2, [0.5, 40.0], btype="bandpass", fs=FS, output="sos")
    return sosfiltfilt(sos, signals, axis=1)


# --- Rhythm ---------------------------------------------------------------------------------------------
def _plausible(peaks: np.ndarray) -> bool:
    if len(peaks) < 3:
        return False
    rate = 60.0 * FS / float(np.mean(np.diff(peaks)))
    return MIN_RATE <= rate <= MAX_RATE


def detect_r_peaks(filtered: np.ndarray, quality: list[str]) -> tuple[np.ndarray, str | None]:
    """R peaks on the QRS energy of all 12 leads (annotations/lib/ecg/qrs.py says why not neurokit2's
    single-lead detectors); "all" names where they were found."""
    peaks = qrs_peaks(filtered, FS)
    if _plausible(peaks):
        return peaks, "all"
    quality.append("no plausible R-peak series")
    return np.zeros(0, dtype=int), None


def premature_pairs(rr: np.ndarray) -> np.ndarray:
    """Boolean mask of intervals belonging to a premature-beat/pause pair."""
    median = np.median(rr)
    mask = np.zeros(len(rr), dtype=bool)
    for i in range(len(rr) - 1):
        if rr[i] < PREMATURE * median and rr[i + 1] > PAUSE * median:
            mask[i] = mask[i + 1] = True
    return mask


def rhythm(peaks: np.ndarray) -> dict[str, Any]:
    rr = np.diff(peaks) / FS * 1000.0  # ms
    if len(rr) < 2:
        return {"n_beats": len(peaks)}
    ectopic = premature_pairs(rr)
    # Irregularity of the underlying rhythm: without premature/pause pairs while >= 4 intervals remain.
    # Pairs removed from a random (AF) series leave a series just as random, so AF still shows.
    kept = rr[~ectopic] if (~ectopic).sum() >= 4 else rr
    mean_rr = float(np.mean(rr))
    return {
        "n_beats": len(peaks),
        # Rate over the strip (beats per minute of mean RR), as a reader counting beats would get it.
        "heart_rate_bpm": 60000.0 / mean_rr,
        "rr_mean_ms": mean_rr,
        "rr_median_ms": float(np.median(rr)),
        "rr_sd_ms": float(np.std(rr, ddof=1)),
        "rr_cv": float(np.std(rr, ddof=1) / mean_rr),
        "rmssd_ms": float(np.sqrt(np.mean(np.diff(rr) ** 2))),
        "premature_beats": int(ectopic.sum() // 2),
        "rr_irregularity": float(np.median(np.abs(np.diff(kept))) / np.mean(kept)),
    }


# --- Delineation ---------------------------------------------------------------------------------------
def _beats(signal: np.ndarray, peaks: np.ndarray, before: int, after: int) -> np.ndarray:
    usable = peaks[(peaks >= before) & (peaks + after < len(signal))]
    if len(usable) == 0:
        return np.zeros((0, before + after))
    index = usable[:, None] + np.arange(-before, after)[None, :]
    return signal[index]


def median_beats(filtered: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """(12, window) median beat per lead, R at index round(BEAT_BEFORE * FS)."""
    before, after = round(BEAT_BEFORE * FS), round(BEAT_AFTER * FS)
    rows = []
    for signal in filtered:
        beats = _beats(signal, peaks, before, after)
        rows.append(np.median(beats, axis=0) if len(beats) else np.full(before + after, np.nan))
    return np.stack(rows)


def _polarity(beat: np.ndarray, r_index: int) -> int:
    """+1 when the lead's dominant QRS deflection is upward, -1 when downward (aVR, often V1)."""
    half = round(0.05 * FS)
    qrs = beat[r_index - half : r_index + half]
    return 1 if np.nanmax(qrs) >= -np.nanmin(qrs) else -1


def _delineate_lead(signal: np.ndarray, peaks: np.ndarray) -> dict[str, np.ndarray] | None:
    """neurokit2's fiducials (sample indices, NaN where missing) for one lead, R snapped to the lead."""
    half = round(0.05 * FS)
    snapped = np.array([p - half + int(np.argmax(signal[p - half : p + half])) for p in peaks])
    # Imported here, not with the module: neurokit2 brings scikit-learn, scipy.stats and pandas (about
    # 3 s and 160 MB), and web processes import this module only to ask what the provider offers (the
    # exam page asks which providers explain suggestions by occlusion).
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():  # neurokit2 warns per beat it cannot delineate: expected
            warnings.simplefilter("ignore")
            _, waves = nk.ecg_delineate(signal, snapped, sampling_rate=int(FS), method="prominence")
    except (ValueError, IndexError, KeyError, ZeroDivisionError):
        return None
    if not all(key in waves for key in FIDUCIALS):
        return None
    out = {key: np.asarray(waves[key], dtype=float) for key in FIDUCIALS}
    return out if all(len(value) == len(peaks) for value in out.values()) else None


def _median_ms(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) * 1000.0 / FS if len(finite) else None


def intervals(filtered: np.ndarray, peaks: np.ndarray, beats: np.ndarray) -> dict[str, Any]:
    """PR, QRS, QT and the QRS window (ms around R): per-lead medians over beats, then the median over
    leads, except the QRS and QT, which span the leads (_global_qrs)."""
    r_index = round(BEAT_BEFORE * FS)
    half = round(0.05 * FS)
    inner = peaks[(peaks >= half) & (peaks + half < filtered.shape[1])]
    per_lead: dict[str, list[float]] = {
        "pr": [],
        "qrs": [],
        "qt": [],
        "onset": [],
        "offset": [],
        "t_offset": [],
    }
    for lead, signal in enumerate(filtered):
        if not np.isfinite(beats[lead]).all():
            continue
        waves = _delineate_lead(_polarity(beats[lead], r_index) * signal, inner)
        if waves is None:
            continue
        p_on, r_on, r_off, t_off = (waves[key] for key in FIDUCIALS)
        pr = r_on - p_on
        for key, values in (
            # A lead's PR under MIN_LEAD_PR_MS is its P onset placed inside the P wave (the P wave alone
            # lasts about that long): that lead has no PR to give.
            ("pr", np.where(pr * 1000.0 / FS >= MIN_LEAD_PR_MS, pr, np.nan)),
            ("qrs", r_off - r_on),
            ("qt", t_off - r_on),
            ("onset", r_on - inner),
            ("offset", r_off - inner),
            ("t_offset", t_off - inner),
        ):
            value = _median_ms(values)
            if value is not None:
                per_lead[key].append(value)

    def across(key: str) -> float | None:  # half the leads must agree to call it measured
        values = per_lead[key]
        return float(np.median(values)) if len(values) >= len(STANDARD_LEADS) // 2 else None

    out = {key: across(key) for key in per_lead}
    out.update(_global_qrs(per_lead, out))
    return out


# The QRS as carts measure it: from the earliest onset to the latest offset over the leads, since a lead
# sees the QRS begin or end only where the heart's vector has a component along it, and most leads are
# flat for part of it. The median of each lead's own QRS was shorter than the cart's on each of seven real
# records (25 ms at the median; bench/measurements.py). The second earliest and second latest (the 1/11
# and 10/11 quantiles of 12 leads) stand for them, so that one lead's misplaced fiducial does not widen
# every QRS. QT runs from that onset to the leads' median T offset: T ends clearly in most leads, and
# the latest T offset is where a single lead's wave-end error shows most.
GLOBAL_EDGE = 1 / 11


def _global_qrs(per_lead: dict[str, list[float]], medians: dict[str, float | None]) -> dict[str, float]:
    onsets, offsets = per_lead["onset"], per_lead["offset"]
    if medians["qrs"] is None or min(len(onsets), len(offsets)) < len(STANDARD_LEADS) // 2:
        return {}
    onset = float(np.quantile(onsets, GLOBAL_EDGE))
    offset = float(np.quantile(offsets, 1 - GLOBAL_EDGE))
    out = {"qrs": offset - onset}
    if medians["qt"] is not None and per_lead["t_offset"]:
        out["qt"] = float(np.median(per_lead["t_offset"])) - onset
    return out


def plausible_interval(value: float | None, low: float, high: float) -> float | None:
    return value if value is not None and low <= value <= high else None


# --- Amplitudes and axis -------------------------------------------------------------------------------
def qrs_amplitudes(beats: np.ndarray, onset_ms: float | None, offset_ms: float | None) -> dict[str, Any]:
    """Per-lead R (up), S (down) and net amplitudes and net area inside the QRS, baseline just before it."""
    r_index = round(BEAT_BEFORE * FS)
    start_s = onset_ms / 1000.0 if onset_ms is not None else DEFAULT_QRS[0]
    end_s = offset_ms / 1000.0 if offset_ms is not None else DEFAULT_QRS[1]
    start = max(r_index + round(start_s * FS), round(0.02 * FS))
    end = min(r_index + round(end_s * FS), beats.shape[1] - 1)
    terminal = max(start + 1, end - round(TERMINAL_QRS * FS))
    baseline = np.median(beats[:, start - round(0.02 * FS) : start + 1], axis=1)  # PR segment's end
    qrs = beats[:, start : end + 1] - baseline[:, None]
    return {
        "r": np.clip(qrs.max(axis=1), 0.0, None),
        "s": np.clip(-qrs.min(axis=1), 0.0, None),
        "ptp": qrs.max(axis=1) - qrs.min(axis=1),
        "area": qrs.sum(axis=1) / FS * 1000.0,  # mV*ms
        "terminal": (beats[:, terminal : end + 1] - baseline[:, None]).mean(axis=1),
    }


def frontal_axis(area: np.ndarray) -> float | None:
    """Frontal QRS axis from net QRS areas in I (0 deg) and aVF (+90 deg), in (-180, 180]."""
    lead_i, lead_avf = float(area[LEAD["I"]]), float(area[LEAD["aVF"]])
    if math.hypot(lead_i, lead_avf) < 1.0:  # < 1 mV*ms: an isoelectric frontal QRS, axis indeterminate
        return None
    return math.degrees(math.atan2(lead_avf, lead_i))
