"""Morphology criteria: published ECG criteria applied to the median-beat features of morphology.py, each
scored with a logistic around its published threshold and explained by a Rationale naming the criterion,
its source and the measured values (leads and territories included) that met it or fell short.

Sources, cited per criterion below:
* AHA/ACC/HRS recommendations for the standardization and interpretation of the ECG: part II (2007,
  statement list), part IV (2009, ST segment, T wave and QT; Rautaharju et al.), part V (2009, chamber
  hypertrophy; Hancock et al.), part VI (2009, acute ischaemia and infarction; Wagner et al.).
* Fourth universal definition of myocardial infarction (Thygesen et al., 2018): ST elevation and
  depression limits, T inversion, and the Q waves of a prior infarction.
* Sokolow & Lyon 1949; Casale et al. 1985 (Cornell voltage); Romhilt & Estes 1968 (point score).
* SBC (Brazilian Society of Cardiology) guidelines on ECG analysis and reports, 2016 and 2022, which
  TNMG reports follow: axis limits, atrial enlargement, biventricular hypertrophy.
* Minnesota Code (Prineas et al.) 5-1 to 5-4 for T-wave changes; Macfarlane et al. 2015 (JACC) for
  early repolarisation; Priori et al. 2013 and Antzelevitch et al. 2016 consensus for Brugada patterns.

How scores combine: each measured condition is a logistic score (0.5 at its threshold, width about the
measurement's noise on a median beat); "and" is the smaller of two scores, "or" the larger; "in two
contiguous leads" is the best pair of adjacent leads (Cabrera order in the limb leads, V1..V6) of a
territory, each pair scoring its weaker lead. Codes TNMG lists as exclusive (LVH_RE / LVH_V, LAD / RAD)
are scored so that one excludes the other.

Confounders: criteria the UDMI gives "in the absence of LBBB, LVH and WPW" are damped by what the beat
shows of them: ST and T codes by a wide QRS (>= 120 ms, AHA part III) and by ventricular hypertrophy
(the discordant ST-T of LVH strain, REPOL_SEC here, or of deep right-precordial S waves), Q waves by a
wide QRS that is not a right bundle branch pattern. The QT is not read as long under a wide QRS (AHA
part IV asks for a QRS adjustment not made here). Early repolarisation needs a QRS under 120 ms, as its
definition does (Macfarlane 2015); Brugada patterns are not damped, their right-precordial ST elevation
being the finding itself.

Not scored here:
* NORM: "normal" needs a sinus rhythm at a normal rate, no ectopy and no conduction disorder, which the
  rhythm criteria decide; a NORM from morphology alone would call normal what it never looked at. It
  belongs where every criterion's result is known, and the labelled set has no NORM label to check it.
* Short QT: TNMG has no code for it.
* REPOL_PRIM, REPOL_DIG: need clinical context (drugs, digitalis) the signal does not carry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import Patient
from annotations.lib.providers.measurements.findings import Findings
from annotations.lib.providers.measurements.morphology import MM_PER_MV, Morphology, measure
from annotations.lib.providers.measurements.rules import Rule
from annotations.lib.providers.measurements.waves import LEAD, LIMB, PRECORDIAL, frontal_axis

CODES = (
    "LAD",
    "RAD",
    "LOWV_LIMB",
    "LOWV_PREC",
    "LONG_QT",
    "LVH_V",
    "LVH_RE",
    "RVH",
    "BVH",
    "RAE",
    "LAE",
    "BAE",
    "EIA",
    "PRWP",
    "SEPI_INJ",
    "STEMI",
    "SENDO_INJ",
    "SENDO_ISCH",
    "REPOL_NS",
    "REPOL_SEC",
    "ERP",
    "BRUGADA",
    "BRUGADA_SUSP",
)

AHA_II = "AHA/ACC/HRS 2007 recommendations, part II"
AHA_III = "AHA/ACCF/HRS 2009 recommendations, part III"
AHA_IV = "AHA/ACCF/HRS 2009 recommendations, part IV"
AHA_V = "AHA/ACCF/HRS 2009 recommendations, part V"
AHA_VI = "AHA/ACCF/HRS 2009 recommendations, part VI"
UDMI = "Fourth universal definition of myocardial infarction (2018)"
SBC = "SBC guideline on ECG reports (2016, 2022)"

# Contiguous lead pairs per territory: Cabrera order (aVL, I, -aVR, II, aVF, III) and V1..V6.
TERRITORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "inferior": (("II", "aVF"), ("aVF", "III")),
    "anterior/septal": (("V1", "V2"), ("V2", "V3"), ("V3", "V4")),
    "lateral": (("aVL", "I"), ("V4", "V5"), ("V5", "V6")),
}
# UDMI's prior-infarction Q waves count in I, II, aVL, aVF and V2-V6 only (a Q in III or V1 is common in
# normal hearts), in two leads of one grouping: the inferior wall is then II with aVF.
Q_TERRITORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "inferior": (("II", "aVF"),),
    "anterior/septal": (("V2", "V3"), ("V3", "V4")),
    "lateral": (("aVL", "I"), ("V4", "V5"), ("V5", "V6")),
}
# Where ST depression mirrors a territory's elevation (UDMI, AHA part VI).
RECIPROCAL = {"inferior": "lateral", "anterior/septal": "inferior", "lateral": "inferior"}

WIDE_QRS = Rule(120.0, 6.0, above=True)  # AHA part III: complete bundle branch block, QRS >= 120 ms
AXIS_WIDTH = 8.0  # degrees
LAD_ARC, RAD_ARC = (-90.0, -30.0), (90.0, 180.0)  # SBC 2016/2022, AHA part II: normal -30 to +90
ST_WIDTH_MM = 0.25  # a median beat's ST level is good to about a quarter of a millimetre
T_WIDTH_MV = 0.03
MIN_TERMINAL_MV = 0.05  # a terminal deflection a reader sees as an R'


def above(value: float, threshold: float, width: float) -> float:
    return Rule(threshold, width, above=True).score(value)


def below(value: float, threshold: float, width: float) -> float:
    return Rule(threshold, width, above=False).score(value)


@dataclass(frozen=True)
class Context:
    """What criteria read besides the median-beat features."""

    morph: Morphology
    qrs_ms: float | None
    qt_ms: float | None
    rr_ms: float | None
    patient: Patient

    def value(self, name: str, lead: str) -> float:
        return self.morph.leads.at(name, lead)

    @property
    def wide(self) -> float:
        return WIDE_QRS.score(self.qrs_ms) if self.qrs_ms is not None else 0.0


# --- Lead-pair helpers ---------------------------------------------------------------------------------
def _best_pair(
    lead_score: Callable[[str], float], pairs: Iterable[tuple[str, str]]
) -> tuple[float, tuple[str, str] | None]:
    best, where = 0.0, None
    for a, b in pairs:
        score = min(lead_score(a), lead_score(b))
        if where is None or score > best:
            best, where = score, (a, b)
    return best, where


Territories = dict[str, tuple[tuple[str, str], ...]]


def _territories(
    lead_score: Callable[[str], float], territories: Territories = TERRITORIES
) -> dict[str, tuple[float, tuple[str, str] | None]]:
    return {name: _best_pair(lead_score, pairs) for name, pairs in territories.items()}


def _territory_leads(name: str, territories: Territories = TERRITORIES) -> list[str]:
    return sorted({lead for pair in territories[name] for lead in pair}, key=STANDARD_LEADS.index)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.{digits}f}"


def _mm(value: float) -> str:
    return f"{_fmt(value)} mm"


def _dur(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.0f} ms"


def _listed(leads: list[str]) -> str:
    return ", ".join(leads) if leads else "none"


# --- Axis and voltage ----------------------------------------------------------------------------------
def _arc_score(angle: float, arc: tuple[float, float]) -> float:
    """Soft membership of an angle in an arc: 0.5 at each end, AXIS_WIDTH degrees wide."""
    low, high = arc
    offset = (angle - (low + high) / 2 + 180.0) % 360.0 - 180.0
    return below(abs(offset), (high - low) / 2, AXIS_WIDTH)


def _right_bundle_like(ctx: Context) -> bool:
    """A wide QRS ending positive in V1 and negative in I: the terminal forces of a right bundle
    branch block, which turn an area-based axis rightward."""
    terminal = ctx.morph.leads.terminal_mv
    return ctx.wide >= 0.5 and terminal[LEAD["V1"]] > MIN_TERMINAL_MV and terminal[LEAD["I"]] < 0.0


def axis_criteria(ctx: Context, out: Findings) -> float | None:
    # In RBBB the axis is read on the QRS's unchanged initial part, its delayed terminal forces left
    # out (the practice of the textbooks the SBC guideline follows: Chou; Friedmann).
    initial = _right_bundle_like(ctx)
    area = ctx.morph.leads.initial_area if initial else ctx.morph.leads.qrs_area
    axis = frontal_axis(area)
    out.measurements["qrs_axis_deg"] = axis
    if axis is None:
        return None
    part = "initial 60 ms, right bundle branch pattern" if initial else "net QRS area"
    finding = (
        f"QRS axis {axis:+.0f} deg ({part}: I {area[LEAD['I']]:+.0f}, aVF {area[LEAD['aVF']]:+.0f} mV*ms)"
    )
    source = f"{SBC}; {AHA_II}"
    out.add("LAD", _arc_score(axis, LAD_ARC), "Frontal QRS axis -30 to -90 deg", source, finding)
    out.add("RAD", _arc_score(axis, RAD_ARC), "Frontal QRS axis +90 to +180 deg", source, finding)
    return axis


def low_voltage_criteria(ctx: Context, out: Findings) -> None:
    leads = ctx.morph.leads
    ptp = leads.r_mv + leads.s_mv
    for code, group, limit in (("LOWV_LIMB", LIMB, 0.5), ("LOWV_PREC", PRECORDIAL, 1.0)):
        values = {lead: float(ptp[LEAD[lead]]) for lead in group}
        tallest = max(values, key=values.__getitem__)
        out.measurements["limb_qrs_max_mv" if group is LIMB else "precordial_qrs_max_mv"] = values[tallest]
        out.add(
            code,
            below(values[tallest], limit, 0.05 if group is LIMB else 0.1),
            f"QRS peak-to-peak < {limit} mV in every {'limb' if group is LIMB else 'precordial'} lead",
            f"{SBC}; {AHA_II}",
            f"largest {values[tallest]:.2f} mV ({tallest})",
        )


# --- QT ---------------------------------------------------------------------------------------------
def qt_criteria(ctx: Context, out: Findings) -> None:
    if ctx.qt_ms is None or not ctx.rr_ms:
        return
    rr_s = ctx.rr_ms / 1000.0
    fridericia, bazett = ctx.qt_ms / rr_s ** (1 / 3), ctx.qt_ms / math.sqrt(rr_s)
    limit, who = {"M": (450.0, "men"), "F": (460.0, "women")}.get(
        ctx.patient.sex or "", (460.0, "sex unknown")
    )
    out.measurements["qtc_limit_ms"] = limit
    # Scored on Fridericia: Bazett over-corrects at fast rates (AHA part IV prefers any correction to it).
    # A wide QRS lengthens the QT by its own delay; AHA part IV asks for a QRS-adjusted QT there, which
    # is not made here, so the score is damped instead of read on an unadjusted QT.
    out.add(
        "LONG_QT",
        above(fridericia, limit, 12.0) * (1.0 - ctx.wide),
        f"QTc >= {limit:.0f} ms ({who}), Fridericia correction",
        AHA_IV,
        f"QTc {fridericia:.0f} ms Fridericia, {bazett:.0f} ms Bazett "
        f"(QT {ctx.qt_ms:.0f} ms, RR {ctx.rr_ms:.0f} ms)",
    )


# --- Hypertrophy and atrial enlargement ------------------------------------------------------------
@dataclass(frozen=True)
class Hypertrophy:
    """Scores the ST-T criteria are damped by, and what was measured for them."""

    lvh_voltage: float
    lvh_re: float
    rvh: float
    strain: float
    lvh_text: str
    strain_text: str
    rvh_text: str = ""


def _cornell_limit(patient: Patient) -> tuple[float, str]:
    return (2.0, "women") if patient.sex == "F" else (2.8, "men" if patient.sex == "M" else "sex unknown")


def _strain(ctx: Context) -> tuple[float, str]:
    """LV strain: ST depression with T inversion in V5 or V6, the ST-T opposite the tall R."""
    best, where = 0.0, "V5"
    for lead in ("V5", "V6"):
        score = min(
            below(ctx.value("st_60_mm", lead), -0.5, ST_WIDTH_MM),
            below(ctx.value("t_mv", lead), -0.1, T_WIDTH_MV),
            above(ctx.value("r_mv", lead) - ctx.value("s_mv", lead), 0.0, 0.05),
        )
        if score > best:
            best, where = score, lead
    return best, (
        f"ST {_mm(ctx.value('st_60_mm', where))} at J+60, T {ctx.value('t_mv', where):+.2f} mV in {where}"
    )


def lvh_criteria(ctx: Context, axis: float | None, out: Findings) -> Hypertrophy:
    v = ctx.value
    s_v1, r_v5, r_v6 = v("s_mv", "V1"), v("r_mv", "V5"), v("r_mv", "V6")
    sokolow = s_v1 + max(r_v5, r_v6)
    cornell = v("r_mv", "aVL") + v("s_mv", "V3")
    limit, who = _cornell_limit(ctx.patient)
    out.measurements.update({"sokolow_lyon_mv": sokolow, "cornell_mv": cornell})
    voltage = max(above(sokolow, 3.5, 0.2), above(cornell, limit, 0.2))
    voltage_text = (
        f"Sokolow-Lyon {sokolow:.2f} mV (S V1 {s_v1:.2f} + R {'V5' if r_v5 >= r_v6 else 'V6'} "
        f"{max(r_v5, r_v6):.2f}), limit 3.5; Cornell {cornell:.2f} mV (R aVL {v('r_mv', 'aVL'):.2f} + "
        f"S V3 {v('s_mv', 'V3'):.2f}), limit {limit} ({who})"
    )
    points, details, strain, strain_text = _romhilt_estes(ctx, axis)
    out.measurements["romhilt_estes_points"] = points
    re_score = above(points, 4.5, 0.4)
    out.add(
        "LVH_RE",
        re_score,
        "Romhilt-Estes point score >= 5",
        "Romhilt & Estes 1968; " + AHA_V,
        f"{points:.1f} points: " + "; ".join(details),
    )
    # TNMG: LVH_V is voltage without the Romhilt-Estes score, the two exclusive.
    out.add(
        "LVH_V",
        voltage * (1.0 - re_score),
        "Sokolow-Lyon > 3.5 mV or Cornell voltage",
        "Sokolow & Lyon 1949; Casale et al. 1985; " + AHA_V,
        voltage_text,
    )
    return Hypertrophy(
        voltage, re_score, 0.0, strain, f"{voltage_text}; Romhilt-Estes {points:.1f}", strain_text
    )


def _romhilt_estes(ctx: Context, axis: float | None) -> tuple[float, list[str], float, str]:
    """Points measurable on the signal (digitalis is not known: strain counts 3)."""
    v = ctx.value
    limb = max(max(v("r_mv", lead), v("s_mv", lead)) for lead in LIMB)
    s_right = max(v("s_mv", "V1"), v("s_mv", "V2"))
    r_left = max(v("r_mv", "V5"), v("r_mv", "V6"))
    voltage = max(above(limb, 2.0, 0.1), above(s_right, 3.0, 0.15), above(r_left, 3.0, 0.15))
    strain, strain_text = _strain(ctx)
    ptf = ctx.morph.ptf_v1
    atrial = below(ptf, -0.04, 0.008) if ptf is not None else 0.0
    left_axis = _arc_score(axis, LAD_ARC) if axis is not None else 0.0
    qrs = above(ctx.qrs_ms, 90.0, 6.0) if ctx.qrs_ms is not None else 0.0
    intrinsicoid = max(v("r_peak_ms", "V5"), v("r_peak_ms", "V6"))
    late = above(intrinsicoid, 50.0, 4.0) if math.isfinite(intrinsicoid) else 0.0
    items = [
        (3, voltage, f"voltage (limb R/S {limb:.2f}, S V1/V2 {s_right:.2f}, R V5/V6 {r_left:.2f} mV)"),
        (3, strain, f"strain ({strain_text})"),
        (3, atrial, f"P terminal force V1 {_fmt(ptf, 3)} mm*s"),
        (2, left_axis, f"axis {_fmt(axis, 0)} deg"),
        (1, qrs, f"QRS {_dur(ctx.qrs_ms)}"),
        (1, late, f"R peak time V5/V6 {_dur(intrinsicoid)}"),
    ]
    points = sum(weight * score for weight, score, _ in items)
    details = [f"{text} {weight * score:.1f}/{weight}" for weight, score, text in items]
    return points, details, strain, strain_text


def rvh_criteria(ctx: Context, axis: float | None, lvh: Hypertrophy, out: Findings) -> Hypertrophy:
    v = ctx.value
    r_v1, s_v1 = v("r_mv", "V1"), v("s_mv", "V1")
    s_left = max(v("s_mv", "V5"), v("s_mv", "V6"))
    dominant_r = min(above(r_v1 - s_v1, 0.0, 0.05), above(r_v1, 0.7, 0.05))
    right_axis = _arc_score(axis, RAD_ARC) if axis is not None else 0.0
    sokolow_right = above(r_v1 + s_left, 1.05, 0.1)
    rvh = (1.0 - ctx.wide) * max(dominant_r, min(right_axis, sokolow_right))
    rvh_text = (
        f"R V1 {r_v1:.2f}, S V1 {s_v1:.2f}, S V5/V6 {s_left:.2f} mV; axis {_fmt(axis, 0)} deg; "
        f"QRS {_dur(ctx.qrs_ms)}"
    )
    out.add(
        "RVH",
        rvh,
        "R/S V1 > 1 with R V1 >= 0.7 mV, or right axis with R V1 + S V5/V6 >= 1.05 mV, QRS < 120 ms",
        f"{AHA_V}; {SBC}",
        rvh_text,
    )
    lvh_any = max(lvh.lvh_voltage, lvh.lvh_re)
    out.add(
        "BVH",
        max(min(lvh_any, rvh), min(lvh_any, right_axis)),
        "LVH criteria with RVH criteria or right axis deviation",
        f"{SBC}; {AHA_V}",
        f"{lvh.lvh_text}; {rvh_text}",
    )
    return Hypertrophy(lvh.lvh_voltage, lvh.lvh_re, rvh, lvh.strain, lvh.lvh_text, lvh.strain_text, rvh_text)


def atrial_criteria(ctx: Context, out: Findings) -> None:
    """Only with P waves before the QRS (a PR interval was measured)."""
    morph = ctx.morph
    if morph.marks.p_on is None or not np.isfinite(morph.leads.p_mv).all():
        return
    v = ctx.value
    inferior = max(("II", "III", "aVF"), key=lambda lead: v("p_mv", lead))
    right = max(("V1", "V2"), key=lambda lead: v("p_mv", lead))
    rae = max(above(v("p_mv", inferior), 0.25, 0.02), above(v("p_mv", right), 0.15, 0.02))
    out.add(
        "RAE",
        rae,
        "P >= 0.25 mV in II, III or aVF, or >= 0.15 mV in V1/V2",
        f"{AHA_V}; {SBC}",
        f"P {v('p_mv', inferior):.2f} mV in {inferior}, {v('p_mv', right):.2f} mV in {right}",
    )
    ptf, p_ms = morph.ptf_v1, morph.p_ms
    by_force = below(ptf, -0.04, 0.008) if ptf is not None else 0.0
    by_width = above(p_ms, 120.0, 8.0) * (1.0 if morph.p_notched else 0.0) if p_ms is not None else 0.0
    lae = max(by_force, by_width)
    out.add(
        "LAE",
        lae,
        "P terminal force V1 <= -0.04 mm*s (Morris), or P >= 120 ms notched in II",
        f"{AHA_V}; {SBC}",
        f"P terminal force V1 {_fmt(ptf, 3)} mm*s; P {_dur(p_ms)}, "
        f"{'notched' if morph.p_notched else 'not notched'} in II",
    )
    out.add(
        "BAE",
        min(rae, lae),
        "Criteria of both right and left atrial enlargement",
        SBC,
        f"P {v('p_mv', inferior):.2f} mV in {inferior}, {v('p_mv', right):.2f} mV in {right}; "
        f"P terminal force V1 {_fmt(ptf, 3)} mm*s; P {_dur(p_ms)}",
    )


# --- Q waves and R progression -------------------------------------------------------------------------
def _left_conduction(ctx: Context) -> float:
    """A wide QRS that is not a right bundle branch pattern: LBBB, paced, ventricular or nonspecific
    delay, where Q waves and R progression cannot be read as infarction (UDMI); a right bundle branch
    block delays only the QRS's end and leaves its Q waves readable."""
    terminal = ctx.morph.leads.terminal_mv
    right = above(float(terminal[LEAD["V1"]]), MIN_TERMINAL_MV, 0.02) * below(
        float(terminal[LEAD["I"]]), 0.0, 0.02
    )
    return ctx.wide * (1.0 - right)


