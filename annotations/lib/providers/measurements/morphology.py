"""Per-lead features of the median beat, as a reader measures them with calipers: P, Q, R, S and R'
amplitudes and durations, the ST level at the J point and 60 ms after it, the T wave, and the few global
marks they hang on (QRS onset, J point, T end, P onset). morphology_criteria.py turns them into scores.

Marks. The QRS onset and the J point are common to all leads, as the AHA/ACCF/HRS 2009 recommendations
(part I) ask of global measurements: they are found on the 12-lead median beat itself, where its spatial
velocity (the sum over leads of the absolute slope) rises out of and falls back to its floor. This is
written here rather than taken from neurokit2 because neurokit2 delineates one lead of the strip at a
time; its per-lead QRS offsets, and their median, fell 10-40 ms inside the QRS on real records of
tests/data/ecg-labelled (the S wave's upstroke, an RBBB's R'), where an ST level measured there is the
QRS itself. Each edge is where the velocity crosses EDGE_SHARE of the way from its floor to its peak on
a log scale: velocities span two decades between the ST segment and the R wave, and a linear fraction of
the peak either cuts a slurred QRS end short or runs into a steep ST segment.

Baseline. Every QRS and ST amplitude is measured from the isoelectric PR segment just before the QRS
onset (AHA/ACCF/HRS 2009, part VI: the QRS onset is the reference for ST deviation); P amplitudes from
the level just before the P onset. ST levels are given in mm at standard gain (1 mm = 0.1 mV), as the
criteria are written.

Two median beats. The marks (and J waves) are found on the provider's 0.5-40 Hz strip, whose spatial
velocity carries no mains or muscle noise; amplitudes and ST/T levels are read on a 0.5-150 Hz one
(wide_band says why). Both filters are zero-phase, which the AHA 2007 recommendations (part I) accept for
ST measurement with a 0.5 Hz high-pass: a 0.2 mV ST plateau comes through within 0.02 mV.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.lazy_imports import HEAVY_IMPORT
from annotations.lib.providers.measurements.waves import FS, LEAD

# The median beat's window around R, in s: wider before R than waves.median_beats' so that the P wave of a
# PR up to ~400 ms (a first-degree AV block) is inside it, as in waves.p_wave.
BEFORE, AFTER = 0.50, 0.60
R_INDEX = round(BEFORE * FS)  # the R peak's sample in a median beat
MM_PER_MV = 10.0
SMOOTH_MS = 10.0  # spatial velocity is averaged over this: a QRS notch should not end the QRS
EDGE_SHARE = 0.25  # of the log distance from the velocity floor to its peak, where a QRS edge is
ONSET_SEARCH_MS, OFFSET_SEARCH_MS = 150.0, 250.0  # how far from the velocity peak an edge may lie
# The lowest velocity floor an edge is placed from, mV/ms over 12 leads: the ST segment's own slope on real
# median beats (0.005-0.012). A noise-free synthetic beat has a floor near zero, which would put its edges
# far out on the waves' tails.
VELOCITY_FLOOR = 0.004
QUIET_MS = 10.0  # the velocity must stay under the edge threshold this long after the J point
BASELINE_MS = (-16.0, -4.0)  # window before the QRS onset that is the isoelectric reference
P_BASELINE_MS = 10.0  # before the P onset
P_END_GAP_MS = 6.0  # the P window ends this long before the QRS onset
P_EDGE_SHARE = 0.5  # _p_span says why it is not EDGE_SHARE
ST_LATE_MS = 60.0  # the second ST level, J + 60 ms
LEVEL_HALF_MS = 4.0  # a level at a mark is the mean over +/- this, so one noisy sample does not decide
T_START_MS = 60.0  # the T wave is looked for from J + this to the T end
T_DEFAULT_MS = 360.0  # after J, when the T end is unknown
# A right bundle branch block's delayed right-ventricular forces fill the QRS's last TERMINAL_MS; its
# axis is read on the first INITIAL_MS, which the block leaves unchanged.
INITIAL_MS, TERMINAL_MS = 60.0, 40.0
# A deflection smaller than this is not a wave of its own (our choice: a few times a median beat's 10-30
# microvolts of noise, and half the 0.1 mV a Q wave must reach for the infarction criteria).
MIN_WAVE_MV = 0.05
# P notch (P mitrale): two peaks at least 40 ms apart (SBC 2016/2022 guideline on ECG reports), each
# standing out of the trough between them by this much.
P_NOTCH_MS, P_NOTCH_MV = 40.0, 0.02
MIN_P_PHASE_MV = 0.02  # the positive phase a terminal negative P phase in V1 must follow
# J wave (early repolarisation, Macfarlane et al., JACC 2015): a notch or slur on the R downslope whose
# peak is at least 0.1 mV; a notch stands out of the downslope by this much.
J_NOTCH_MV = 0.03
J_WAVE_MS = 40.0  # a J wave lies in the QRS's last 40 ms


def _ms(value: float) -> int:
    return round(value * FS / 1000.0)


@dataclass(frozen=True)
class Marks:
    """Sample indices in the median beat (R at R_INDEX); None where not found."""

    qrs_on: int
    j: int
    t_end: int | None
    p_on: int | None

    def ms(self, index: int | None) -> float | None:
        """An index as ms from the R peak."""
        return None if index is None else (index - R_INDEX) * 1000.0 / FS


@dataclass(frozen=True)
class LeadFeatures:
    """One value per lead, in STANDARD_LEADS order: amplitudes in mV (q, s as positive depths), ST levels
    in mm, durations and times in ms, NaN where a lead has no such wave."""

    q_mv: np.ndarray
    q_ms: np.ndarray
    r_mv: np.ndarray  # the tallest positive deflection of the QRS
    s_mv: np.ndarray  # the deepest negative deflection of the QRS (a QS counts)
    r_prime_mv: np.ndarray  # a second positive wave after an S (rSR'), NaN without one
    qrs_area: np.ndarray  # net QRS area, mV*ms
    initial_area: np.ndarray  # net area of the QRS's first INITIAL_MS, mV*ms
    terminal_mv: np.ndarray  # mean level of the QRS's last TERMINAL_MS (the bundle-branch forces)
    r_peak_ms: np.ndarray  # R peak time: QRS onset to the peak of the last R wave (AHA 2009, part III)
    st_j_mm: np.ndarray
    st_60_mm: np.ndarray
    t_mv: np.ndarray  # the T wave's largest deflection, signed
    p_mv: np.ndarray  # largest positive P deflection
    p_neg_mv: np.ndarray  # largest negative P deflection (negative number)
    j_wave_mv: np.ndarray  # peak of a notch or slur on the R downslope, NaN without one

    def at(self, name: str, lead: str) -> float:
        return float(getattr(self, name)[LEAD[lead]])


@dataclass(frozen=True)
class Morphology:
    marks: Marks
    leads: LeadFeatures
    p_ms: float | None  # P duration over the leads
    p_notched: bool  # lead II's P has two peaks >= 40 ms apart
    ptf_v1: float | None  # P terminal force in V1, mm*s (negative: depth times duration)

    @property
    def qrs_ms(self) -> float:
        """QRS duration over the leads, onset to J on the median beat."""
        return (self.marks.j - self.marks.qrs_on) * 1000.0 / FS


# --- Global marks ------------------------------------------------------------------------------------
def spatial_velocity(beats: np.ndarray) -> np.ndarray:
    """Sum over leads of |slope| in mV/ms, smoothed over SMOOTH_MS, one value per sample."""
    slope = np.abs(np.diff(beats, axis=1)).sum(axis=0) * FS / 1000.0
    width = max(1, _ms(SMOOTH_MS))
    smooth = np.convolve(slope, np.ones(width) / width, mode="same")
    return np.append(smooth, smooth[-1])


def _threshold(floor: float, peak: float) -> float:
    floor = max(floor, VELOCITY_FLOOR)
    return float(floor * (peak / floor) ** EDGE_SHARE)


def qrs_marks(beats: np.ndarray) -> tuple[int, int] | None:
    """(QRS onset, J point) as sample indices of the median beat, or None when the QRS has no clear
    edge (a flat beat, or a velocity that never settles: a QRS running into its T wave)."""
    velocity = spatial_velocity(beats)
    lo, hi = R_INDEX - _ms(60.0), R_INDEX + _ms(60.0)
    peak = lo + int(np.argmax(velocity[lo:hi]))
    if velocity[peak] <= 0:
        return None
    start = max(1, peak - _ms(ONSET_SEARCH_MS))
    before = velocity[start:peak]
    quiet = np.flatnonzero(before < _threshold(float(before.min()), float(velocity[peak])))
    if not len(quiet):
        return None
    onset = start + int(quiet[-1]) + 1
    end = min(len(velocity), peak + _ms(OFFSET_SEARCH_MS))
    after = velocity[peak:end]
    below = after < _threshold(float(after.min()), float(velocity[peak]))
    hold = _ms(QUIET_MS)
    # The J point: where the velocity drops under the threshold and stays under it for QUIET_MS, so that
    # a dip between two parts of a notched QRS does not end it.
    for index in np.flatnonzero(below):
        if below[index : index + hold].all() and index + hold <= len(below):
            return onset, peak + int(index)
    return None


# --- Per-lead features -----------------------------------------------------------------------------
def _level(x: np.ndarray, index: int) -> np.ndarray:
    """Mean of (leads, samples) x over +/- LEVEL_HALF_MS around index."""
    half = _ms(LEVEL_HALF_MS)
    return x[:, max(0, index - half) : index + half + 1].mean(axis=1)


def _waves(x: np.ndarray) -> list[tuple[int, float, int, int]]:
    """(sign, peak value, start, end) of the deflections of one lead's QRS between zero crossings, the
    ones under MIN_WAVE_MV dropped and neighbours of one sign merged."""
    sign = np.sign(x)
    cuts = np.flatnonzero(np.diff(sign) != 0) + 1
    edges = [0, *cuts.tolist(), len(x)]
    found: list[tuple[int, float, int, int]] = []
    for start, end in itertools.pairwise(edges):
        part = x[start:end]
        peak = float(part.max()) if part.max() > -part.min() else float(part.min())
        if abs(peak) < MIN_WAVE_MV:
            continue
        polarity = 1 if peak > 0 else -1
        if found and found[-1][0] == polarity:
            _, previous, first, _ = found[-1]
            peak = peak if abs(peak) > abs(previous) else previous
            found[-1] = (polarity, peak, first, end)
        else:
            found.append((polarity, peak, start, end))
    return found


def _qrs_lead(x: np.ndarray) -> dict[str, float]:
    """Q, R, S, R' and R peak time of one lead's QRS (x: baseline-subtracted, from onset to J)."""
    waves = _waves(x)
    out = {
        "q_mv": np.nan,
        "q_ms": np.nan,
        "r_mv": max(float(x.max()), 0.0),
        "s_mv": max(float(-x.min()), 0.0),
        "r_prime_mv": np.nan,
        "r_peak_ms": np.nan,
    }
    if waves and waves[0][0] < 0:
        _, depth, start, end = waves[0]
        out["q_mv"], out["q_ms"] = -depth, (end - start) * 1000.0 / FS
    positive = [index for index, wave in enumerate(waves) if wave[0] > 0]
    if positive:
        last = waves[positive[-1]]
        out["r_peak_ms"] = (last[2] + int(np.argmax(x[last[2] : last[3]]))) * 1000.0 / FS
        # R': a positive wave after the first R and a negative wave between them.
        if len(positive) >= 2:
            out["r_prime_mv"] = waves[positive[1]][1]
    return out


def _j_wave(x: np.ndarray, r_peak: int, j: int) -> float:
    """Peak (mV) of a notch or slur on the R downslope of one lead, NaN without one (Macfarlane 2015:
    a notch lies entirely above the baseline; a slur is an abrupt easing of the downslope that starts
    above it). x: baseline-subtracted beat; r_peak, j: indices."""
    end = min(len(x) - 1, j + _ms(10.0))
    if end - r_peak < _ms(8.0) or x[r_peak] < 2 * MIN_WAVE_MV:
        return np.nan
    down = x[r_peak : end + 1]
    terminal = max(1, j - _ms(J_WAVE_MS) - r_peak)  # a J wave ends the QRS: notches before are not one
    # Notch: a local maximum after the R peak that stands out of the trough before it, both above zero.
    for index in range(max(2, terminal), len(down) - 1):
        if down[index] >= down[index - 1] and down[index] > down[index + 1]:
            trough = float(down[:index].min())
            if trough > 0 and down[index] - trough >= J_NOTCH_MV:
                return float(down[index])
    # Slur: a shoulder on the downslope, the descent easing to under a third of its steepest and then
    # steepening again, while the signal is still at least 0.1 mV up. An R wave's own tail eases
    # without steepening again; the ST segment's start is not followed by a descent.
    slope = np.diff(down)
    steepest = int(np.argmin(slope))
    if slope[steepest] >= 0:
        return np.nan
    span = _ms(20.0)
    for index in range(max(steepest + 1, terminal), len(slope) - 1):
        easing = slope[index] >= slope[index - 1] and slope[index] > slope[index + 1]
        if not easing or slope[index] <= slope[steepest] / 3 or down[index] < 0.1:
            continue
        again = float(slope[index + 1 : index + 1 + span].min())
        if again - slope[index] <= 0.2 * slope[steepest]:
            return float(down[index])
    return np.nan


def _t_wave(x: np.ndarray, j: int, t_end: int | None) -> np.ndarray:
    """Per lead, the T wave's peak level (from the PR baseline, signed): the sample between J +
    T_START_MS and the T end that stands farthest from the chord joining the two, so that a depressed
    ST segment rising into an upright T (sinus tachycardia) is not read as the T wave."""
    start = j + _ms(T_START_MS)
    stop = t_end if t_end is not None and t_end > start + _ms(40.0) else j + _ms(T_DEFAULT_MS)
    stop = min(stop, x.shape[1] - 1)
    if stop - start < _ms(40.0):
        return np.full(x.shape[0], np.nan)
    window = x[:, start : stop + 1]
    chord = window[:, :1] + (window[:, -1:] - window[:, :1]) * np.linspace(0.0, 1.0, window.shape[1])
    peak = np.argmax(np.abs(window - chord), axis=1)
    return window[np.arange(x.shape[0]), peak]


def _p_span(beats: np.ndarray, p_on: int | None, qrs_on: int) -> tuple[int, int] | None:
    """(start, end) of the P wave over the leads: where the spatial velocity between the P onset
    (from the PR interval) and the QRS onset stands above P_EDGE_SHARE of its log range. The P wave's
    velocity is only 3-10 times its floor, so the share is higher than the QRS's: at a quarter, the
    slow return of an atrial repolarisation (Ta) wave in the PR segment counted as P."""
    stop = qrs_on - _ms(P_END_GAP_MS)
    if p_on is None or stop - p_on < _ms(30.0):
        return None
    start = max(0, p_on - _ms(P_BASELINE_MS))
    velocity = spatial_velocity(beats)[start:stop]
    threshold = float(velocity.min()) * (float(velocity.max()) / max(float(velocity.min()), 1e-4)) ** (
        P_EDGE_SHARE
    )
    above = np.flatnonzero(velocity >= threshold)
    if not len(above) or above[-1] - above[0] < _ms(30.0):
        return None
    return start + int(above[0]), start + int(above[-1])


def _p_features(
    beats: np.ndarray, p_on: int | None, span: tuple[int, int] | None
) -> tuple[dict[str, np.ndarray], float | None, bool]:
    """Per-lead P amplitudes from the level before the P onset, Morris's P terminal force in V1, and
    whether lead II's P wave is notched."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import find_peaks

    if p_on is None or span is None:
        empty = np.full(len(beats), np.nan)
        return {"p_mv": empty, "p_neg_mv": empty.copy()}, None, False
    first, last = min(p_on, span[0]), span[1]
    base = beats[:, max(0, first - _ms(P_BASELINE_MS)) : first + 1].mean(axis=1)
    p = beats[:, first : last + 1] - base[:, None]
    lead_ii = p[LEAD["II"]]
    peaks, _ = find_peaks(lead_ii, prominence=P_NOTCH_MV, distance=_ms(P_NOTCH_MS))
    notched = len(peaks) >= 2 and bool(lead_ii[peaks].min() > MIN_WAVE_MV)
    amplitudes = {"p_mv": p.max(axis=1), "p_neg_mv": p.min(axis=1)}
    return amplitudes, _terminal_force(p[LEAD["V1"]]), notched


