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
from annotations.lib.lazy_imports import HEAVY_IMPORT

FS = 500.0  # internal sampling rate, Hz
LEAD = {name: index for index, name in enumerate(STANDARD_LEADS)}
LIMB = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL = ("V1", "V2", "V3", "V4", "V5", "V6")
MIN_RATE, MAX_RATE = 20.0, 250.0  # bpm outside which an R-peak series is treated as a detection failure
# An interval shorter than 85% of the median followed by one longer than 110% is a premature beat with
# its pause; those pairs are left out of the irregularity measure (occasional ectopy is not AF).
PREMATURE, PAUSE = 0.85, 1.10
BEAT_BEFORE, BEAT_AFTER = 0.30, 0.60  # s around R for median beats (covers PR and most of QT)
DEFAULT_QRS = (-0.05, 0.06)  # s around R when delineation found no QRS onset/offset
TERMINAL_QRS = 0.04  # s: the last 40 ms of QRS carry the bundle-branch-block morphology
FIDUCIALS = ("ECG_P_Onsets", "ECG_R_Onsets", "ECG_R_Offsets", "ECG_T_Offsets")
P_BEFORE = 0.5  # s before R in the median beats the P onset is looked for in: a PR of up to ~400 ms
P_SMOOTH_MS = 20.0  # the P wave has little above 15 Hz; a 20 ms mean keeps it and drops the ripple
P_ARM_MS = 60.0  # half a P wave: the bump detector compares each sample with the levels this far off
P_BACK_MS = 150.0  # how far before its peak a P wave may begin
P_KNEE_MS = 60.0  # the P's own upstroke is looked for this far before it reaches P_RISE of its height
P_RISE = 0.2
P_FALL, P_FALL_MS = 0.25, 40.0
P_LAST_MS = 30.0  # the P wave's centre lies at least this long before the QRS onset (a PR of 80 ms)
P_MIN_MV = 0.02  # a lead whose P stands less than this out of its baseline gives no onset
P_MIN_LEADS = 3
# The previous beat's T wave ends no earlier than this times sqrt(RR) after its R (Bazett's QT at a QTc
# of 400 ms), or than the measured T offset if that is later: the P wave is looked for after it.
T_END_BAZETT = 0.40
NORMAL_QRS_MS = 100.0


# --- Signal conditioning ------------------------------------------------------------------------------
def to_internal_rate(signals: np.ndarray, sampling_rate: float) -> np.ndarray:
    return resample(signals, sampling_rate, FS)


