"""Beat by beat: which beats are the dominant rhythm's, which are premature supraventricular or ventricular
beats, which are paced, and whether a P wave like the dominant one comes before each.

Each beat is compared with the dominant beat's template, as a reader compares complexes on the strip:
* the template is the median of the dominant family: the beat whose QRS (all 12 leads, -100..+120 ms
  around R) correlates r >= SAME_SHAPE with the most others, and those others (a medoid, so that a
  bigeminy's ectopic half does not blend into the template as a plain median over all beats would);
* a beat whose QRS correlates below SAME_SHAPE with it and is wider (WIDER times the template's QRS
  width, measured the same way on both), or correlates below ALIEN at any width, is ventricular: a
  premature ventricular complex is wide and of another morphology than the conducted beats (the
  thresholds are ours: no guideline gives a correlation);
* a beat of the dominant shape arriving early (its RR under PREMATURE times the local RR of dominant
  beats) is a supraventricular premature beat (the guidelines give no number for "early"; 15 % is our
  choice: beat-to-beat change in sinus rhythm at rest is a few per cent, and sinus
  arrhythmia's is gradual, which the local RR follows);
* a beat with a pacing spike just before its QRS is paced (pacing).
Correlation, not a trained classifier: the provider must run on one CPU in well under a second per exam
and explain each call with the numbers that made it (the criteria modules quote them).
Pure numpy and scipy, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotations.lib.lazy_imports import HEAVY_IMPORT
from annotations.lib.providers.measurements.waves import FS, LEAD, qrs_span

QRS_WINDOW_MS = (-100.0, 120.0)  # around R: the widest ventricular QRS and its alignment error
P_WINDOW_MS = 60.0  # half width of the P-wave window compared beat by beat
SAME_SHAPE = 0.80  # QRS correlation at and above which two beats have one morphology
ALIEN = 0.50  # below this a QRS is of another origin whatever its width
WIDER = 1.20  # a ventricular beat's QRS is at least this much wider than the dominant one's
PREMATURE = 0.85  # RR under this fraction of the local dominant RR: premature
LOCAL_BEATS = 5  # the local RR is the median over this many dominant intervals either side
P_SAME = 0.5  # a beat's P window correlates at least this much with the template's: the same P wave
MAX_LAG_MS = 10.0
EDGE_MS = 100.0  # beats are realigned by up to this much before their QRS is compared
NOT_QRS = 0.35  # a "beat" this much slower than the dominant QRS and unlike it is no QRS (genuine)
TOO_CLOSE_MS = 260.0  # nor is one unlike it this soon after a beat
FAMILY_TIE = 0.6
LABELS = ("N", "S", "V", "P")  # dominant, supraventricular premature, ventricular, paced


@dataclass(frozen=True)
class Beats:
    """Per beat (arrays of one length): R sample at FS, RR before it in ms (NaN for the first), label
    (LABELS), QRS correlation with the dominant template, QRS width relative to the template's, whether
    it came early, whether a P wave like the dominant beats' precedes it. p_snr: how consistently a P wave
    precedes the dominant beats (_p_waves), None where the median beat shows none to compare. template:
    (12, window) median of the dominant beats, R at -QRS_WINDOW_MS[0]."""

    peaks: np.ndarray
    rr_ms: np.ndarray
    labels: np.ndarray
    correlation: np.ndarray
    width_ratio: np.ndarray
    premature: np.ndarray
    p_wave: np.ndarray
    p_snr: float | None
    template: np.ndarray
    local_rr_ms: np.ndarray  # the local RR of dominant beats each interval is compared with
    complete: np.ndarray  # the beat's QRS window lies inside the strip

    def count(self, label: str) -> int:
        return int((self.labels == label).sum())

    def runs(self, label: str) -> list[tuple[int, int]]:
        """(first index, length) of each run of consecutive beats with this label."""
        out, start = [], None
        for index, value in enumerate([*self.labels.tolist(), None]):
            if value == label and start is None:
                start = index
            elif value != label and start is not None:
                out.append((start, index - start))
                start = None
        return out


def _samples(ms: float) -> int:
    return round(ms * FS / 1000.0)


def _windows(filtered: np.ndarray, peaks: np.ndarray, before: int, after: int) -> np.ndarray:
    """(beats, leads, window) segments, beats too near an edge padded with their edge values."""
    index = np.clip(peaks[:, None] + np.arange(-before, after)[None, :], 0, filtered.shape[1] - 1)
    return np.transpose(filtered[:, index], (1, 0, 2))


def _standardised(segments: np.ndarray) -> np.ndarray:
    """Each beat's leads concatenated, mean removed per lead, unit norm over the beat: dot = Pearson r."""
    centred = segments - segments.mean(axis=2, keepdims=True)
    flat = centred.reshape(len(segments), -1)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return flat / np.where(norm > 0, norm, 1.0)


