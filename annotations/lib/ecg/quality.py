"""Signal-quality report of one 12-lead ECG: what a coordinator should know before a cardiologist reads it.

Pure numpy (no Django). Input: the 12 standard leads in millivolts, STANDARD_LEADS order, any rate.
Output: a JSON-ready dict with per-lead flags, the limb-lead residuals, a suspected limb-electrode
reversal and an overall grade (good / acceptable / poor).

Why our own numpy and not neurokit2 here: neurokit2's ecg_quality ("zhao2018": pSQI, kSQI, basSQI;
"averageQRS") runs its R-peak detector on every lead, about 40 ms per lead (0.5 s per exam measured on
the CPSC sample), which would dominate an import of thousands of exams. The checks below are a few
vectorised passes (~ms per exam). The quality suggestion provider, which runs on a worker and not at
import, adds neurokit2's zhao2018 verdict per lead (annotations/lib/providers/quality.py).

Checks, each with its threshold and where it comes from:

* Limb-lead consistency. Einthoven's law II = I + III and Goldberger's augmented leads
  aVR = -(I + II) / 2, aVL = I - II / 2, aVF = II - I / 2 hold exactly for correctly recorded limb
  leads (Einthoven 1912; Goldberger, Am Heart J 1942). Residual = RMS(recorded - computed) /
  RMS(recorded) after removing each lead's mean. Leads recorded independently stay within 1-2% (the
  WFDB samples in tests/data); devices that compute III and the augmented leads give 0. Above
  RESIDUAL_LIMIT (25%) the stored leads contradict each other (wrong order, lost row, mislabelled
  lead): graded poor. Our threshold: ten times the worst independent recording we hold, and above
  the ~9% that independent 10 uV noise on every lead gives; a swapped or lost lead gives ~100%. The RMS of
  the larger of I and II is the denominator, so that a small lead (a low-voltage III) with ordinary
  noise is not taken for a contradiction.
* Flat lead (no signal): robust amplitude (99.5th - 0.5th percentile) below FLAT_MV = 0.05 mV, well
  under the smallest QRS anyone reads (low voltage is < 0.5 mV limb, < 1 mV precordial). Flat lines are
  the first check of the PhysioNet/CinC Challenge 2011 quality algorithms (Silva, Moody & Behar 2011;
  Clifford et al., Physiol Meas 2012).
* Saturated lead: the amplifier clips, so the trace sits on its own extreme value. Flagged when more
  than SATURATED_FRACTION (1%, 0.1 s in 10 s) of samples equal the lead's max or min: a sharp R peak
  reaches its maximum in 1-3 samples per recording. Also from the Challenge 2011 checks (Clifford 2012).
* Baseline wander: the largest peak-to-peak excursion of the 1 s moving-average baseline within any
  10 s page, above BASELINE_MV = 1 mV (the trace drifts by 10 mm at the standard 10 mm/mV within one
  page; our threshold). Zhao & Zhang's basSQI (Front Physiol 2018, power below 1 Hz over power below
  40 Hz) was tried and dropped: a heart rate under 60 bpm puts the ECG's own fundamental below 1 Hz, and
  the clean bradycardic CPSC sample scored "unqualified" (0.85) in three leads.
* Noise: high-frequency noise in microvolts, a robust RMS (1.4826 x median absolute deviation) of the
  signal minus its 25 ms moving average (first zero at 40 Hz, the upper edge of the diagnostic band in
  most carts' display filters). The median ignores the QRS, which fills a few percent of samples, and a
  single spike. Clean records in tests/data stay under 10 uV; flagged above NOISE_UV = 40 uV, our
  threshold, where muscle tremor visibly thickens the trace at 10 mm/mV.
* Large artefact: any excursion from the lead's running baseline larger than ARTEFACT_MV = 5 mV, or
  than ARTEFACT_RATIO = 4 times the lead's own 99th-percentile excursion (its QRS). 5 mV exceeds the
  largest physiological QRS amplitudes reported outside extreme hypertrophy (Sokolow-Lyon LVH is 3.5 mV
  summed over two leads). This is what catches a 10 mV spike in one lead.
* Limb-electrode reversal, from the polarity of P and QRS on median beats, by the criteria reviewed in
  Batchvarov, Malik & Camm, Europace 2007;9:1081 (see also Hedén et al., Circulation 1996 and Kors &
  van Herpen, Am J Cardiol 2001 for automated detectors):
    - RA/LA: negative P and negative QRS in lead I with a positive QRS in aVR, while the precordial R
      wave grows from V1 to V6 (which tells it apart from dextrocardia, where it shrinks);
    - RA/LL: negative P and QRS in II and in aVF (lead II inverted; an ectopic low atrial rhythm makes
      P negative in II but leaves QRS positive);
    - neutral (RL) electrode on an arm: a near-flat lead II (RA/RL) or III (LA/RL) while I and the other
      limb leads carry signal (Batchvarov 2007, "pseudo-asystole in one lead").
  LA/LL reversal is left out on purpose: its signs (P larger in I than II, terminal positive P in III)
  are too subtle for a rule without a reference ECG of the same patient.

Grade: poor when the limb leads contradict each other, when no lead has signal, or when a third of the
leads (4) or more carry a flag; acceptable when any lead carries a flag or a reversal is suspected;
good otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.lazy_imports import HEAVY_IMPORT

VERSION = "1"
RESIDUAL_LIMIT = 0.25
FLAT_MV = 0.05
SATURATED_FRACTION = 0.01
BASELINE_MV = 1.0
PAGE_S = 10.0
NOISE_UV = 40.0
NOISE_BAND_HZ = 40.0
ARTEFACT_MV = 5.0
ARTEFACT_RATIO = 4.0
POOR_FLAGGED_LEADS = 4
RESIDUAL_FLOOR_MV = 0.02  # RMS below which a residual ratio means nothing (a flat recorded lead)
# Windows around the R peak (s) for the polarity of P and QRS on the median beat.
QRS_WINDOW = (-0.05, 0.05)
P_WINDOW = (-0.26, -0.08)
REFERENCE_WINDOW = (-0.34, -0.28)  # isoelectric segment before P, used as the zero of the median beat
POLARITY_MIN_MV = 0.03  # a P or QRS net deflection smaller than this is "not negative"

LEAD_FLAGS = ("flat", "saturated", "baseline_wander", "noise", "artefact")
EXAM_FLAGS = (*LEAD_FLAGS, "limb_leads_inconsistent", "lead_reversal")
GRADES = ("good", "acceptable", "poor")
_INDEX = {name: index for index, name in enumerate(STANDARD_LEADS)}


def quality_report(
    signals_mv: np.ndarray, sampling_rate: float, derived: list[str] | tuple[Any, ...] = ()
) -> dict[str, Any]:
    """The report of one exam. derived: leads the importer computed from I and II (residual is then 0
    by construction and says nothing, so they are reported as derived instead of checked)."""
    signals = np.asarray(signals_mv, dtype=np.float64)[: len(STANDARD_LEADS)]
    if signals.shape[0] != len(STANDARD_LEADS) or signals.shape[1] < 2:
        raise ValueError(f"expected the 12 standard leads, got shape {signals.shape}")
    fs = float(sampling_rate)
    # Order statistics (medians, percentiles) on every other sample: they are the costliest step of the
    # report, which runs on every imported exam, and halving the samples moves them by well under the
    # thresholds' margins. Maxima (artefacts, clipping) use every sample.
    thin = slice(None, None, 2)
    signals = signals - np.median(signals[:, thin], axis=1, keepdims=True)
    baseline = _moving_average(signals, max(1, round(fs)))
    leads: dict[str, dict[str, Any]] = {}
    low, high = np.percentile(signals[:, thin], [0.5, 99.5], axis=1)
    amplitude = high - low
    hf = (signals - _moving_average(signals, max(1, round(fs / NOISE_BAND_HZ))))[:, thin]
    hf_noise = 1.4826 * np.median(np.abs(hf - np.median(hf, axis=1, keepdims=True)), axis=1) * 1000.0
    wander = _page_excursion(baseline, fs)
    excursion = np.abs(signals - baseline)
    typical = np.percentile(excursion[:, thin], 99, axis=1)
    for index, name in enumerate(STANDARD_LEADS):
        leads[name] = _lead_report(
            signals[index],
            excursion[index],
            float(amplitude[index]),
            float(typical[index]),
            float(wander[index]),
            float(hf_noise[index]),
            fs,
        )
    residuals = limb_residuals(signals, derived)
    reversal = limb_reversal(signals, fs, {name: "flat" in leads[name]["flags"] for name in STANDARD_LEADS})
    return _graded(leads, residuals, reversal, fs)


def _lead_report(
    row: np.ndarray,
    excursion: np.ndarray,
    amplitude: float,
    typical: float,
    wander: float,
    hf_noise: float,
    fs: float,
) -> dict[str, Any]:
    """One lead's flags and figures, from its signal and the measures quality_report took of it."""
    flat = bool(amplitude < FLAT_MV)
    # Only an extreme away from the baseline is a rail: a clean lead sitting on its median between
    # beats repeats its own minimum or maximum without being clipped.
    extremes = sum(
        np.count_nonzero(row == value) for value in (row.max(), row.min()) if abs(value) > 2 * FLAT_MV
    )
    saturated = (not flat) and extremes / row.size > SATURATED_FRACTION
    peak = float(excursion.max())
    artefact = (not flat) and (peak > ARTEFACT_MV or peak > ARTEFACT_RATIO * max(typical, FLAT_MV))
    flags = [
        flag
        for flag, on in (
            ("flat", flat),
            ("saturated", saturated),
            ("baseline_wander", (not flat) and wander > BASELINE_MV),
            ("noise", (not flat) and hf_noise > NOISE_UV),
            ("artefact", artefact),
        )
        if on
    ]
    return {
        "flags": flags,
        "amplitude_mv": _round(amplitude),
        "baseline_excursion_mv": _round(wander),
        "noise_uv": _round(hf_noise, 1),
        "largest_excursion_mv": _round(peak),
        "largest_excursion_at_s": _round(int(excursion.argmax()) / fs, 2),
    }