def _q_lead(ctx: Context, lead: str) -> float:
    """UDMI (prior infarction): Q >= 30 ms and >= 0.1 mV, or QS; in V2-V3 any Q > 20 ms, or QS."""
    q_ms, q_mv, r_mv = ctx.value("q_ms", lead), ctx.value("q_mv", lead), ctx.value("r_mv", lead)
    if lead in ("III", "V1") or not math.isfinite(q_ms):
        return 0.0
    qs = below(r_mv, 0.05, 0.015) * above(q_mv, 0.1, 0.02)
    if lead in ("V2", "V3"):
        return max(above(q_ms, 20.0, 4.0), qs)
    return max(min(above(q_ms, 30.0, 4.0), above(q_mv, 0.1, 0.02)), qs)


def _q_text(ctx: Context, lead: str) -> str:
    q_ms, q_mv = ctx.value("q_ms", lead), ctx.value("q_mv", lead)
    if not math.isfinite(q_ms):
        return f"{lead} no Q"
    kind = "QS" if ctx.value("r_mv", lead) < 0.05 else "Q"
    return f"{lead} {kind} {q_ms:.0f} ms {q_mv:.2f} mV"


def q_wave_criteria(ctx: Context, out: Findings) -> None:
    territories = _territories(lambda lead: _q_lead(ctx, lead), Q_TERRITORIES)
    wall = max(territories, key=lambda name: territories[name][0])
    best, _ = territories[wall]
    candidates = _territory_leads(wall, Q_TERRITORIES)
    if best >= 0.5:
        leads = [lead for lead in candidates if _q_lead(ctx, lead) >= 0.5]
        finding = f"{wall} wall: " + ", ".join(_q_text(ctx, lead) for lead in leads)
    else:
        counted = [lead for lead in STANDARD_LEADS if lead not in ("III", "aVR", "V1")]
        alone = [lead for lead in counted if _q_lead(ctx, lead) >= 0.5]
        widest = alone or [max(counted, key=lambda lead: np.nan_to_num(ctx.value("q_ms", lead)))]
        finding = "no pathological Q in two contiguous leads; " + ", ".join(
            _q_text(ctx, lead) for lead in widest
        )
    out.add(
        "EIA",
        best * (1.0 - _left_conduction(ctx)),
        "Pathological Q waves in two contiguous leads (Q >= 30 ms and >= 0.1 mV or QS; V2-V3 Q > 20 ms)",
        f"{UDMI}; {AHA_VI}",
        finding + f"; QRS {_dur(ctx.qrs_ms)}",
    )
    r = {lead: ctx.value("r_mv", lead) for lead in ("V1", "V2", "V3", "V4")}
    # "R not growing from V1 to V4": it gains less than the 0.3 mV that V3 must reach. A small R in V3
    # with a normal R in V4 is a late transition, common in normal hearts (7 of the labelled records).
    growth = r["V4"] - r["V1"]
    out.add(
        "PRWP",
        min(below(r["V3"], 0.3, 0.03), below(growth, 0.3, 0.03)) * (1.0 - _left_conduction(ctx)),
        "R V3 <= 0.3 mV, and R growing by less than 0.3 mV from V1 to V4",
        "Zema et al. 1981 (R V3 <= 3 mm); " + SBC,
        "R " + ", ".join(f"{lead} {value:.2f}" for lead, value in r.items()) + " mV",
    )


