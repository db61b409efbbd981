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
    # AHA/ACCF/HRS 2009 recommendations (Part II, rhythm): sinus bradycardia < 60 bpm, sinus
    # tachycardia > 100 bpm. Width 2-3 bpm: a 10 s strip has ~10-17 beats, one beat more or less in a
    # window moves the rate by ~2 bpm.
    "SB": Rule(60.0, 2.0, above=False),
    "ST": Rule(100.0, 3.0, above=True),
    # No consensus number exists for "irregularly irregular". Normalised successive RR differences
    # (cf. the normalised RMSSD of Dash et al., Ann Biomed Eng 2009) are ~0.02 in sinus rhythm and
    # > 0.1 in AF; we use the *median* absolute difference so that a few premature beats (two large
    # differences each) do not look like AF. Threshold 0.06, width 0.015 (our choice, documented).
    "AF": Rule(0.06, 0.015, above=True),
    # First-degree AV block: PR > 200 ms; short PR: PR < 120 ms (AHA/ACCF/HRS 2009, Part III).
    # Width 10 ms: about one delineation step of the P onset at 100-500 Hz.
    "1dAVb": Rule(200.0, 10.0, above=True),
    "SHORT_PR": Rule(120.0, 8.0, above=False),
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
    # Complete bundle branch block needs QRS >= 120 ms (AHA/ACCF/HRS 2009, Part III); width 6 ms.
    "WIDE_QRS": Rule(120.0, 6.0, above=True),
    # Terminal (last 40 ms) QRS deflection sign in V1/V6, in mV: RBBB = terminal R' in V1 and a slurred
    # S in V6; LBBB = terminal S (QS/rS) in V1 and a broad R without S in V6. Width 0.05 mV.
    "TERMINAL": Rule(0.0, 0.05, above=True),
}
AXIS_WIDTH = 8.0
LAD_ARC, RAD_ARC = (-90.0, -30.0), (90.0, 180.0)  # degrees; -90..-180 ("northwest") has no TNMG code

CODES = (
    "SB",
    "ST",
    "AF",
    "1dAVb",
    "SHORT_PR",
    "LONG_QT",
    "LAD",
    "RAD",
    "LOWV_LIMB",
    "LOWV_PREC",
    "LVH_V",
    "RBBB",
    "LBBB",
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
    rate, irregularity = m.get("heart_rate_bpm"), m.get("rr_irregularity")
    # AF needs enough successive differences to call a pattern irregular (>= 5 RR intervals).
    not_af = 1.0
    if irregularity is not None and m.get("n_beats", 0) >= 6:
        scores["AF"] = RULES["AF"].score(irregularity)
        not_af = 1.0 - scores["AF"]
    if rate is not None:  # sinus rates: an irregularly irregular rhythm is not sinus
        scores["SB"] = RULES["SB"].score(rate) * not_af
        scores["ST"] = RULES["ST"].score(rate) * not_af
    if m.get("pr_ms") is not None:  # PR is defined only with conducted P waves, hence not in AF
        scores["1dAVb"] = RULES["1dAVb"].score(m["pr_ms"]) * not_af
        scores["SHORT_PR"] = RULES["SHORT_PR"].score(m["pr_ms"]) * not_af
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
    if m.get("qrs_ms") is not None:
        wide = RULES["WIDE_QRS"].score(m["qrs_ms"])
        v1_up, v6_up = (RULES["TERMINAL"].score(m[key]) for key in ("v1_terminal_mv", "v6_terminal_mv"))
        scores["RBBB"] = wide * v1_up * (1.0 - v6_up)
        scores["LBBB"] = wide * (1.0 - v1_up) * v6_up
    return scores
