"""Intraventricular conduction criteria: bundle branch and fascicular blocks and nonspecific delay, read
on the per-lead QRS waveform of the median beat (qrs_shape.py), scored with logistics around the
published thresholds (0.5 at the threshold) and explained by a Rationale naming the QRS patterns met.

Source: AHA/ACCF/HRS 2009 recommendations, part III (Surawicz et al.), the criteria the SBC 2016/2022
guideline (which TNMG reports follow) restates; Minnesota Code 7-1-1 (LBBB) and 7-2-1 (RBBB).
* RBBB: QRS >= 120 ms; rsr', rsR' or rSR' (or a broad, notched R) in V1 or V2; S wave longer than the R
  or over 40 ms in I and V6. IRBBB: the same with a QRS of 110-119 ms.
* LBBB: QRS >= 120 ms; broad notched or slurred R in I, aVL, V5, V6; no q in I, V5, V6; R peak time over
  60 ms in V5, V6; QS or rS in V1. ILBBB: QRS 110-119 ms, R peak time over 60 ms in V4-V6 and no q in I,
  V5, V6.
* IVCD: QRS over 110 ms without the criteria of a bundle branch block (nor pre-excitation, nor a
  ventricular or paced rhythm).
* LAFB: frontal axis -45 to -90 degrees, qR in aVL, QRS under 120 ms. LPFB: axis +90 to +180, rS in I
  and aVL, qR in III and aVF, QRS under 120 ms (the guideline adds: no right ventricular hypertrophy, which
  the reader weighs). RBBB_LAFB and RBBB_LPFB: RBBB with the fascicular block's axis and patterns.
Every score is damped by the rhythm's ventricular or paced origin and by ventricular pre-excitation: these
are blocks of conducted beats, read on a QRS that the bundle branches make.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotations.lib.providers.measurements.findings import Findings
from annotations.lib.providers.measurements.qrs_shape import LeadShape
from annotations.lib.providers.measurements.rules import Rule
from annotations.lib.providers.measurements.waves import LEAD

CODES = ("RBBB", "IRBBB", "LBBB", "ILBBB", "IVCD", "LAFB", "LPFB", "RBBB_LAFB", "RBBB_LPFB")
SOURCE = "AHA/ACCF/HRS 2009 recommendations, part III; SBC guideline (2016, 2022)"

WIDE = Rule(120.0, 6.0, above=True)
NARROW = Rule(120.0, 6.0, above=False)
INCOMPLETE = (Rule(110.0, 4.0, above=True), Rule(120.0, 4.0, above=False))
PROLONGED = Rule(110.0, 5.0, above=True)
TERMINAL_UP = Rule(0.05, 0.03, above=True)  # mV, mean of the QRS's last 40 ms
BROAD_S = Rule(40.0, 5.0, above=True)  # ms
LATE_R = Rule(60.0, 5.0, above=True)  # ms, R peak time in V5/V6 (LBBB, ILBBB)
LATE_V1_R_MS = 50.0  # R peak time in V1 (RBBB)
LEFT_AXIS = (Rule(-45.0, 5.0, above=False), Rule(-90.0, 5.0, above=True))
RIGHT_AXIS = (Rule(90.0, 5.0, above=True), Rule(180.0, 5.0, above=False))
WEAK = 0.3  # a pattern criterion half met (e.g. a broad R in V1 without a visible r')


@dataclass(frozen=True)
class Conduction:
    """What the conduction criteria read: the per-lead QRS, the QRS width (qrs_ms as reported, wide_ms
    as the width criteria use it: rhythm_criteria.Strip says why), the frontal QRS axis, and how much of
    the rhythm is conducted (not ventricular, not paced) or pre-excited."""

    shapes: list[LeadShape]
    qrs_ms: float | None
    wide_ms: float
    axis_deg: float | None
    conducted: float
    preexcited: float

    def lead(self, name: str) -> LeadShape:
        return self.shapes[LEAD[name]]


def pattern(shape: LeadShape) -> str:
    """A lead's QRS as a reader writes it: capitals for waves of 0.5 mV or more, primes for repeats."""
    letters, ups, downs = [], 0, 0
    for index, wave in enumerate(shape.waves):
        big = abs(wave.peak_mv) >= 0.5
        if wave.sign > 0:
            letters.append(("R" if big else "r") + "'" * ups)
            ups += 1
        elif ups == 0 and index == 0 and len(shape.waves) > 1:
            letters.append("Q" if big else "q")
        else:
            letters.append(("S" if big else "s") + "'" * max(0, downs - (shape.q is not None)))
            downs += 1
        if wave.sign < 0 and index == 0:
            downs += 1
    if shape.qs:
        return "QS"
    return "".join(letters) or "flat"


