"""The quality provider: scores the TNMG technical statements from the signal-quality report.

The report is annotations/lib/ecg/quality.py, the same one stored on the exam at import, recomputed here
from the signals a provider is given (providers see signals, never the database). On the worker, where
time allows it, neurokit2's own quality classification (ecg_quality, method "zhao2018": pSQI, kSQI and
basSQI fused by Zhao & Zhang, Front Physiol 2018) is added per lead as a second opinion for Q_POOR.

Scores (0.5 at each statement's threshold, like the measurement provider's logistic rules):
* Q_NOSIGNAL_BLOCKING "absent signal that prevents analysis": flat leads counted, 0.5 at 6 of 12 (half
  the tracing missing leaves no 3x4 layout readable), width 1 lead.
* Q_NOSIGNAL_PARTIAL "absent signal in some leads": 0.5 at one flat lead, width 0.25 lead, times the
  chance that the signal is not blocking altogether (the two statements exclude each other).
* Q_BASELINE "baseline interference": the worst non-flat lead's baseline drift over its threshold and
  noise over its threshold, and 1 for a large artefact; on a log scale, 0.5 at the report's threshold,
  width log(1.15) (15% either side of a threshold is within what one 10 s strip can tell apart).
* Q_POOR "insufficient technical quality": the report's grade (poor 0.9, acceptable 0.2, good 0.05), or,
  when higher, 0.5 at four leads that zhao2018 calls "Unacceptable" (the report's own poor threshold);
  on a tracing the report grades good, zhao2018 alone raises it to ZHAO_DOUBT at most.
* Q_ELECTRODES "possible electrode reversal": 0.85 when one of the published reversal criteria holds
  (it is a rule, not a probability: a cardiologist confirms), 0.05 otherwise.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from annotations.lib.ecg import quality
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.lazy_imports import HEAVY_IMPORT
from annotations.lib.providers.base import Provider, ProviderResult

CODES = ("Q_NOSIGNAL_BLOCKING", "Q_NOSIGNAL_PARTIAL", "Q_BASELINE", "Q_POOR", "Q_ELECTRODES")
GRADE_SCORE = {"poor": 0.9, "acceptable": 0.2, "good": 0.05}
# zhao2018's baseline index (basSQI) takes the power below 1 Hz for wander, and a slow heart's own beats
# put theirs there: a clean 41 bpm sinus bradycardia (Philips HeartStart MRx) was "Unacceptable" in most
# leads. Where the report's own checks (flat, drift, noise, artefacts) found nothing, the second opinion
# raises Q_POOR no further than a doubt, below the suggestion threshold.
ZHAO_DOUBT = 0.3
LOG_WIDTH = math.log(1.15)


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def zhao2018_per_lead(
    signals_mv: np.ndarray, sampling_rate: float, flat: list[bool]
) -> dict[str, str | None]:
    """neurokit2's zhao2018 verdict per lead ("Excellent", "Barely acceptable", "Unacceptable"); None
    for a flat lead or where neurokit2 cannot assess it (too few beats for its detector)."""
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        import neurokit2 as nk

    verdicts: dict[str, str | None] = {}
    for name, row, is_flat in zip(STANDARD_LEADS, signals_mv, flat, strict=True):
        if is_flat:
            verdicts[name] = None
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cleaned = nk.ecg_clean(row, sampling_rate=round(sampling_rate))
                verdicts[name] = str(
                    nk.ecg_quality(cleaned, sampling_rate=round(sampling_rate), method="zhao2018")
                )
        except Exception:
            verdicts[name] = None
    return verdicts


def scores_from(report: dict[str, Any], zhao: dict[str, str | None]) -> dict[str, float]:
    leads = report["leads"]
    flat = sum("flat" in lead["flags"] for lead in leads.values())
    blocking = _logistic((flat - 5.5) / 1.0)
    partial = _logistic((flat - 0.5) / 0.25) * (1.0 - blocking)
    worst = 0.0
    for lead in leads.values():
        if "flat" in lead["flags"]:
            continue
        ratios = [
            lead["baseline_excursion_mv"] / quality.BASELINE_MV,
            lead["noise_uv"] / quality.NOISE_UV,
            2.0 if "artefact" in lead["flags"] else 0.0,
        ]
        worst = max(worst, *ratios)
    baseline = _logistic(math.log(worst) / LOG_WIDTH) if worst > 0 else 0.0
    unacceptable = sum(verdict == "Unacceptable" for verdict in zhao.values())
    second = _logistic(unacceptable - (quality.POOR_FLAGGED_LEADS - 0.5))
    if report["grade"] == "good":
        second = min(second, ZHAO_DOUBT)
    poor = max(GRADE_SCORE[report["grade"]], second)
    electrodes = 0.85 if report["reversal"] else 0.05
    return {
        "Q_NOSIGNAL_BLOCKING": blocking,
        "Q_NOSIGNAL_PARTIAL": partial,
        "Q_BASELINE": baseline,
        "Q_POOR": poor,
        "Q_ELECTRODES": electrodes,
    }


class QualityProvider(Provider):
    name = "quality"
    codes = CODES

    def __init__(self, use_neurokit: bool = True) -> None:
        self.use_neurokit = bool(use_neurokit)
        suffix = ""
        if self.use_neurokit:
            with HEAVY_IMPORT:  # lib.lazy_imports says why
                import neurokit2 as nk

            suffix = f"+neurokit2-{nk.__version__}"
        # The report's version is part of ours: a changed threshold changes the scores.
        self.version = f"1.1+report{quality.VERSION}{suffix}"

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        report = quality.quality_report(signals_mv, sampling_rate)
        flat = ["flat" in report["leads"][name]["flags"] for name in STANDARD_LEADS]
        zhao = zhao2018_per_lead(signals_mv, sampling_rate, flat) if self.use_neurokit else {}
        measurements: dict[str, Any] = {
            "grade": report["grade"],
            "flags": report["flags"],
            "flagged_leads": report["flagged_leads"],
            "reversal": report["reversal"],
            "zhao2018": zhao,
        }
        return ProviderResult(scores=scores_from(report, zhao), measurements=measurements)