# --- ST segment and T wave -------------------------------------------------------------------------------
def _who(patient: Patient) -> str:
    if patient.sex == "F":
        return "woman"
    if patient.sex == "M":
        return "man" + ("" if patient.age_years is None else f" {patient.age_years:.0f} y")
    return "sex unknown"


def _elevation_limit(lead: str, patient: Patient) -> float:
    """UDMI: 1 mm except V2-V3: 2 mm men >= 40, 2.5 mm men < 40, 1.5 mm women. Unknown sex or age
    takes the highest limit, so that not knowing the patient never lowers the bar."""
    if lead not in ("V2", "V3"):
        return 1.0
    if patient.sex == "F":
        return 1.5
    if patient.sex == "M" and patient.age_years is not None and patient.age_years >= 40:
        return 2.0
    return 2.5


# The ST statements side by side (elevation, STEMI, depression, T inversion), as the 4th
# Universal Definition lists them: they share the territories and the confounders read above.
def st_criteria(ctx: Context, hyp: Hypertrophy, out: Findings) -> None:
    v = ctx.value
    narrow = 1.0 - ctx.wide

    def elevation(lead: str) -> float:
        return above(v("st_j_mm", lead), _elevation_limit(lead, ctx.patient), ST_WIDTH_MM)

    def depression(lead: str) -> float:  # horizontal or downsloping, >= 0.5 mm at J+60
        rise = v("st_60_mm", lead) - v("st_j_mm", lead)
        return min(below(v("st_60_mm", lead), -0.5, ST_WIDTH_MM), below(rise, 0.3, 0.15))

    raised = _territories(elevation)
    lowered = _territories(depression)
    # UDMI reads ST elevation in the absence of LVH (and LBBB): the deep S waves of ventricular
    # hypertrophy carry a discordant ST elevation in V1-V3 (V4-V6 when the heart is rotated).
    confounded = narrow * (1.0 - max(hyp.lvh_voltage, hyp.lvh_re, hyp.rvh))

    def st_text(name: str, key: str) -> str:
        return ", ".join(f"{lead} {_mm(v(key, lead))}" for lead in _territory_leads(name))

    def raised_in(name: str) -> str:
        return _listed([lead for lead in _territory_leads(name) if elevation(lead) >= 0.5])

    wall = max(raised, key=lambda name: raised[name][0])
    limits = f"limit 1 mm, V2-V3 {_elevation_limit('V2', ctx.patient)} mm ({_who(ctx.patient)})"
    out.add(
        "SEPI_INJ",
        confounded * raised[wall][0],
        "ST elevation at J in two contiguous leads (>= 1 mm; V2-V3 by sex and age)",
        f"{UDMI}; {AHA_VI}",
        f"{wall}: ST at J {st_text(wall, 'st_j_mm')}; elevated in {raised_in(wall)}; {limits}",
    )
    stemi = {name: min(raised[name][0], lowered[RECIPROCAL[name]][0]) for name in TERRITORIES}
    site = max(stemi, key=stemi.__getitem__)
    opposite = RECIPROCAL[site]
    down = _listed([lead for lead in _territory_leads(opposite) if depression(lead) >= 0.5])
    out.add(
        "STEMI",
        confounded * stemi[site],
        "Territorial ST elevation with reciprocal ST depression",
        f"{UDMI}; {AHA_VI}",
        f"{site}: ST at J {st_text(site, 'st_j_mm')}, elevated in {raised_in(site)}; reciprocal {opposite} "
        f"ST at J+60 {st_text(opposite, 'st_60_mm')}, depressed in {down}",
    )
    # LV strain and LVH voltage explain lateral ST-T changes as secondary (UDMI: not in LVH).
    secondary = max(hyp.lvh_voltage, hyp.lvh_re)
    low_wall = max(lowered, key=lambda name: lowered[name][0])
    low_leads = [lead for lead in _territory_leads(low_wall) if depression(lead) >= 0.5]
    out.add(
        "SENDO_INJ",
        narrow * (1.0 - secondary) * lowered[low_wall][0],
        "Horizontal or downsloping ST depression >= 0.5 mm in two contiguous leads",
        f"{UDMI}; {AHA_VI}",
        f"{low_wall}: ST at J+60 "
        + ", ".join(
            f"{lead} {_mm(v('st_60_mm', lead))} (J {_mm(v('st_j_mm', lead))})"
            for lead in _territory_leads(low_wall)
        )
        + f"; depressed in {_listed(low_leads)}",
    )

    def inverted(lead: str) -> float:  # T inversion >= 1 mm where R is prominent (R/S > 1)
        return min(
            below(v("t_mv", lead), -0.1, T_WIDTH_MV), above(v("r_mv", lead) - v("s_mv", lead), 0.0, 0.05)
        )

    flipped = _territories(inverted)
    t_wall = max(flipped, key=lambda name: flipped[name][0])
    t_leads = [lead for lead in _territory_leads(t_wall) if inverted(lead) >= 0.5]
    out.add(
        "SENDO_ISCH",
        narrow * (1.0 - secondary) * flipped[t_wall][0],
        "T inversion >= 1 mm in two contiguous leads with prominent R (R/S > 1)",
        f"{UDMI}; {AHA_IV}",
        f"{t_wall}: T "
        + ", ".join(f"{lead} {v('t_mv', lead):+.2f} mV" for lead in _territory_leads(t_wall))
        + f"; inverted in {_listed(t_leads)}",
    )
    _nonspecific(ctx, narrow, out)
    _secondary(ctx, hyp, out)