def band_pass(signals: np.ndarray) -> np.ndarray:
    """0.5-40 Hz, 2nd-order Butterworth run forward and back: zero phase, so fiducials do not move."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import butter, sosfiltfilt  # about 1 s to import: here, as neurokit2 (see below)

    sos = butter(2, [0.5, 40.0], btype="bandpass", fs=FS, output="sos")
    filtered: np.ndarray = sosfiltfilt(sos, signals, axis=1)
    return filtered


# --- Rhythm ---------------------------------------------------------------------------------------------
def _plausible(peaks: np.ndarray) -> bool:
    if len(peaks) < 3:
        return False
    rate = 60.0 * FS / float(np.mean(np.diff(peaks)))
    return MIN_RATE <= rate <= MAX_RATE


def detect_r_peaks(filtered: np.ndarray, quality: list[str]) -> tuple[np.ndarray, str | None]:
    """R peaks on the QRS energy of all 12 leads (annotations/lib/ecg/qrs.py says why not neurokit2's
    single-lead detectors), the loudest lead left out at each instant: one lead's electrode artefacts
    made beats of their own (and hid a premature beat) on a labelled record; "all" names where they
    were found."""
    peaks = qrs_peaks(filtered, FS, skip_loudest=True)
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
    with HEAVY_IMPORT:  # lib.lazy_imports says why
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


# Per lead, then across leads: the loop and the across-lead medians read one set of fiducials.
def intervals(filtered: np.ndarray, peaks: np.ndarray, beats: np.ndarray) -> dict[str, Any]:
    """QRS, QT and the QRS window (ms around R) from per-lead medians over beats and the median over
    leads, except the QRS and QT, which span the leads (_global_qrs); then the PR from the median beats
    (pr_from_median_beats says why not from the per-lead delineation)."""
    r_index = round(BEAT_BEFORE * FS)
    half = round(0.05 * FS)
    inner = peaks[(peaks >= half) & (peaks + half < filtered.shape[1])]
    per_lead: dict[str, list[float]] = {"qrs": [], "qt": [], "onset": [], "offset": [], "t_offset": []}
    for lead, signal in enumerate(filtered):
        if not np.isfinite(beats[lead]).all():
            continue
        waves = _delineate_lead(_polarity(beats[lead], r_index) * signal, inner)
        if waves is None:
            continue
        _, r_on, r_off, t_off = (waves[key] for key in FIDUCIALS)
        for key, values in (
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

    out: dict[str, Any] = {key: across(key) for key in per_lead}
    out.update(_global_qrs(per_lead, out))
    # The QRS edges of the median beat's spatial velocity: where the per-lead delineation fails (a lead
    # off, a noisy strip), the rhythm criteria still need a QRS width and the P wave a QRS onset.
    out["pr"] = out["p_onset"] = out["p_centre"] = out["p_axis"] = None
    out["velocity_onset"] = out["velocity_offset"] = None
    if len(peaks) >= 3 and np.isfinite(beats).all():
        start, end, _ = qrs_span(beats, r_index)
        out["velocity_onset"] = (start - r_index) * 1000.0 / FS
        out["velocity_offset"] = (end - r_index) * 1000.0 / FS
        qrs_onset = out.get("qrs_onset", out["velocity_onset"])
        rr_ms = float(np.median(np.diff(peaks))) * 1000.0 / FS
        # A wide QRS delays the T wave's end by its excess width (the JT interval is what follows the
        # rate): a ventricular rhythm's broad T wave is no P wave.
        excess = max(0.0, out["velocity_offset"] - out["velocity_onset"] - NORMAL_QRS_MS)
        t_offset = max(out["t_offset"] or 0.0, _bazett_qt(rr_ms) + excess)
        found = p_wave(filtered, peaks, qrs_onset, rr_ms, t_offset, out["velocity_onset"])
        if found is not None:
            out["p_onset"], out["p_centre"], out["p_axis"] = found
            out["pr"] = qrs_onset - out["p_onset"]
    return out


VELOCITY_SMOOTH_MS = 10.0
# A QRS edge is where the spatial velocity falls to this share of the way from its floor to its peak (log
# scale): the onset rises out of a flat PR segment, while a QRS's end runs into an ST segment that may
# climb steeply (on a labelled RBBB, as steeply as the R' fell), so its share sits higher.
ONSET_SHARE, END_SHARE = 0.25, 0.40
END_QUIET_MS = 16.0


def qrs_span(segment: np.ndarray, r_index: int) -> tuple[int, int, float]:
    """(start, end) samples of the QRS of one beat (leads, window) and its peak spatial velocity (the
    sum over leads of |slope|, smoothed over VELOCITY_SMOOTH_MS): the span around the velocity peak where
    it stays above ONSET_SHARE and END_SHARE of the way from its floor to its peak on a log scale
    (velocities span two decades between baseline and R wave). Used where the per-lead delineation gives
    no QRS onset, for the conduction criteria (the per-lead offsets end an RBBB's QRS before its R'), and
    to compare one beat's QRS width with another's."""
    slope = np.abs(np.diff(segment, axis=1)).sum(axis=0)
    width = max(1, round(VELOCITY_SMOOTH_MS * FS / 1000.0))
    velocity = np.convolve(slope, np.ones(width) / width, mode="same")
    half = round(0.06 * FS)
    low = max(r_index - half, 0)
    peak = low + int(np.argmax(velocity[low : r_index + half]))
    floor = max(float(np.percentile(velocity, 5)), 1e-6)
    span = max(float(velocity[peak]), floor) / floor
    below = velocity < floor * span**ONSET_SHARE
    start = peak - int(np.argmax(below[:peak][::-1])) if below[:peak].any() else 0
    # The end must stay quiet for END_QUIET_MS: the dip between an S wave and an R' is no QRS end.
    quiet = round(END_QUIET_MS * FS / 1000.0)
    below = np.convolve(velocity < floor * span**END_SHARE, np.ones(quiet), mode="full")[quiet - 1 :]
    after = np.flatnonzero(below[peak:] >= quiet)
    end = peak + int(after[0]) if len(after) else len(velocity)
    return start, end, float(velocity[peak])


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
    out = {"qrs": offset - onset, "qrs_onset": onset, "qrs_offset": offset}
    if medians["qt"] is not None and per_lead["t_offset"]:
        out["qt"] = float(np.median(per_lead["t_offset"])) - onset
    return out


# --- PR: the P onset on the median beats ----------------------------------------------------------------
# neurokit2's "prominence" delineator places a P onset at the left base of the P peak's prominence within
# a 100 ms window centred on the peak (its max_p_basepoint_interval), i.e. never more than 50 ms before the
# peak, and on single noisy beats; the median over leads of such per-lead PRs read 197 and 194 ms on two
# labelled first-degree AV blocks whose median beats show about 258 and 226 ms (tests/suggestions/
# test_criteria_rhythm.py). Widening that window does not help: on a flat baseline the left base is the
# lowest noise sample, anywhere in it. So the P onset is read here on the 12-lead median beats, as a
# reader does with calipers, in three steps (a hand-written geometric rule, since no well-kept library
# delineates a P wave on averaged beats):
# 1. where the P wave is: the largest bump at the P's scale between the previous T wave's end and the QRS
#    onset, over all leads (a sample minus the mean of the levels P_ARM_MS either side: zero on a
#    baseline, flat or sloping, largest at a wave's centre);
# 2. in each lead where that P stands P_MIN_MV out of its surroundings, the P's onset is the knee before
#    its upstroke: the point farthest below the chord from P_KNEE_MS before the upstroke to the P peak
#    (the geometric corner a reader sees, whether the baseline before it is flat or still sloping down
#    from a T wave; the trapezium/chord idea of Vazquez-Seisdedos et al., IEEE TBME 2011, for T ends);
# 3. the median of those onsets over the leads (a lead where the P starts late or is biphasic is one of
#    several). The global PR runs from there to the QRS onset the leads give (_global_qrs), as the AHA/
#    ACCF/HRS 2009 recommendations (part I) ask of global intervals.
# On the carts' PRs in tests/data (148-164 ms) this is within 13 ms of each.
def _ms_samples(value_ms: float) -> int:
    return round(value_ms * FS / 1000.0)


def _p_beats(filtered: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, int]:
    """Median beats from P_BEFORE before R to 0.1 s after it, smoothed over P_SMOOTH_MS; R's index."""
    before, after = round(P_BEFORE * FS), round(0.1 * FS)
    usable = peaks[(peaks >= before) & (peaks + after < filtered.shape[1])]
    if len(usable) < 3:
        return np.zeros((0, 0)), before
    index = usable[:, None] + np.arange(-before, after)[None, :]
    beats = np.median(filtered[:, index], axis=1)
    width = _ms_samples(P_SMOOTH_MS) + 1
    kernel = np.ones(width) / width
    return np.array([np.convolve(row, kernel, mode="same") for row in beats]), before


