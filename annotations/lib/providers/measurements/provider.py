"""The measurement provider itself: the pipeline from a strip to measurements and scores."""

from __future__ import annotations

import math
from importlib.metadata import version as installed_version
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import Patient, Provider, ProviderResult
from annotations.lib.providers.measurements import morphology_criteria
from annotations.lib.providers.measurements.rules import CODES, scores_from
from annotations.lib.providers.measurements.waves import (
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
    codes = CODES + tuple(code for code in morphology_criteria.CODES if code not in CODES)

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
        measured: dict[str, Any] = {"r_peak_lead": peak_lead, **rhythm(peaks)}
        if len(peaks) >= 3:
            measured.update(self._morphology(filtered, peaks, measured.get("heart_rate_bpm"), quality))
        measured["quality"] = quality
        scores = scores_from(measured)
        # The morphology criteria rescore the codes they share with rules.py (axis, voltage, QT) with
        # the patient's sex and a rationale each.
        criteria = morphology_criteria.assess_strip(internal, filtered, peaks, measured, patient)
        scores.update(criteria.scores)
        measured.update(criteria.measurements)
        return ProviderResult(scores=scores, measurements=_rounded(measured), rationale=criteria.rationale)

    @staticmethod
    def _morphology(
        filtered: np.ndarray, peaks: np.ndarray, rate: float | None, quality: list[str]
    ) -> dict[str, Any]:
        beats = median_beats(filtered, peaks)
        found = intervals(filtered, peaks, beats)
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