# Minnesota Code 5-3/5-4 leads and the condition each puts on the QRS.
MINNESOTA_T_LEADS = ("I", "II", "aVL", "aVF", "V3", "V4", "V5", "V6")


def _nonspecific(ctx: Context, narrow: float, out: Findings) -> None:
    """Minnesota Code 5-1 to 5-3 (T negative, diphasic or flat: under 0.5 mm here) or 5-4 (T positive
    and T/R < 1/20 with R >= 1 mV), in at least two of its leads, each with a mainly upright QRS of at
    least 0.5 mV (the Code's condition for aVL and aVF, applied to all: in low-voltage or rS leads a
    small T is not abnormal). A T inversion that also meets the ischaemia criterion scores SENDO_ISCH
    as well: readers of the labelled records gave both."""
    v = ctx.value
    scores: dict[str, float] = {}
    for lead in MINNESOTA_T_LEADS:
        r, s, t = v("r_mv", lead), v("s_mv", lead), v("t_mv", lead)
        upright = min(above(r - s, 0.0, 0.05), above(r, 0.5, 0.05))
        flat = below(t, 0.05, 0.02)
        low_ratio = min(above(r, 1.0, 0.05), above(t, 0.0, 0.01), below(t / max(r, 1e-3), 0.05, 0.01))
        scores[lead] = upright * max(flat, low_ratio)
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    second = scores[ranked[1]]
    hits = [lead for lead in ranked if scores[lead] >= 0.5]
    out.add(
        "REPOL_NS",
        narrow * second,
        "Flat, low or negative T waves in two or more leads with upright QRS (Minnesota Code 5-1 to 5-4)",
        f"Minnesota Code; {AHA_IV}",
        "T "
        + ", ".join(f"{lead} {v('t_mv', lead):+.2f} mV (R {v('r_mv', lead):.2f})" for lead in ranked[:3])
        + f"; abnormal in {', '.join(hits) if hits else 'none'}",
    )


