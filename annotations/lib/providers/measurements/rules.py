"""The rule side of the measurement provider: logistic scores around published thresholds, and the
codes they cover (see the package's description for the shape of a score and why these codes)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """threshold and width in the measurement's unit; above=True scores high for larger values."""

    threshold: float
    width: float
    above: bool

    def score(self, value: float) -> float:
        z = (value - self.threshold) / self.width
        z = z if self.above else -z
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


RULES = {
    # Prolonged QTc: >= 450 ms men, >= 460 ms women (AHA/ACCF/HRS 2009, Part IV). Sex is not an input
    # here, so 460 ms. Scored on Fridericia's QTc because Bazett over-corrects at high rates (our
    # sinus tachycardia records would all look prolonged); both are reported.
    "LONG_QT": Rule(460.0, 12.0, above=True),
    # Frontal QRS axis: normal -30 to +90 degrees (AHA/ACCF/HRS 2009, Part I). Width 8 degrees.
    # Low voltage: QRS peak-to-peak < 0.5 mV in every limb lead, < 1.0 mV in every precordial lead,
    # i.e. the *largest* one below the limit. Widths 0.05 / 0.1 mV: baseline and noise on a median beat.
    "LOWV_LIMB": Rule(0.5, 0.05, above=False),
    "LOWV_PREC": Rule(1.0, 0.1, above=False),
    # LVH by voltage: Sokolow-Lyon SV1 + max(RV5, RV6) > 3.5 mV (Sokolow & Lyon 1949); Cornell
    # RaVL + SV3 > 2.8 mV in men, > 2.0 mV in women (Casale et al. 1985) - sex unknown, so 2.8 mV
    # (the specific end). Width 0.2 mV.
    "SOKOLOW": Rule(3.5, 0.2, above=True),
    "CORNELL": Rule(2.8, 0.2, above=True),
}
AXIS_WIDTH = 8.0
LAD_ARC, RAD_ARC = (-90.0, -30.0), (90.0, 180.0)  # degrees; -90..-180 ("northwest") has no TNMG code

# Rhythm, AV and intraventricular conduction codes are scored beat by beat and on the QRS waveform by
# rhythm_criteria.py and conduction_criteria.py, with a rationale each.
CODES = (
    "LONG_QT",
    "LAD",
    "RAD",
    "LOWV_LIMB",
    "LOWV_PREC",
    "LVH_V",
)


def _arc_score(angle: float, arc: tuple[float, float]) -> float:
    """Soft membership of an angle in an arc of the circle: 0.5 at each end, width AXIS_WIDTH."""
    low, high = arc
    centre = (low + high) / 2
    offset = (angle - centre + 180.0) % 360.0 - 180.0  # signed distance from the arc's centre
    half = (high - low) / 2
    return Rule(half, AXIS_WIDTH, above=False).score(abs(offset))


def scores_from(m: dict[str, Any]) -> dict[str, float]:
    """Scores for the codes the measurements support; a code whose inputs are missing is left out."""
    scores: dict[str, float] = {}
    if m.get("qtc_fridericia_ms") is not None:
        scores["LONG_QT"] = RULES["LONG_QT"].score(m["qtc_fridericia_ms"])
    if m.get("qrs_axis_deg") is not None:
        scores["LAD"] = _arc_score(m["qrs_axis_deg"], LAD_ARC)
        scores["RAD"] = _arc_score(m["qrs_axis_deg"], RAD_ARC)
    if m.get("limb_qrs_max_mv") is not None:
        scores["LOWV_LIMB"] = RULES["LOWV_LIMB"].score(m["limb_qrs_max_mv"])
        scores["LOWV_PREC"] = RULES["LOWV_PREC"].score(m["precordial_qrs_max_mv"])
        scores["LVH_V"] = max(
            RULES["SOKOLOW"].score(m["sokolow_lyon_mv"]), RULES["CORNELL"].score(m["cornell_mv"])
        )
    return scores