def _graded(
    leads: dict[str, Any], residuals: dict[str, Any], reversal: dict[str, Any] | None, fs: float
) -> dict[str, Any]:
    flagged = [name for name, lead in leads.items() if lead["flags"]]
    exam_flags = sorted({flag for lead in leads.values() for flag in lead["flags"]})
    inconsistent = any(value is not None and value > RESIDUAL_LIMIT for value in residuals.values())
    if inconsistent:
        exam_flags.append("limb_leads_inconsistent")
    if reversal is not None:
        exam_flags.append("lead_reversal")
    all_flat = all("flat" in lead["flags"] for lead in leads.values())
    if inconsistent or all_flat or len(flagged) >= POOR_FLAGGED_LEADS:
        grade = "poor"
    elif exam_flags:
        grade = "acceptable"
    else:
        grade = "good"
    return {
        "version": VERSION,
        "grade": grade,
        "flags": [flag for flag in EXAM_FLAGS if flag in exam_flags],
        "flagged_leads": flagged,
        "residuals": residuals,
        "reversal": reversal,
        "sampling_rate": fs,
        "leads": leads,
    }


def limb_residuals(signals: np.ndarray, derived: list[str] | tuple[Any, ...] = ()) -> dict[str, float | None]:
    """Relative RMS residual of each lead that I and II determine; None for a derived or flat lead."""
    lead_i, lead_ii = signals[_INDEX["I"]], signals[_INDEX["II"]]
    scale = max(_rms(lead_i), _rms(lead_ii))
    computed = {
        "III": lead_ii - lead_i,  # Einthoven
        "aVR": -(lead_i + lead_ii) / 2,  # Goldberger
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }
    out: dict[str, float | None] = {}
    for name, expected in computed.items():
        recorded = signals[_INDEX[name]]
        if name in derived or scale < RESIDUAL_FLOOR_MV:
            out[name] = None
            continue
        out[name] = _round(_rms(recorded - expected) / scale, 4)
    return out