def _secondary(ctx: Context, hyp: Hypertrophy, out: Findings) -> None:
    """ST-T opposite the QRS: in two leads with a wide QRS (bundle branch block, AHA part III), or
    the strain pattern of LVH (AHA part V)."""
    v = ctx.value
    area = ctx.morph.leads.qrs_area
    discordant: dict[str, float] = {}
    for lead in STANDARD_LEADS:
        sign = 1.0 if area[LEAD[lead]] >= 0 else -1.0
        against = min(
            above(-sign * v("st_60_mm", lead), 0.5, ST_WIDTH_MM),
            above(-sign * v("t_mv", lead), 0.1, T_WIDTH_MV),
            above(abs(float(area[LEAD[lead]])), 10.0, 2.0),
        )
        discordant[lead] = against
    ranked = sorted(discordant, key=discordant.__getitem__, reverse=True)
    by_qrs = ctx.wide * discordant[ranked[1]]
    by_strain = max(hyp.lvh_voltage, hyp.lvh_re) * hyp.strain
    leads = [lead for lead in ranked if discordant[lead] >= 0.5]
    out.add(
        "REPOL_SEC",
        max(by_qrs, by_strain),
        "ST-T opposite the QRS with QRS >= 120 ms, or LVH with strain",
        f"{AHA_III}; {AHA_V}",
        f"QRS {_dur(ctx.qrs_ms)}; discordant ST-T in {', '.join(leads) if leads else 'none'}; "
        f"{hyp.lvh_text}; strain: {hyp.strain_text}",
    )


