"""The measurement provider itself: the pipeline from a strip to measurements and scores."""

from __future__ import annotations

import math
from importlib.metadata import version as installed_version
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import Patient, Provider, ProviderResult
from annotations.lib.providers.measurements import (
    conduction_criteria,
    morphology_criteria,
    rhythm_criteria,
)
from annotations.lib.providers.measurements.beats import atrial_flutter, classify, genuine, pacing
from annotations.lib.providers.measurements.findings import Findings
from annotations.lib.providers.measurements.qrs_shape import lead_shapes
from annotations.lib.providers.measurements.rules import CODES, scores_from
from annotations.lib.providers.measurements.waves import (
    BEAT_BEFORE,
    FS,
    LEAD,
    LIMB,
    PRECORDIAL,
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


# --- Provider ------------------------------------------------------------------------------------------
def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


class MeasurementProvider(Provider):
    name = "measurements"
    # Bump the first part when rules or pipeline change; the library version is part of it because a
    # neurokit2 upgrade can move fiducials. Read from the installed package's metadata, the same string
    # as neurokit2.__version__, so that naming the provider does not import neurokit2 (waves.py says why).
    version = f"2.0+neurokit2-{installed_version('neurokit2')}"
    codes = tuple(
        dict.fromkeys(CODES + morphology_criteria.CODES + rhythm_criteria.CODES + conduction_criteria.CODES)
    )

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        return self.run_for(signals_mv, sampling_rate, Patient())

    def run_for(self, signals_mv: np.ndarray, sampling_rate: float, patient: Patient) -> ProviderResult:
        quality: list[str] = []
        if sampling_rate < 250:
            quality.append(
                f"sampled at {sampling_rate:g} Hz: intervals approximate (+/- {1000 / sampling_rate:.0f} ms)"
            )
        internal = to_internal_rate(signals_mv, sampling_rate)
        filtered = band_pass(internal)
        peaks, peak_lead = detect_r_peaks(filtered, quality)
        peaks = genuine(filtered, peaks)  # T waves and artefacts the detector took for beats
        measured: dict[str, Any] = {"r_peak_lead": peak_lead, **rhythm(peaks)}
        medians, found = None, None
        if len(peaks) >= 3:
            medians = median_beats(filtered, peaks)
            found = intervals(filtered, peaks, medians)
            measured.update(self._morphology(medians, found, measured.get("heart_rate_bpm"), quality))
        measured["quality"] = quality
        scores = scores_from(measured)
        # The morphology criteria rescore the codes they share with rules.py (axis, voltage, QT) with
        # the patient's sex and a rationale each.
        criteria = morphology_criteria.assess_strip(internal, filtered, peaks, measured, patient)
        scores.update(criteria.scores)
        measured.update(criteria.measurements)
        rationale = dict(criteria.rationale)
        if medians is not None and found is not None:
            strip = _rhythm_and_conduction(
                signals_mv, sampling_rate, filtered, peaks, medians, found, measured
            )
            scores.update(strip.scores)
            rationale.update(strip.rationale)
            measured.update(strip.measurements)
        _withhold_pr(scores, measured)
        _confounded(scores)
        return ProviderResult(scores=scores, measurements=_rounded(measured), rationale=rationale)

    @staticmethod
    def _morphology(
        beats: np.ndarray, found: dict[str, Any], rate: float | None, quality: list[str]
    ) -> dict[str, Any]:
        pr = plausible_interval(found["pr"], 60.0, 400.0)
        qrs = plausible_interval(found["qrs"], 40.0, 240.0)
        qt = plausible_interval(found["qt"], 200.0, 700.0)
        for label, raw, kept in (
            ("PR", found["pr"], pr),
            ("QRS", found["qrs"], qrs),
            ("QT", found["qt"], qt),
        ):
            if kept is None:
                quality.append(
                    f"{label} not measurable" if raw is None else f"{label} {raw:.0f} ms implausible"
                )
        onset = found["onset"] if qrs is not None else None
        offset = found["offset"] if qrs is not None else None
        amplitude = qrs_amplitudes(beats, onset, offset)
        r, s = amplitude["r"], amplitude["s"]
        rr_s = 60.0 / rate if rate else None
        return {
            "pr_ms": pr,
            "qrs_ms": qrs,
            "qt_ms": qt,
            # Bazett QTc = QT / sqrt(RR in s); Fridericia QTc = QT / cbrt(RR in s).
            "qtc_bazett_ms": qt / math.sqrt(rr_s) if qt and rr_s else None,
            "qtc_fridericia_ms": qt / rr_s ** (1 / 3) if qt and rr_s else None,
            "qrs_axis_deg": frontal_axis(amplitude["area"]),
            "sokolow_lyon_mv": float(s[LEAD["V1"]] + max(r[LEAD["V5"]], r[LEAD["V6"]])),
            "cornell_mv": float(r[LEAD["aVL"]] + s[LEAD["V3"]]),
            "limb_qrs_max_mv": float(max(amplitude["ptp"][LEAD[lead]] for lead in LIMB)),
            "precordial_qrs_max_mv": float(max(amplitude["ptp"][LEAD[lead]] for lead in PRECORDIAL)),
            "v1_terminal_mv": float(amplitude["terminal"][LEAD["V1"]]),
            "v6_terminal_mv": float(amplitude["terminal"][LEAD["V6"]]),
            "qrs_ptp_mv": {lead: float(amplitude["ptp"][LEAD[lead]]) for lead in STANDARD_LEADS},
        }


def _rhythm_and_conduction(
    signals_mv: np.ndarray,
    sampling_rate: float,
    filtered: np.ndarray,
    peaks: np.ndarray,
    medians: np.ndarray,
    found: dict[str, Any],
    measured: dict[str, Any],
) -> Findings:
    """Beat by beat, the rhythm and AV-conduction criteria, then the conduction criteria of the median
    beat's QRS. Pacing spikes are looked for in the signal as given (beats.pacing says why)."""
    paced, pacing_note = pacing(signals_mv, sampling_rate, peaks)
    if paced is None:
        measured["quality"].append(pacing_note)
    beats = classify(
        filtered, peaks, p_centre_ms=found["p_centre"], t_offset_ms=found["t_offset"], paced=paced
    )
    shapes, wide_ms, start = _qrs_span(medians, found)
    strip = rhythm_criteria.Strip(
        beats=beats,
        pr_ms=measured.get("pr_ms"),
        qrs_ms=measured.get("qrs_ms"),
        qrs_wide_ms=wide_ms,
        p_axis_deg=found["p_axis"],
        flutter=atrial_flutter(filtered, peaks),
        paced=paced,
        pacing_note=pacing_note,
        upstrokes=tuple(shape.upstroke for shape in shapes) if shapes else (),
        typical_block=conduction_criteria.typical_block(shapes, wide_ms) if shapes and wide_ms else 0.0,
        pr_earliest_ms=None if start is None or found["p_onset"] is None else start - found["p_onset"],
    )
    out = rhythm_criteria.assess(strip)
    if shapes is not None and wide_ms is not None:
        b = rhythm_criteria.basis(strip)
        conduction = conduction_criteria.assess(
            conduction_criteria.Conduction(
                shapes=shapes,
                qrs_ms=measured.get("qrs_ms"),
                wide_ms=wide_ms,
                axis_deg=measured.get("qrs_axis_deg"),
                conducted=(1.0 - b.ventricular) * (1.0 - b.paced),
                preexcited=out.scores.get("WPW", 0.0),
            )
        )
        out.scores.update(conduction.scores)
        out.rationale.update(conduction.rationale)
    return out


def _qrs_span(
    medians: np.ndarray, found: dict[str, Any]
) -> tuple[list[Any] | None, float | None, float | None]:
    """The QRS the width criteria read, spanning both QRS measurements from the earliest onset to the
    latest end: the per-lead delineation ends a bundle branch block's QRS before its R' and starts a
    ventricular beat's late (waves.qrs_span). Returns each lead's QRS shape, the width and the onset."""
    measured = [(found.get("qrs_onset"), found.get("qrs_offset"))]
    measured.append((found["velocity_onset"], found["velocity_offset"]))
    pairs = [(a, b) for a, b in measured if a is not None and b is not None and 40.0 <= b - a <= 240.0]
    if not pairs:
        return None, None, None
    start, end = min(a for a, _ in pairs), max(b for _, b in pairs)
    return lead_shapes(medians, round(BEAT_BEFORE * FS), start, end), end - start, start


def _withhold_pr(scores: dict[str, float], measured: dict[str, Any]) -> None:
    """No PR where the atria fibrillate or flutter: what the median beat shows before the QRS is then
    f or F waves, not a P wave, and a "PR" of 250 ms there would read as a first-degree block."""
    atrial = max(scores.get("AF", 0.0), scores.get("AFL", 0.0))
    if atrial >= 0.5 and measured.get("pr_ms") is not None:
        measured["pr_ms"] = None
        measured["quality"].append(f"no PR: atrial fibrillation or flutter suggested ({atrial:.2f})")
        for code in ("1dAVb", "SHORT_PR", "WPW"):
            if code in scores:
                scores[code] *= 1.0 - atrial


# Statements read from a conducted beat's QRS and ST-T. A ventricular or paced rhythm makes them
# unreadable, and a left bundle branch block hides infarct Q waves, ST shifts and LVH voltage
# (AHA/ACCF/HRS 2009 recommendations, part III, intraventricular conduction disturbances; the
# Brazilian Society of Cardiology guideline 2016 says the same of LBBB): they are damped by how
# strongly the strip is ventricular, paced or LBBB, so that a rationale is never shown for them there.
CONDUCTED_MORPHOLOGY = (
    "EIA",
    "SEPI_INJ",
    "STEMI",
    "SENDO_INJ",
    "SENDO_ISCH",
    "REPOL_NS",
    "LVH_V",
    "LVH_RE",
    "RVH",
    "BVH",
    "PRWP",
    "ERP",
    "BRUGADA",
    "BRUGADA_SUSP",
)


def _confounded(scores: dict[str, float]) -> None:
    confounder = max(scores.get(code, 0.0) for code in ("VT", "AIVR", "PACE", "LBBB"))
    for code in CONDUCTED_MORPHOLOGY:
        if code in scores:
            scores[code] *= 1.0 - confounder


def _rounded(measured: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in measured.items():
        if isinstance(value, dict):
            out[key] = {name: _round(v, 3) for name, v in value.items()}
        elif isinstance(value, float):
            out[key] = _round(value, 3 if key.endswith(("_mv", "_cv", "irregularity")) else 1)
        else:
            out[key] = value
    return out