def limb_reversal(signals: np.ndarray, fs: float, flat: dict[str, bool]) -> dict[str, Any] | None:
    """The suspected limb-electrode reversal ({"electrodes", "criterion"}), or None."""
    limb_signal = [name for name in ("I", "aVR", "aVL", "aVF") if not flat[name]]
    if flat["II"] != flat["III"] and len(limb_signal) == 4:
        electrodes = "RA/RL" if flat["II"] else "LA/RL"
        return {"electrodes": electrodes, "criterion": f"flat lead {'II' if flat['II'] else 'III'}"}
    beats = median_beats(signals, fs)
    if beats is None:
        return None
    polarity = {name: _polarity(beats[_INDEX[name]], fs) for name in STANDARD_LEADS}
    # RA/LL first: it also turns lead I negative (I becomes -III), while RA/LA leaves aVF as it was.
    if all(
        polarity[name][0] < -POLARITY_MIN_MV and polarity[name][1] < -POLARITY_MIN_MV
        for name in ("II", "aVF")
    ):
        return {"electrodes": "RA/LL", "criterion": "negative P and QRS in II and aVF"}
    p_i, qrs_i = polarity["I"]
    if p_i < -POLARITY_MIN_MV and qrs_i < -POLARITY_MIN_MV and polarity["aVR"][1] > POLARITY_MIN_MV:
        if _r_amplitude(beats[_INDEX["V6"]], fs) > _r_amplitude(beats[_INDEX["V1"]], fs):
            return {"electrodes": "RA/LA", "criterion": "negative P and QRS in I, positive QRS in aVR"}
    return None