# --- Right bundle --------------------------------------------------------------------------------------
def _v1_delay(shape: LeadShape, qrs_ms: float) -> float:
    """V1/V2: a late upward deflection: an R' (rsr', rSR'), or a broad or notched R (half the QRS or
    more), and the QRS's last 40 ms above the baseline."""
    broad = any(wave.sign > 0 and wave.ms >= 0.5 * qrs_ms for wave in shape.waves)
    late = (shape.r_peak_ms or 0.0) > LATE_V1_R_MS  # a qR in V1: its R peaks late (AHA part III)
    late_r = shape.r_prime is not None or shape.notched_r or broad or late
    return TERMINAL_UP.score(shape.terminal_mv) * (1.0 if late_r else WEAK)


def _lateral_s(shape: LeadShape) -> float:
    """I/V6: a terminal S wave over 40 ms or longer than the R."""
    s, r = shape.s, shape.r
    if s is None:
        return 0.0
    longer = Rule(0.0, 5.0, above=True).score(s.ms - r.ms) if r is not None else 1.0
    return max(BROAD_S.score(s.ms), longer)


def _lateral(c: Conduction) -> float:
    """ "In leads I and V6": each lead's score is soft, and their mean lets a clear S in one lead and a
    slurred one in the other still count (an AF record of tests/data with RBBB has its S in I only)."""
    return (_lateral_s(c.lead("I")) + _lateral_s(c.lead("V6"))) / 2


def _right(c: Conduction) -> tuple[float, str]:
    v1, v2 = c.lead("V1"), c.lead("V2")
    front = max(_v1_delay(v1, c.wide_ms), _v1_delay(v2, c.wide_ms))
    side = _lateral(c)

    def s_ms(name: str) -> str:
        s = c.lead(name).s
        return f"S {s.ms:.0f} ms in {name}" if s else f"no S in {name}"

    text = (
        f"{pattern(v1)} in V1 (terminal {v1.terminal_mv:+.2f} mV), {pattern(v2)} in V2, "
        f"{s_ms('I')}, {s_ms('V6')}"
    )
    return front * side, text


# --- Left bundle ---------------------------------------------------------------------------------------
def _broad_r(shape: LeadShape, qrs_ms: float) -> float:
    """I, aVL, V5, V6: an R taking most of the QRS, notched or slurred, with no S after it."""
    r = shape.r
    if r is None:
        return 0.0
    broad = Rule(0.5, 0.08, above=True).score(r.ms / qrs_ms)
    no_s = TERMINAL_UP.score(shape.terminal_mv) if not shape.notched_r else 1.0
    return broad * no_s


def _no_q(shape: LeadShape) -> float:
    return 0.0 if shape.q is not None else 1.0


def _v1_negative(shape: LeadShape) -> float:
    """V1: QS or rS - a small r at most, then a deep S."""
    r = shape.r.peak_mv if shape.r else 0.0
    s = -min((wave.peak_mv for wave in shape.waves if wave.sign < 0), default=0.0)
    return Rule(0.0, 0.1, above=True).score(s - 2 * r) * (1.0 if shape.r_prime is None else WEAK)


def _left(c: Conduction) -> tuple[float, float, str]:
    """(full LBBB morphology, incomplete LBBB morphology, finding)."""
    qrs = max(c.wide_ms, 1.0)
    lateral = ("I", "aVL", "V5", "V6")
    broad = sum(_broad_r(c.lead(name), qrs) for name in lateral) / len(lateral)
    no_q = min(_no_q(c.lead(name)) for name in ("I", "V5", "V6"))
    late = max(LATE_R.score(c.lead(name).r_peak_ms or 0.0) for name in ("V5", "V6"))  # R peak time over 60 ms
    late_any = max(LATE_R.score(c.lead(name).r_peak_ms or 0.0) for name in ("V4", "V5", "V6"))
    v1 = _v1_negative(c.lead("V1"))
    r_peak = max((c.lead(name).r_peak_ms or 0.0) for name in ("V5", "V6"))
    text = (
        f"{pattern(c.lead('I'))} in I, {pattern(c.lead('aVL'))} in aVL, {pattern(c.lead('V5'))} in V5, "
        f"{pattern(c.lead('V6'))} in V6, {pattern(c.lead('V1'))} in V1, R peak time {r_peak:.0f} ms in V5/V6"
    )
    return broad * no_q * late * v1, late_any * no_q * v1, text


# --- Fascicles -----------------------------------------------------------------------------------------
def _qr(shape: LeadShape) -> float:
    """qR: a small q, then a dominant R."""
    q, r = shape.q, shape.r
    return 1.0 if q is not None and r is not None and r.peak_mv > -q.peak_mv else 0.0


def _rs(shape: LeadShape) -> float:
    """rS: a small r, then a deeper S."""
    r, s = shape.r, shape.s
    if r is None or s is None or shape.q is not None:
        return 0.0
    return Rule(0.0, 0.1, above=True).score(-s.peak_mv - r.peak_mv)


def _in_arc(axis: float | None, rules: tuple[Rule, Rule]) -> float:
    return 0.0 if axis is None else min(rule.score(axis) for rule in rules)