def _dominant(qrs: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Indices of the dominant family: a medoid beat and its look-alikes. The medoid has the most
    look-alikes, or nearly (FAMILY_TIE of the most) and a faster QRS: where the R-peak detector took
    every T wave for a beat too, the QRS family and the T family are equally large, and the QRS is the
    fast one."""
    unit = _standardised(qrs)
    similar = unit @ unit.T >= SAME_SHAPE
    counts = similar.sum(axis=1)
    large = np.flatnonzero(counts >= FAMILY_TIE * counts.max())
    medoid = int(large[np.argmax(speed[large])])
    return np.flatnonzero(similar[medoid])


def _best_correlation(qrs: np.ndarray, template: np.ndarray, lag: int) -> np.ndarray:
    """Each beat's highest correlation with the template over shifts of up to lag samples."""
    inner = qrs.shape[2] - 2 * lag
    reference = _standardised(template[None, :, lag : lag + inner])[0]
    best = np.full(len(qrs), -1.0)
    for shift in range(0, 2 * lag + 1):
        best = np.maximum(best, _standardised(qrs[:, :, shift : shift + inner]) @ reference)
    return best


def qrs_width_ms(segment: np.ndarray, r_index: int) -> tuple[float, float]:
    """Width of one beat's QRS (leads, window) and its peak spatial velocity (waves.qrs_span)."""
    start, end, speed = qrs_span(segment, r_index)
    return (end - start) * 1000.0 / FS, speed


def _local_rr(rr: np.ndarray, dominant_interval: np.ndarray) -> np.ndarray:
    """For each interval, the median of up to LOCAL_BEATS dominant-to-dominant intervals either side."""
    out = np.full(len(rr), np.nan)
    usable = np.flatnonzero(dominant_interval & np.isfinite(rr))
    fallback = float(np.nanmedian(rr)) if np.isfinite(rr).any() else np.nan
    for index in range(len(rr)):
        near = usable[np.abs(usable - index) <= LOCAL_BEATS]
        near = near[near != index]
        out[index] = float(np.median(rr[near])) if len(near) else fallback
    return out


def _detrended(segments: np.ndarray) -> np.ndarray:
    """(beats, leads, window) segments less each one's least-squares line: a P wave riding on the end of
    a T wave or on baseline wander is compared by its own shape."""
    t = np.linspace(-1.0, 1.0, segments.shape[2])
    centred = segments - segments.mean(axis=2, keepdims=True)
    slope = (centred * t).sum(axis=2, keepdims=True) / (t**2).sum()
    return centred - slope * t


def _p_waves(
    filtered: np.ndarray, peaks: np.ndarray, window: tuple[int, int] | None, usable: np.ndarray
) -> tuple[np.ndarray, float | None]:
    """Per beat, whether its P window (centre offset from R, half width; samples) correlates P_SAME or
    more with the mean P window of the usable beats; and the P wave's consistency over those beats:
    the power of their mean P over the mean power of each one's departure from it (a P wave that
    comes before every beat stands out of the noise: a median of 7 over the sinus records of tests/data,
    1 or more on nine in ten; the f waves of atrial fibrillation average out to 0)."""
    if window is None or usable.sum() < 3:
        return np.zeros(len(peaks), dtype=bool), None
    centre, half = window
    segments = _detrended(_windows(filtered, peaks + centre, half, half + 1))
    chosen = segments[usable]
    reference = chosen.mean(axis=0)
    # Unbiased: the mean of n noisy windows keeps 1/n of their noise power, which would read as a P wave
    # of power noise/n on a strip of pure f waves (0.3-0.5 over the 3-6 beats a short strip offers).
    noise = float(((chosen - reference) ** 2).sum(axis=(1, 2)).mean())
    signal = float((reference**2).sum()) - noise / (len(chosen) - 1)
    snr = max(signal, 0.0) / noise if noise > 0 else float("inf")
    return _standardised(segments) @ _standardised(reference[None])[0] >= P_SAME, snr


def _shapes(filtered: np.ndarray, peaks: np.ndarray) -> dict[str, np.ndarray]:
    """Per beat: QRS correlation with the dominant template, width relative to it, peak spatial velocity
    relative to it, whether its window lies inside the strip; and the template."""
    before, after = _samples(-QRS_WINDOW_MS[0]), _samples(QRS_WINDOW_MS[1])
    qrs = _windows(filtered, peaks, before, after)
    # A beat whose window reaches into the strip's first or last EDGE_MS is cut or bent by the zero-phase
    # filter's start-up there: it is compared, but never called ventricular for its shape alone.
    edge = _samples(EDGE_MS)
    inside = (peaks >= before + edge) & (peaks + after <= filtered.shape[1] - edge)
    measured = np.array([qrs_width_ms(segment, before) for segment in qrs])
    if inside.sum() >= 3:
        family = np.flatnonzero(inside)[_dominant(qrs[inside], measured[inside, 1])]
    else:
        family = np.arange(len(peaks))
    template = np.median(qrs[family], axis=0)
    width, speed = qrs_width_ms(template, before)
    return {
        "correlation": _best_correlation(qrs, template, _samples(MAX_LAG_MS)),
        "width_ratio": measured[:, 0] / max(width, 1.0),
        "speed_ratio": measured[:, 1] / max(speed, 1e-9),
        "inside": inside,
        "template": template,
    }


def genuine(filtered: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """The R peaks that are QRS complexes. A detected peak whose QRS is both unlike the dominant
    template and much slower (its peak spatial velocity under NOT_QRS of the template's) is a T wave or
    an artefact the R-peak detector took for a beat, and so is one unlike it that follows a beat by less
    than TOO_CLOSE_MS (inside the ventricles' refractory period: the previous beat's T wave). On a PTB
    record whose tall T waves in V1-V3 were taken for beats, the strip read 145 bpm instead of 72."""
    if len(peaks) < 4:
        return peaks
    shapes = _shapes(filtered, peaks)
    close = np.concatenate([[False], np.diff(peaks) < _samples(TOO_CLOSE_MS)])
    unlike = shapes["correlation"] < SAME_SHAPE
    real = ~(unlike & ((shapes["speed_ratio"] < NOT_QRS) | close))
    return peaks[real] if real.sum() >= 3 else peaks


def classify(
    filtered: np.ndarray,
    peaks: np.ndarray,
    *,
    p_centre_ms: float | None = None,
    t_offset_ms: float | None = None,
    paced: np.ndarray | None = None,
) -> Beats:
    """Label every beat of a (12, n) band-passed strip at FS with R peaks `peaks` (at least 3, those
    genuine() kept). p_centre_ms: where the dominant P wave's centre lies, ms from R (waves.p_wave), None
    when the median beat shows no P wave; t_offset_ms: the T end, ms after R (the P of a beat that
    follows its predecessor too closely lies on that T wave and is not compared); paced: per beat,
    whether a pacing spike precedes its QRS."""
    shapes = _shapes(filtered, peaks)
    correlation, width_ratio, inside = shapes["correlation"], shapes["width_ratio"], shapes["inside"]
    # A beat cut by the strip's edge is compared on what is left of it: it may look unlike the others
    # for that alone, so it is never called ventricular.
    ventricular = inside & (((correlation < SAME_SHAPE) & (width_ratio >= WIDER)) | (correlation < ALIEN))
    rr = np.concatenate([[np.nan], np.diff(peaks) * 1000.0 / FS])
    same = ~ventricular
    dominant_interval = same & np.concatenate([[False], same[:-1]])
    local = _local_rr(rr, dominant_interval)
    premature = np.isfinite(rr) & (rr < PREMATURE * local)
    labels = np.where(ventricular, "V", np.where(premature, "S", "N"))
    if paced is not None:
        labels = np.where(paced, "P", labels)
    p_window = None if p_centre_ms is None else (_samples(p_centre_ms), _samples(P_WINDOW_MS))
    clear = np.zeros(len(peaks), dtype=bool)
    if p_centre_ms is not None:
        t_end = t_offset_ms if t_offset_ms is not None else 400.0 * np.sqrt(np.nanmedian(rr) / 1000.0)
        clear = np.isfinite(rr) & (rr >= t_end - p_centre_ms + P_WINDOW_MS)
    usable = (labels == "N") & clear if ((labels == "N") & clear).sum() >= 3 else labels == "N"
    p_wave, p_snr = _p_waves(filtered, peaks, p_window, usable)
    return Beats(
        peaks=peaks,
        rr_ms=rr,
        labels=labels,
        correlation=correlation,
        width_ratio=width_ratio,
        premature=premature,
        p_wave=p_wave,
        p_snr=p_snr,
        template=shapes["template"],
        local_rr_ms=local,
        complete=inside,
    )


# --- Pacing spikes ----------------------------------------------------------------------------------------
# A pacemaker's stimulus lasts 0.5-1 ms; on a surface ECG it is a spike far steeper than any QRS (a QRS
# upstroke climbs at most ~0.3 mV/ms) that is back near its baseline within a few ms, in most leads at
# once. It survives only in the raw samples: the 500 Hz resampling and the 40 Hz low-pass that every other
# measurement here uses smear it into the QRS. So it is looked for on the signal as recorded, and only
# where that can hold it: sampled at MIN_PACING_RATE or more, and not low-pass filtered by the recorder
# (some carts and databases store 0.5-40 Hz signals, whose spikes are gone).
MIN_PACING_RATE = 500.0  # Hz
SPIKE_SLOPE = 1.0  # mV/ms between two samples: half the 2 mV/ms a spike shows at 1 kHz, for 500 Hz carts
SPIKE_MS = 4.0  # the spike is back within 30 % of its height this long after its steepest sample
SPIKE_LEADS = 3  # leads showing it at once (within one sample)
PACED_WINDOW_MS = (-250.0, -10.0)  # spike before R: a ventricular stimulus, or an atrial one a PR earlier
# Power at 100-200 Hz under this fraction of that at 5-40 Hz: the recorder low-passed the signal (the
# CPSC records of tests/data, 1e-6 to 3e-6; the others 8e-5 and more, their noise floor).
FILTERED_BELOW_100_HZ = 1e-5


def _spikes(signals: np.ndarray, rate: float) -> np.ndarray:
    """Sample indices (at `rate`) where SPIKE_LEADS or more leads show a spike."""
    step = np.abs(np.diff(signals, axis=1)) * rate / 1000.0  # mV/ms
    after = max(1, round(SPIKE_MS * rate / 1000.0))
    steep = step >= SPIKE_SLOPE
    hits = np.zeros(signals.shape[1], dtype=int)
    for lead, index in zip(*np.nonzero(steep), strict=True):
        start, end = index, min(index + 1 + after, signals.shape[1] - 1)
        before = signals[lead, max(index - after, 0)]
        height = np.abs(signals[lead, start : end + 1] - before).max()
        if abs(signals[lead, end] - before) <= 0.3 * height:
            hits[index] += 1
    counts = np.convolve(hits, np.ones(3, dtype=int), mode="same")  # within one sample either way
    found = np.flatnonzero(counts >= SPIKE_LEADS)
    return found[np.concatenate([[True], np.diff(found) > 1])] if len(found) else found


def pacing(signals_mv: np.ndarray, rate: float, peaks: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Per beat (R peaks at FS), whether a pacing spike precedes its QRS; None when the recording cannot
    show spikes, with the reason, or the number of spikes found."""
    if rate < MIN_PACING_RATE:
        return None, f"pacing spikes not assessable at {rate:g} Hz (>= {MIN_PACING_RATE:g} Hz needed)"
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import welch  # imported where used: see waves.band_pass

    frequencies, power = welch(signals_mv, fs=rate, nperseg=min(signals_mv.shape[1], round(rate)), axis=1)
    power = power.mean(axis=0)
    high = power[(frequencies >= 100) & (frequencies < 200)].mean()
    low = power[(frequencies >= 5) & (frequencies < 40)].mean()
    if not low > 0 or high / low < FILTERED_BELOW_100_HZ:
        return None, "pacing spikes not assessable: the recording carries nothing above 100 Hz"
    spikes = _spikes(signals_mv, rate) * FS / rate  # at FS, as the peaks
    lo, hi = (_samples(value) for value in PACED_WINDOW_MS)
    paced = np.array([bool(((spikes >= peak + lo) & (spikes <= peak + hi)).any()) for peak in peaks])
    return paced, f"{len(spikes)} pacing spikes"


# --- Atrial flutter waves -----------------------------------------------------------------------------------
# Flutter waves recur every 170-250 ms (240-350/min, the usual range of typical flutter) in II, III, aVF
# and V1, between and under the QRS-T complexes. Each QRS is blanked (replaced by a straight line) and the
# rest band-passed to 2.5-12 Hz (T waves, slower, fall mostly outside); the autocorrelation of what is left
# then peaks at the flutter cycle, and again at twice it, where f waves of fibrillation decorrelate within
# a cycle and a sinus P wave comes once per beat. The smaller of the two peaks is the flutter index.
# With 2:1 conduction the cycle is half the RR, which a sinus tachycardia's alternating P and T waves
# mimic; only cycles at least MIN_WAVES_PER_BEAT per RR are called flutter (3:1, 4:1 or variable block).
FLUTTER_LEADS = ("II", "III", "aVF", "V1")
FLUTTER_CYCLE_MS = (170.0, 250.0)
FLUTTER_BAND = (2.5, 12.0)  # Hz
BLANK_MS = (-60.0, 80.0)  # around R
MIN_WAVES_PER_BEAT = 2.5


@dataclass(frozen=True)
class Flutter:
    index: float  # the second-best lead's index: two leads must show it
    cycle_ms: float  # atrial cycle length in the best lead
    waves_per_beat: float  # median RR over the cycle


def _blanked(signal: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    out = signal.copy()
    before, after = _samples(-BLANK_MS[0]), _samples(BLANK_MS[1])
    for peak in peaks:
        start, end = max(peak - before, 0), min(peak + after, len(out) - 1)
        out[start : end + 1] = np.linspace(out[start], out[end], end - start + 1)
    return out


def atrial_flutter(filtered: np.ndarray, peaks: np.ndarray) -> Flutter | None:
    """The flutter index of a band-passed strip at FS, or None when it is too short to tell (under
    three flutter cycles past the longest lag)."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import butter, find_peaks, sosfiltfilt

    low, high = (_samples(value) for value in FLUTTER_CYCLE_MS)
    if filtered.shape[1] < 8 * high or len(peaks) < 3:
        return None
    sos = butter(2, FLUTTER_BAND, btype="bandpass", fs=FS, output="sos")
    found = []
    for name in FLUTTER_LEADS:
        atrial = sosfiltfilt(sos, _blanked(filtered[LEAD[name]], peaks))
        atrial = atrial - atrial.mean()
        spectrum = np.fft.rfft(atrial, n=2 * len(atrial))
        correlation = np.fft.irfft(np.abs(spectrum) ** 2)[: 2 * high + 2]
        if correlation[0] <= 0:
            continue
        correlation = correlation / correlation[0]
        candidates, _ = find_peaks(correlation[: high + 1])
        candidates = candidates[candidates >= low]
        if len(candidates):
            lag = int(candidates[np.argmax(correlation[candidates])])
            found.append((min(correlation[lag], correlation[2 * lag]), lag))
    if len(found) < 2:
        return None
    found.sort(reverse=True)
    cycle_ms = found[0][1] * 1000.0 / FS
    return Flutter(
        index=float(found[1][0]),
        cycle_ms=cycle_ms,
        waves_per_beat=float(np.median(np.diff(peaks))) * 1000.0 / FS / cycle_ms,
    )