def _p_centre(beats: np.ndarray, t_end: int, qrs_on: int) -> int | None:
    """Sample of the largest P-sized bump over the leads between the T end and the QRS onset."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import find_peaks

    arm = _ms_samples(P_ARM_MS)
    times = np.arange(max(t_end + _ms_samples(40.0), 0), qrs_on - _ms_samples(P_LAST_MS) + 1)
    if len(times) < _ms_samples(20.0):
        return None
    left = np.maximum(times - arm, max(t_end, 0))
    right = np.minimum(times + arm, qrs_on - _ms_samples(10.0))  # the Q wave is no part of the P
    bump = np.sqrt(((beats[:, times] - (beats[:, left] + beats[:, right]) / 2) ** 2).sum(axis=0))
    candidates, _ = find_peaks(bump)
    return int(times[candidates[np.argmax(bump[candidates])]]) if len(candidates) else None


def _lead_p_onset(x: np.ndarray, centre: int, t_end: int, qrs_on: int) -> int | None:
    """One lead's P onset: the knee before the upstroke of its P peak near centre (either polarity). A
    peak the signal does not fall back from by P_FALL of its height within P_FALL_MS is no P wave's: the
    tail of a T wave still on its way to the baseline."""
    start = max(centre - _ms_samples(P_BACK_MS), t_end, 0)
    look = max(centre - _ms_samples(50.0), start + _ms_samples(20.0))
    best: tuple[float, np.ndarray] = (0.0, np.zeros(0))
    for sign in (1.0, -1.0):
        peak = look + int(np.argmax(sign * x[look : centre + _ms_samples(10.0) + 1]))
        y = sign * x[start : peak + 1]
        height = float(y[-1] - y.min()) if len(y) else 0.0
        after = sign * x[min(peak + _ms_samples(P_FALL_MS), qrs_on - 1)]
        if after > y[-1] - P_FALL * height:
            continue
        if height > best[0]:
            best = (height, y)
    height, y = best
    if height < P_MIN_MV:
        return None
    rising = np.flatnonzero(y <= y.min() + P_RISE * height)
    first = max(0, int(rising[-1]) - _ms_samples(P_KNEE_MS))
    segment = y[first:]
    if len(segment) < 3:
        return None
    chord = np.linspace(segment[0], segment[-1], len(segment))
    return start + first + int(np.argmax(chord - segment))


def _bazett_qt(rr_ms: float) -> float:
    return T_END_BAZETT * math.sqrt(rr_ms / 1000.0) * 1000.0


def p_wave(
    filtered: np.ndarray,
    peaks: np.ndarray,
    qrs_onset_ms: float,
    rr_ms: float,
    t_offset_ms: float | None,
    earliest_onset_ms: float | None = None,
) -> tuple[float, float, float | None] | None:
    """(P onset, P centre) in ms from R on the median beats and the frontal P axis in degrees (None
    when indeterminate), or None where no P wave stands out in enough leads (atrial fibrillation, a P
    hidden in the T wave at a fast rate). earliest_onset_ms: where the QRS may begin before
    qrs_onset_ms (a delta wave's slow start): the P's area for its axis stops before it."""
    beats, r_index = _p_beats(filtered, peaks)
    if not len(beats):
        return None
    qt_ms = max(t_offset_ms or 0.0, _bazett_qt(rr_ms))
    t_end = r_index + _ms_samples(qt_ms - rr_ms)
    qrs_on = r_index + _ms_samples(qrs_onset_ms)
    centre = _p_centre(beats, t_end, qrs_on)
    if centre is None:
        return None
    onsets = [_lead_p_onset(lead, centre, t_end, qrs_on) for lead in beats]
    found = [onset for onset in onsets if onset is not None]
    if len(found) < P_MIN_LEADS:
        return None
    to_ms = 1000.0 / FS
    onset = round(float(np.median(found)))
    # The P wave's net area from its onset to as far past its centre (or to the QRS), against the line
    # joining its two ends (a P on the end of a T wave rides on a slope): its frontal axis, as the QRS
    # axis is read (frontal_axis).
    first_qrs = min(qrs_on, r_index + _ms_samples(earliest_onset_ms if earliest_onset_ms else qrs_onset_ms))
    end = max(min(2 * centre - onset, first_qrs - _ms_samples(10.0)), onset + 1)
    chord = np.linspace(beats[:, onset], beats[:, end], end - onset + 1, axis=1)
    area = (beats[:, onset : end + 1] - chord).sum(axis=1) * to_ms
    return (onset - r_index) * to_ms, (centre - r_index) * to_ms, frontal_axis(area, minimum=0.5)


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


def frontal_axis(area: np.ndarray, minimum: float = 1.0) -> float | None:
    """Frontal axis from net areas in I (0 deg) and aVF (+90 deg), in (-180, 180]; None under `minimum`
    mV*ms (an isoelectric frontal QRS, or P wave: axis indeterminate)."""
    lead_i, lead_avf = float(area[LEAD["I"]]), float(area[LEAD["aVF"]])
    if math.hypot(lead_i, lead_avf) < minimum:
        return None
    return math.degrees(math.atan2(lead_avf, lead_i))