# --- Early repolarisation and Brugada ------------------------------------------------------------------
ERP_PAIRS = (("II", "aVF"), ("aVF", "III"), ("aVL", "I"), ("V4", "V5"), ("V5", "V6"))


# Early repolarisation and the two Brugada patterns read the same J point and ST shape of
# different leads; kept together so their thresholds can be compared at a glance.
def repolarisation_variants(ctx: Context, out: Findings) -> None:
    v = ctx.value

    def j_wave(lead: str) -> float:
        peak = v("j_wave_mv", lead)
        return above(peak, 0.1, 0.02) if math.isfinite(peak) else 0.0

    best, pair = _best_pair(j_wave, ERP_PAIRS)
    waves = [
        f"{lead} {v('j_wave_mv', lead):.2f} mV"
        for lead in ("I", "II", "III", "aVL", "aVF", "V4", "V5", "V6")
        if math.isfinite(v("j_wave_mv", lead))
    ]
    out.add(
        "ERP",
        (1.0 - ctx.wide) * best,
        "J wave (notch or slur ending the QRS) >= 0.1 mV in two contiguous inferior or lateral leads",
        "Macfarlane et al. 2015 (JACC consensus); " + AHA_IV,
        f"J waves: {', '.join(waves) if waves else 'none'}; best pair {pair[0]}-{pair[1]}"
        if pair
        else "no J wave",
    )

    def coved(lead: str) -> float:
        fall = v("st_60_mm", lead) - v("st_j_mm", lead)
        return min(
            above(v("st_j_mm", lead), 2.0, ST_WIDTH_MM),
            below(fall, -0.5, 0.2),
            below(v("t_mv", lead), 0.0, 0.03),
        )

    def saddle(lead: str) -> float:
        # The saddle: from the take-off (the r' or J peak) down into an ST trough still >= 0.5 mm up.
        take_off = max(v("st_j_mm", lead), MM_PER_MV * np.nan_to_num(v("r_prime_mv", lead)))
        fall = v("st_60_mm", lead) - take_off
        return min(
            above(take_off, 2.0, ST_WIDTH_MM),
            above(v("st_60_mm", lead), 0.5, ST_WIDTH_MM),
            below(fall, -1.0, 0.2),
            above(v("t_mv", lead), 0.0, 0.03),
            above(np.nan_to_num(v("r_prime_mv", lead)), 0.1, 0.03),
        )

    right = ("V1", "V2")
    text = "; ".join(
        f"{lead} ST J {_mm(v('st_j_mm', lead))}, J+60 {_mm(v('st_60_mm', lead))}, T {v('t_mv', lead):+.2f} mV"
        for lead in right
    )
    out.add(
        "BRUGADA",
        max(coved(lead) for lead in right),
        "Type 1: coved ST elevation >= 2 mm with negative T in V1 or V2",
        "Priori et al. 2013 (HRS/EHRA/APHRS); Antzelevitch et al. 2016 (J-wave syndromes consensus)",
        text,
    )
    out.add(
        "BRUGADA_SUSP",
        max(saddle(lead) for lead in right) * (1.0 - max(coved(lead) for lead in right)),
        "Type 2: saddleback, r' or J >= 2 mm, ST >= 0.5 mm, positive T in V1 or V2",
        "Antzelevitch et al. 2016 (J-wave syndromes consensus); " + SBC,
        text + "; r' " + ", ".join(f"{lead} {_fmt(v('r_prime_mv', lead), 2)} mV" for lead in right),
    )