def median_beats(signals: np.ndarray, fs: float) -> np.ndarray | None:
    """Median beat of every lead around R peaks found on all leads together; None below 3 beats.

    Own detector instead of neurokit2's ecg_peaks for the same cost reason as above: the summed squared
    slope of the band-limited leads peaks at every QRS whatever each lead's polarity, so one pass of
    peak picking with a 250 ms refractory period serves all twelve leads.
    """
    smooth = _moving_average(signals, max(1, round(0.02 * fs))) - _moving_average(
        signals, max(1, round(0.2 * fs))
    )
    energy = _moving_average(np.sum(np.diff(smooth, axis=1) ** 2, axis=0)[None, :], max(1, round(0.04 * fs)))[
        0
    ]
    before, after = round(-REFERENCE_WINDOW[0] * fs), round(0.4 * fs)
    if energy.size < before + after + 1:
        return None
    threshold = 0.3 * np.percentile(energy, 99)
    peaks = _peaks(energy, threshold, max(1, round(0.25 * fs)))
    if peaks.size:  # the energy maximum lags the R peak: take the largest absolute deflection near it
        window = round(0.06 * fs)
        magnitude = np.abs(smooth).sum(axis=0)
        peaks = np.array(
            [
                max(0, p - window) + int(np.argmax(magnitude[max(0, p - window) : p + window + 1]))
                for p in peaks
            ]
        )
    peaks = peaks[(peaks >= before) & (peaks + after < signals.shape[1])]
    if peaks.size < 3:
        return None
    stack = np.stack([signals[:, p - before : p + after] for p in peaks])
    median: np.ndarray = np.median(stack, axis=0)
    return median


def _polarity(beat: np.ndarray, fs: float) -> tuple[float, float]:
    """(P, QRS) net deflections in mV of one median beat, relative to the segment before P."""
    zero = round(-REFERENCE_WINDOW[0] * fs)

    def part(window: tuple[float, float]) -> np.ndarray:
        return beat[zero + round(window[0] * fs) : zero + round(window[1] * fs) + 1]

    reference = float(np.mean(part(REFERENCE_WINDOW)))
    p_wave = part(P_WINDOW) - reference
    qrs = part(QRS_WINDOW) - reference
    p_net = float(p_wave.max() if p_wave.max() >= -p_wave.min() else p_wave.min())
    return p_net, float(qrs.max() + qrs.min())


def _r_amplitude(beat: np.ndarray, fs: float) -> float:
    zero = round(-REFERENCE_WINDOW[0] * fs)
    reference = float(np.mean(beat[: round((REFERENCE_WINDOW[1] - REFERENCE_WINDOW[0]) * fs) + 1]))
    return float(
        beat[zero + round(QRS_WINDOW[0] * fs) : zero + round(QRS_WINDOW[1] * fs) + 1].max() - reference
    )


def _page_excursion(baseline: np.ndarray, fs: float) -> np.ndarray:
    """Largest peak-to-peak of the baseline within any PAGE_S window (half-page steps), per lead."""
    inner = baseline[:, _inner(baseline.shape[1], fs)]
    page, step = max(1, round(PAGE_S * fs)), max(1, round(PAGE_S * fs / 2))
    starts = range(0, max(1, inner.shape[1] - page + 1), step)
    return np.max([np.ptp(inner[:, start : start + page], axis=1) for start in starts], axis=0)


def _moving_average(signals: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along the last axis, edges padded with the edge value (scipy's C filter:
    a tenth of the time of a numpy cumsum with padding, and this runs five times per imported exam)."""
    # Imported here: scipy.ndimage takes about half a second, and the pages and API import this module
    # for its flag names alone.
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.ndimage import uniform_filter1d

    if width <= 1:
        return np.array(signals, dtype=np.float64, copy=True)
    smoothed: np.ndarray = uniform_filter1d(
        np.asarray(signals, dtype=np.float64), size=width, axis=-1, mode="nearest"
    )
    return smoothed


def _peaks(values: np.ndarray, threshold: float, distance: int) -> np.ndarray:
    """Local maxima above threshold, greedy by height, at least `distance` samples apart."""
    candidates = (
        np.flatnonzero(
            (values[1:-1] > threshold) & (values[1:-1] >= values[:-2]) & (values[1:-1] > values[2:])
        )
        + 1
    )
    taken: list[int] = []
    blocked = np.zeros(values.size, dtype=bool)
    for index in candidates[np.argsort(values[candidates])[::-1]]:
        if not blocked[index]:
            taken.append(int(index))
            blocked[max(0, index - distance) : index + distance + 1] = True
    return np.array(sorted(taken), dtype=int)


def _inner(n: int, fs: float) -> slice:
    """Samples away from the edges, where a moving average is biased by padding."""
    margin = min(round(fs), n // 4)
    return slice(margin, n - margin) if n - 2 * margin > 0 else slice(0, n)


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values - values.mean()))))


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits)