def _fascicles(c: Conduction) -> tuple[float, float, str, str]:
    axis = f"QRS axis {c.axis_deg:.0f} deg" if c.axis_deg is not None else "QRS axis indeterminate"
    anterior = _in_arc(c.axis_deg, LEFT_AXIS) * max(_qr(c.lead("aVL")), WEAK)
    posterior = (
        _in_arc(c.axis_deg, RIGHT_AXIS)
        * max(min(_rs(c.lead("I")), _rs(c.lead("aVL"))), WEAK)
        * max(min(_qr(c.lead("III")), _qr(c.lead("aVF"))), WEAK)
    )
    return (
        anterior,
        posterior,
        f"{axis}, {pattern(c.lead('aVL'))} in aVL, {pattern(c.lead('II'))} in II, "
        f"{pattern(c.lead('III'))} in III",
        f"{axis}, {pattern(c.lead('I'))} in I, {pattern(c.lead('aVL'))} in aVL, "
        f"{pattern(c.lead('III'))} in III, {pattern(c.lead('aVF'))} in aVF",
    )


def typical_block(shapes: list[LeadShape], wide_ms: float) -> float:
    """How typical of a bundle branch block the QRS is, its width aside: a triphasic rsR' in V1 or V2
    with a terminal S in I or V6, or the LBBB patterns. An aberrant supraventricular beat shows these;
    a ventricular one seldom does (Brugada et al., Circulation 1991)."""
    c = Conduction(shapes, None, wide_ms, None, 1.0, 0.0)
    triphasic = max(float(c.lead(name).r_prime is not None) for name in ("V1", "V2"))
    side = max(_lateral_s(c.lead("I")), _lateral_s(c.lead("V6")))
    left, _, _ = _left(c)
    return max(triphasic * side, left)


# The conduction criteria in the order of the AHA/ACCF/HRS 2009 part III table, each a few lines
# that build on the complete/incomplete widths computed once at the top.
def assess(c: Conduction) -> Findings:
    out = Findings()
    wide, narrow = WIDE.score(c.wide_ms), NARROW.score(c.wide_ms)
    incomplete = min(rule.score(c.wide_ms) for rule in INCOMPLETE)
    qrs = f"QRS {c.wide_ms:.0f} ms"
    right, right_text = _right(c)
    # An incomplete RBBB's r' may end on the baseline: an r' in V1 or V2 meets its V1 criterion.
    r_prime = max(float(c.lead(name).r_prime is not None) for name in ("V1", "V2"))
    right_incomplete = max(right, r_prime * _lateral(c))
    left, left_incomplete, left_text = _left(c)
    anterior, posterior, anterior_text, posterior_text = _fascicles(c)
    # A pre-excited QRS is wide and slurred without any block: no conduction criterion applies to it.
    k = c.conducted * (1.0 - c.preexcited)
    out.add(
        "RBBB",
        wide * right * k,
        "QRS >= 120 ms, rsR' in V1/V2, broad S in I and V6",
        SOURCE,
        f"{qrs}, {right_text}",
    )
    out.add(
        "IRBBB",
        incomplete * right_incomplete * k,
        "QRS 110-119 ms with the RBBB patterns",
        SOURCE,
        f"{qrs}, {right_text}",
    )
    out.add(
        "LBBB",
        wide * left * k,
        "QRS >= 120 ms, broad R without q in I/aVL/V5/V6, QS or rS in V1",
        SOURCE,
        f"{qrs}, {left_text}",
    )
    out.add(
        "ILBBB",
        incomplete * left_incomplete * k,
        "QRS 110-119 ms, R peak time > 60 ms in V4-V6, no q in I/V5/V6",
        SOURCE,
        f"{qrs}, {left_text}",
    )
    reported = c.qrs_ms if c.qrs_ms is not None else c.wide_ms
    blocks = max(right, left)
    out.add(
        "IVCD",
        PROLONGED.score(reported) * (1.0 - blocks) * k,
        "QRS > 110 ms without the criteria of a bundle branch block",
        SOURCE,
        f"QRS {reported:.0f} ms; RBBB patterns {right:.2f}, LBBB patterns {left:.2f}",
    )
    out.add(
        "LAFB",
        narrow * anterior * k,
        "axis -45 to -90 deg, qR in aVL, QRS < 120 ms",
        SOURCE,
        f"{qrs}, {anterior_text}",
    )
    out.add(
        "LPFB",
        narrow * posterior * k,
        "axis +90 to +180 deg, rS in I/aVL, qR in III/aVF, QRS < 120 ms",
        SOURCE,
        f"{qrs}, {posterior_text}",
    )
    out.add(
        "RBBB_LAFB",
        wide * right * anterior * k,
        "RBBB with left anterior fascicular block",
        SOURCE,
        f"{qrs}, {right_text}; {anterior_text}",
    )
    out.add(
        "RBBB_LPFB",
        wide * right * posterior * k,
        "RBBB with left posterior fascicular block",
        SOURCE,
        f"{qrs}, {right_text}; {posterior_text}",
    )
    return out