# --- Entry points -------------------------------------------------------------------------------------
def assess_strip(
    internal: np.ndarray,
    filtered: np.ndarray,
    peaks: np.ndarray,
    measured: dict[str, Any],
    patient: Patient,
) -> Findings:
    """The provider's call: its strip at the internal rate, as resampled and as band-passed, its R
    peaks, the PR, QT and mean RR it measured (measured["pr_ms"], ["qt_ms"], ["rr_mean_ms"]), and the
    patient."""
    if len(peaks) < 3:
        return Findings()
    morph = measure(internal, filtered, peaks, pr_ms=measured.get("pr_ms"), qt_ms=measured.get("qt_ms"))
    return assess(
        morph,
        qrs_ms=measured.get("qrs_ms"),
        qt_ms=measured.get("qt_ms"),
        rr_ms=measured.get("rr_mean_ms"),
        patient=patient,
    )


def assess(
    morph: Morphology | None,
    *,
    qrs_ms: float | None,
    qt_ms: float | None,
    rr_ms: float | None,
    patient: Patient,
) -> Findings:
    """Scores, rationale and measurements of the morphology criteria; empty without a median beat."""
    out = Findings()
    if morph is None:
        return out
    # The QRS duration of the median beat's own marks, the J point the ST levels are read at: on the
    # labelled records it told bundle branch blocks and ventricular tachycardia (124-280 ms) from
    # narrow complexes better than the per-lead delineation, which put several RBBB under 120 ms.
    ctx = Context(morph=morph, qrs_ms=morph.qrs_ms, qt_ms=qt_ms, rr_ms=rr_ms, patient=patient)
    axis = axis_criteria(ctx, out)
    low_voltage_criteria(ctx, out)
    qt_criteria(ctx, out)
    hyp = rvh_criteria(ctx, axis, lvh_criteria(ctx, axis, out), out)
    atrial_criteria(ctx, out)
    q_wave_criteria(ctx, out)
    st_criteria(ctx, hyp, out)
    repolarisation_variants(ctx, out)
    out.measurements.update(_feature_measurements(morph))
    return out