def _terminal_force(v1: np.ndarray) -> float:
    """Morris's P terminal force in V1 (mm*s, negative): depth times duration of the P wave's negative
    phase after its positive one; 0.0 when the P wave ends positive or has no positive phase of
    MIN_P_PHASE_MV before it (a P wave negative from its start is not a terminal force).
    v1 runs from the P onset to the P end, on a baseline drawn from the level before the P wave to the
    level at its end (the PR segment sits lower than the TP segment by the atrial repolarisation
    wave, which would otherwise lengthen every negative phase into the PR segment). The phase spans
    the samples deeper than a tenth of its depth, so that baseline noise does not lengthen it."""
    ends = _ms(LEVEL_HALF_MS)
    line = np.linspace(float(v1[: ends + 1].mean()), float(v1[-ends - 1 :].mean()), len(v1))
    wave = v1 - line
    lowest = int(np.argmin(wave))
    if wave[lowest] >= 0 or float(wave[:lowest].max(initial=0.0)) < MIN_P_PHASE_MV:
        return 0.0
    below = wave < 0.1 * wave[lowest]
    first = lowest
    while first > 0 and below[first - 1]:
        first -= 1
    last = lowest
    while last < len(wave) - 1 and below[last + 1]:
        last += 1
    return float(wave[lowest]) * MM_PER_MV * (last - first + 1) / FS