def _per_lead(values: np.ndarray) -> dict[str, float | None]:
    return {
        lead: (float(value) if math.isfinite(value) else None)
        for lead, value in zip(STANDARD_LEADS, values, strict=True)
    }


def _feature_measurements(morph: Morphology) -> dict[str, Any]:
    leads, marks = morph.leads, morph.marks
    return {
        "morphology_marks_ms": {
            "qrs_onset": marks.ms(marks.qrs_on),
            "j_point": marks.ms(marks.j),
            "p_onset": marks.ms(marks.p_on),
            "t_end": marks.ms(marks.t_end),
            "qrs_duration": morph.qrs_ms,
        },
        "p_wave": {
            "duration_ms": morph.p_ms,
            "terminal_force_v1_mm_s": morph.ptf_v1,
            "notched_ii": 1.0 if morph.p_notched else 0.0,
        },
        **{
            name: _per_lead(getattr(leads, name))
            for name in ("q_mv", "q_ms", "r_mv", "s_mv", "r_prime_mv", "st_j_mm", "st_60_mm", "t_mv", "p_mv")
        },
        # The ST slope as criteria read it: the level's change from J to J+60 ms.
        "st_slope_mm_per_60ms": _per_lead(leads.st_60_mm - leads.st_j_mm),
        "qrs_area_mv_ms": _per_lead(leads.qrs_area),
    }