def median_beat(filtered: np.ndarray, peaks: np.ndarray) -> np.ndarray | None:
    """(12, window) sample-wise median over the beats whose BEFORE..AFTER window fits in the strip,
    R at R_INDEX; None with fewer than 3 such beats."""
    before, after = R_INDEX, round(AFTER * FS)
    usable = peaks[(peaks >= before) & (peaks + after <= filtered.shape[1])]
    if len(usable) < 3:
        return None
    median: np.ndarray = np.median(filtered[:, usable[:, None] + np.arange(-before, after)[None, :]], axis=1)
    return median


def wide_band(internal: np.ndarray) -> np.ndarray:
    """0.5-150 Hz (the AHA 2007 part I bandwidth for adults) with 50 and 60 Hz mains notches, zero
    phase. The provider's 0.5-40 Hz strip lowers narrow R and S waves by 5-15% (Sokolow-Lyon 5% at the
    median of the labelled records), and the voltage criteria were set on wider-band recordings."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import butter, filtfilt, iirnotch, sosfiltfilt

    out: np.ndarray = sosfiltfilt(
        butter(2, [0.5, min(150.0, 0.45 * FS)], btype="bandpass", fs=FS, output="sos"), internal
    )
    for mains in (50.0, 60.0):
        b, a = iirnotch(mains, 30.0, fs=FS)
        out = filtfilt(b, a, out, axis=1)
    return out


def measure(
    internal: np.ndarray,
    filtered: np.ndarray,
    peaks: np.ndarray,
    *,
    pr_ms: float | None,
    qt_ms: float | None,
) -> Morphology | None:
    """Features of the median beat of a (12, n) strip at FS Hz: internal as resampled, filtered as the
    provider band-passed it (0.5-40 Hz), peaks its R peaks. The marks and the J wave are found on the
    0.5-40 Hz beat, whose spatial velocity has no mains or muscle noise; amplitudes and levels are read
    on the wide-band beat (wide_band says why). pr_ms and qt_ms place the P onset and the T end from the
    QRS onset found here; None leaves out what needs them. None when there is no median beat or its
    QRS has no edges to measure from."""
    smooth = median_beat(filtered, peaks)
    if smooth is None or smooth.shape[0] != len(STANDARD_LEADS) or not np.isfinite(smooth).all():
        return None
    found = qrs_marks(smooth)
    if found is None:
        return None
    qrs_on, j = found
    if qrs_on - _ms(-BASELINE_MS[0]) < 0 or j + _ms(ST_LATE_MS + LEVEL_HALF_MS) >= smooth.shape[1]:
        return None
    beats = median_beat(wide_band(internal), peaks)
    if beats is None or not np.isfinite(beats).all():
        return None
    t_end = qrs_on + _ms(qt_ms) if qt_ms else None
    p_on = qrs_on - _ms(pr_ms) if pr_ms else None
    p_on = p_on if p_on is not None and p_on >= _ms(P_BASELINE_MS) else None  # P before the window
    marks = Marks(qrs_on, j, t_end if t_end is None or t_end < beats.shape[1] else None, p_on)
    window = slice(qrs_on + _ms(BASELINE_MS[0]), qrs_on + _ms(BASELINE_MS[1]) + 1)
    x = beats - beats[:, window].mean(axis=1)[:, None]
    x_smooth = smooth - smooth[:, window].mean(axis=1)[:, None]
    per_lead = [_qrs_lead(x[lead, qrs_on : j + 1]) for lead in range(len(x))]
    r_peaks = [qrs_on + int(np.argmax(x_smooth[lead, qrs_on : j + 1])) for lead in range(len(x))]
    span = _p_span(smooth, p_on, qrs_on)
    p, ptf, notched = _p_features(smooth, p_on, span)
    p_ms = (span[1] - span[0]) * 1000.0 / FS if span else None
    leads = LeadFeatures(
        **{key: np.array([row[key] for row in per_lead]) for key in per_lead[0]},
        qrs_area=x[:, qrs_on : j + 1].sum(axis=1) * 1000.0 / FS,
        initial_area=x[:, qrs_on : min(j, qrs_on + _ms(INITIAL_MS)) + 1].sum(axis=1) * 1000.0 / FS,
        terminal_mv=x[:, max(qrs_on, j - _ms(TERMINAL_MS)) : j + 1].mean(axis=1),
        st_j_mm=_level(x, j) * MM_PER_MV,
        st_60_mm=_level(x, j + _ms(ST_LATE_MS)) * MM_PER_MV,
        t_mv=_t_wave(x, j, marks.t_end),
        j_wave_mv=np.array([_j_wave(x_smooth[lead], r_peaks[lead], j) for lead in range(len(x))]),
        **p,
    )
    return Morphology(marks=marks, leads=leads, p_ms=p_ms, p_notched=notched, ptf_v1=ptf)
