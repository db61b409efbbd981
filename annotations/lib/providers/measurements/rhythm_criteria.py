"""Rhythm and AV-conduction criteria: published definitions applied to the beat table (beats.py), the P
wave of the median beats and the atrial activity of the strip, each scored with a logistic around its
threshold (0.5 at the threshold, rules.Rule) and explained by a Rationale with the numbers that drove it.

Sources:
* AHA/ACC/HRS recommendations for the standardization and interpretation of the ECG, part II (Mason et
  al. 2007, the diagnostic statement list) for the rhythm statements and their rate limits, and part III
  (Surawicz et al. 2009) for ventricular pre-excitation.
* SBC (Brazilian Society of Cardiology) guideline on ECG analysis and reports, 2016 (Pastore et al.) and
  2022 (Samesima et al.), which TNMG reports follow.
* Minnesota Code (Prineas et al.): 8-1 premature beats, 8-3 atrial fibrillation and flutter, 6-4-1
  ventricular pre-excitation.

How the codes exclude each other. A rhythm is sinus when a consistent P wave precedes the QRS (beats.py,
p_snr) with a sinus P axis, no flutter waves, no fibrillation and no ventricular or paced dominant beat;
SR, SB and ST are that, times the rate band. A wide-QRS rhythm without a consistent P wave is ventricular
(VT, AIVR), never sinus: a sinus tachycardia with a bundle branch block keeps its P waves, and scores ST
and RBBB/LBBB. "And" is a product of scores, "not" one minus a score.

Left out, and why:
* AVB2 (Mobitz I/II, 2:1) and AVB3, AVDISS: they need every P wave on the strip, conducted or not; the P
  waves are found here on the median beat, where only the conducted ones add up. A P wave detector that
  walks the strip beat by beat through QRS and T waves is not written yet.
* MAT (three P morphologies), EAR (ectopic atrial rhythm at a normal rate): the P axis of a median beat
  is good enough to tell a sinus from an inverted P (AT below), not three P morphologies apart; EAR is
  left to the reader for lack of labelled records to check it on.
* JT, ESC_J, ESC_V, PACE_DYS: no labelled records; a pacing system's dysfunction needs the pacing mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from annotations.lib.providers.measurements.beats import (
    ALIEN,
    PREMATURE,
    SAME_SHAPE,
    WIDER,
    Beats,
    Flutter,
)
from annotations.lib.providers.measurements.findings import Findings
from annotations.lib.providers.measurements.rules import Rule

CODES = (
    "SR",
    "SB",
    "ST",
    "SA",
    "AF",
    "AFL",
    "SVT",
    "AT",
    "JR",
    "AIVR",
    "VT",
    "NSVT",
    "VPB",
    "SVPB",
    "SPAUSE",
    "1dAVb",
    "SHORT_PR",
    "WPW",
    "PACE",
)

AHA_II = "AHA/ACC/HRS 2007 recommendations, part II"
AHA_III = "AHA/ACCF/HRS 2009 recommendations, part III"
SBC = "SBC guideline on ECG analysis and reports (2016, 2022)"
MINNESOTA = "Minnesota Code"

# Rate limits: bradycardia < 60, tachycardia > 100 bpm (AHA part II; the SBC guideline puts sinus
# bradycardia under 50 bpm, the AHA limit is kept as the provider always has). Width 2-3 bpm: one beat
# more or less in a 10 s window.
SLOW, FAST = Rule(60.0, 2.0, above=False), Rule(100.0, 3.0, above=True)
# A P wave precedes the beats consistently: p_snr (beats.py) at 0.5 scores 0.5, on a log scale (sinus
# records of tests/data: median 7, 1 or more on nine in ten; atrial fibrillation's f waves: 0).
P_PRESENT = Rule(math.log10(0.5), 0.15, above=True)
# Sinus P axis: positive in I and aVF, 0 to +75 degrees (AHA part II) - taken as -30 to +100 here, since a
# small P wave's axis on a median beat wanders by some 20 degrees.
SINUS_P_AXIS = (Rule(-30.0, 10.0, above=True), Rule(100.0, 10.0, above=False))
# Irregularly irregular: the median successive RR difference over the mean RR, of intervals between
# dominant beats that neither follow nor precede an ectopic one (~0.02 in sinus rhythm, > 0.1 in AF; the
# median, so that an isolated pair of differences around a missed ectopic does not decide). No consensus
# number exists; 0.06 is our choice, between them.
IRREGULAR = Rule(0.06, 0.015, above=True)
MIN_INTERVALS = 5
FLUTTER = Rule(0.5, 0.06, above=True)  # beats.atrial_flutter's index
BLOCKED_FLUTTER = Rule(2.5, 0.2, above=True)  # atrial waves per QRS (beats.MIN_WAVES_PER_BEAT)
WIDE = Rule(120.0, 6.0, above=True)  # QRS >= 120 ms: ventricular or aberrant (AHA part III)
PROLONGED_QRS = Rule(110.0, 5.0, above=True)  # pre-excitation widens the QRS past 110 ms (AHA part III)
# Sinus arrhythmia: P-P intervals varying by more than 120 ms (the usual textbook limit; 160 ms is also
# used). The statement itself is in both the AHA list and the SBC guideline.
PP_VARIATION = Rule(120.0, 15.0, above=True)
PAUSE = Rule(2000.0, 100.0, above=True)  # a pause over 2 s (the usual limit of a sinus pause)
PAUSE_RATIO = Rule(1.5, 0.1, above=True)  # and 1.5 times the dominant RR
LONG_PR, SHORT_PR = Rule(200.0, 10.0, above=True), Rule(120.0, 8.0, above=False)
DELTA = Rule(0.35, 0.08, above=False)  # qrs_shape upstroke ratio: a slurred start (delta wave)
DELTA_LEADS = Rule(2.5, 0.5, above=True)  # in three leads or more
PACED = Rule(0.5, 0.1, above=True)  # share of beats with a pacing spike before them
NSVT_RUN = 3  # consecutive ventricular beats


def _and(*scores: float) -> float:
    return float(np.prod(scores))


def _not(score: float) -> float:
    return 1.0 - score


@dataclass(frozen=True)
class Strip:
    """What the rhythm criteria read. qrs_wide_ms: the QRS the width criteria use, the larger of the
    per-lead delineation's span and the median beat's spatial-velocity span (waves.qrs_span), since the
    first ends a bundle branch block's or a ventricular beat's QRS before its last deflection. paced:
    per beat, a pacing spike before it, None when the recording cannot show spikes (pacing_note says
    why)."""

    beats: Beats
    pr_ms: float | None
    qrs_ms: float | None
    qrs_wide_ms: float | None
    p_axis_deg: float | None
    flutter: Flutter | None
    paced: np.ndarray | None
    pacing_note: str
    upstrokes: tuple[float | None, ...] = ()  # per lead, qrs_shape.LeadShape.upstroke
    typical_block: float = 0.0  # conduction_criteria.typical_block: an aberrant, not ventricular, QRS
    # From the P onset to the earliest QRS onset either QRS measurement gives (the spatial velocity's
    # sees a delta wave's slow start, which the per-lead delineation places the QRS after).
    pr_earliest_ms: float | None = None

    @property
    def rate_bpm(self) -> float:
        rr = self.beats.rr_ms[1:]
        return 60000.0 / float(np.mean(rr))


# --- Shared judgements -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Basis:
    """The judgements several codes share, each a score in [0, 1], with the numbers behind them."""

    p_present: float
    p_text: str
    sinus_axis: float
    irregular: float
    irregularity: float | None
    intervals: int
    flutter: float
    wide: float
    paced: float
    typical_block: float

    @property
    def fibrillation(self) -> float:
        return _and(self.irregular, _not(self.p_present), _not(self.flutter), _not(self.paced))

    @property
    def ventricular(self) -> float:
        """Dominant beats of ventricular origin: wide, regular, no P wave, not paced, and not the QRS of
        a typical bundle branch block. An irregular wide rhythm without P waves is atrial fibrillation
        conducted with a bundle branch block (two of tests/data's AF records), and a supraventricular
        tachycardia with a typical block is aberrant, not ventricular (Brugada et al., Circulation
        1991)."""
        return _and(
            self.wide,
            _not(self.p_present),
            _not(self.paced),
            _not(self.typical_block),
            _not(self.irregular),
        )

    @property
    def sinus(self) -> float:
        return _and(self.p_present, self.sinus_axis, _not(self.fibrillation), _not(self.flutter))


def _clean_intervals(beats: Beats) -> np.ndarray:
    """RR intervals between dominant beats, neither following nor preceding an ectopic or paced beat."""
    labels = beats.labels
    keep = [
        index
        for index in range(1, len(labels))
        if labels[index] == "N"
        and labels[index - 1] == "N"
        and (index + 1 == len(labels) or labels[index + 1] == "N")
    ]
    return beats.rr_ms[keep]


def _irregularity(beats: Beats) -> tuple[float | None, int]:
    """Median successive difference over mean RR, on the clean intervals (on all when under
    MIN_INTERVALS are clean: a rhythm with ectopy everywhere is itself irregular)."""
    rr = _clean_intervals(beats)
    if len(rr) < MIN_INTERVALS:
        rr = beats.rr_ms[1:]
    if len(rr) < MIN_INTERVALS:
        return None, len(rr)
    return float(np.median(np.abs(np.diff(rr))) / np.mean(rr)), len(rr)


def _p_wave_text(beats: Beats) -> str:
    return f"P wave before {int(beats.p_wave.sum())} of {len(beats.p_wave)} beats"


def basis(strip: Strip) -> Basis:
    snr = strip.beats.p_snr
    p_present = P_PRESENT.score(math.log10(max(snr, 1e-6))) if snr is not None else 0.0
    # For a reader, how many beats a like P wave precedes; the signal-to-noise ratio behind the score
    # (unbounded on a clean strip) stays in the measurements.
    p_text = "no P wave on the median beat" if snr is None else _p_wave_text(strip.beats)
    axis = strip.p_axis_deg
    sinus_axis = 1.0 if axis is None else min(rule.score(axis) for rule in SINUS_P_AXIS)
    irregularity, intervals = _irregularity(strip.beats)
    flutter = 0.0
    if strip.flutter is not None:
        flutter = FLUTTER.score(strip.flutter.index) * BLOCKED_FLUTTER.score(strip.flutter.waves_per_beat)
    paced = 0.0 if strip.paced is None or not len(strip.paced) else PACED.score(float(strip.paced.mean()))
    return Basis(
        p_present=p_present,
        p_text=p_text,
        sinus_axis=sinus_axis,
        irregular=IRREGULAR.score(irregularity) if irregularity is not None else 0.0,
        irregularity=irregularity,
        intervals=intervals,
        flutter=flutter,
        wide=WIDE.score(strip.qrs_wide_ms) if strip.qrs_wide_ms is not None else 0.0,
        paced=paced,
        typical_block=strip.typical_block,
    )


# --- Criteria ----------------------------------------------------------------------------------------------
def _sinus(out: Findings, strip: Strip, b: Basis) -> None:
    rate = strip.rate_bpm
    axis = "" if strip.p_axis_deg is None else f", P axis {strip.p_axis_deg:.0f} deg"
    finding = f"rate {rate:.0f} bpm, {b.p_text}{axis}"
    source = f"{AHA_II}; {SBC}"
    slow, fast = SLOW.score(rate), FAST.score(rate)
    out.add("SR", _and(b.sinus, _not(slow), _not(fast)), "P before every QRS, 60-100 bpm", source, finding)
    out.add("SB", _and(b.sinus, slow), "sinus rhythm under 60 bpm", source, finding)
    out.add("ST", _and(b.sinus, fast), "sinus rhythm over 100 bpm", source, finding)
    rr = _clean_intervals(strip.beats)
    if len(rr) >= MIN_INTERVALS:
        spread = float(rr.max() - rr.min())
        out.add(
            "SA",
            _and(b.sinus, PP_VARIATION.score(spread)),
            "sinus rhythm, P-P intervals varying by more than 120 ms",
            source,
            f"P-P {rr.min():.0f}-{rr.max():.0f} ms (spread {spread:.0f} ms) over {len(rr)} sinus intervals",
        )


def _atrial(out: Findings, strip: Strip, b: Basis) -> None:
    if b.irregularity is not None:
        out.add(
            "AF",
            b.fibrillation,
            "irregularly irregular RR without consistent P waves",
            f"{SBC}; {MINNESOTA} 8-3",
            f"RR irregularity {b.irregularity:.3f} (median successive difference / mean RR, "
            f"{b.intervals} intervals without ectopic beats), {b.p_text}",
        )
    if strip.flutter is not None:
        per_minute = 60000.0 / strip.flutter.cycle_ms
        out.add(
            "AFL",
            b.flutter,
            "flutter waves at 240-350/min, 3:1 or higher or variable block",
            f"{SBC}; {MINNESOTA} 8-3",
            f"atrial waves every {strip.flutter.cycle_ms:.0f} ms ({per_minute:.0f}/min) in II, III, aVF, "
            f"V1 (index {strip.flutter.index:.2f}), {strip.flutter.waves_per_beat:.1f} per QRS",
        )


def _narrow_tachycardias(out: Findings, strip: Strip, b: Basis) -> None:
    rate = strip.rate_bpm
    narrow, fast = _not(b.wide), FAST.score(rate)
    regular = _not(b.irregular)
    width = f"QRS {strip.qrs_wide_ms:.0f} ms" if strip.qrs_wide_ms is not None else "QRS width unknown"
    finding = f"rate {rate:.0f} bpm, {width}, {b.p_text}"
    out.add(
        "SVT",
        _and(narrow, fast, regular, _not(b.p_present), _not(b.flutter), _not(b.paced)),
        "regular narrow-QRS tachycardia without visible P waves",
        f"{AHA_II}; {SBC}",
        finding,
    )
    if strip.p_axis_deg is not None:
        out.add(
            "AT",
            _and(narrow, fast, b.p_present, _not(b.sinus_axis), _not(b.flutter)),
            "narrow-QRS tachycardia with P waves of non-sinus axis",
            SBC,
            f"{finding}, P axis {strip.p_axis_deg:.0f} deg",
        )
    escape = min(Rule(40.0, 3.0, above=True).score(rate), Rule(100.0, 3.0, above=False).score(rate))
    out.add(
        "JR",
        _and(narrow, regular, escape, _not(b.p_present), _not(b.flutter), _not(b.paced)),
        "regular narrow QRS at 40-100 bpm without a P wave before it",
        SBC,
        finding,
    )


def _ventricular(out: Findings, strip: Strip, b: Basis) -> None:
    beats, rate = strip.beats, strip.rate_bpm
    width = f"QRS {strip.qrs_wide_ms:.0f} ms" if strip.qrs_wide_ms is not None else "QRS width unknown"
    finding = f"rate {rate:.0f} bpm, {width}, {b.p_text}"
    out.add(
        "VT",
        _and(b.ventricular, FAST.score(rate)),
        "regular wide QRS (>= 120 ms) at >= 100 bpm without P waves, the whole strip",
        f"{AHA_II}; {SBC}",
        finding,
    )
    accelerated = min(Rule(50.0, 3.0, above=True).score(rate), Rule(110.0, 3.0, above=False).score(rate))
    out.add(
        "AIVR",
        _and(b.ventricular, accelerated),
        "regular wide QRS at 50-110 bpm without P waves",
        SBC,
        finding,
    )
    best, text = 0.0, f"longest run of ventricular beats: {max((n for _, n in beats.runs('V')), default=0)}"
    for start, length in beats.runs("V"):
        if length < NSVT_RUN:
            continue
        run_rate = 60000.0 / float(np.mean(beats.rr_ms[start + 1 : start + length]))
        score = FAST.score(run_rate) * (length < len(beats.labels))
        if score >= best:
            best = score
            text = (
                f"{length} consecutive ventricular beats at {run_rate:.0f} bpm "
                f"(beats {start + 1}-{start + length})"
            )
    out.add(
        "NSVT",
        _and(best, _not(b.ventricular)),
        ">= 3 consecutive ventricular beats at >= 100 bpm, not the whole strip",
        f"{AHA_II}; {SBC}",
        text,
    )


def _ectopy(out: Findings, strip: Strip, b: Basis) -> None:
    beats = strip.beats
    if b.ventricular > 0.5 or b.paced > 0.5:
        return  # ectopy is read against a supraventricular dominant rhythm
    unlike = np.array([Rule(SAME_SHAPE, 0.05, above=False).score(r) for r in beats.correlation])
    wider = np.array([Rule(WIDER, 0.05, above=True).score(w) for w in beats.width_ratio])
    alien = np.array([Rule(ALIEN, 0.05, above=False).score(r) for r in beats.correlation])
    v_score = np.maximum(unlike * wider, alien) * (beats.labels != "P") * beats.complete
    v_beats = np.flatnonzero(beats.labels == "V")
    out.add(
        "VPB",
        float(v_score.max()) if len(v_score) else 0.0,
        "premature wide QRS of another morphology than the dominant beats",
        f"{AHA_II}; {MINNESOTA} 8-1",
        _beat_list(v_beats, "ventricular")
        + (
            f": QRS {beats.width_ratio[v_beats].min():.1f}-{beats.width_ratio[v_beats].max():.1f} times "
            f"the dominant width, correlation {beats.correlation[v_beats].max():.2f} or less"
            if len(v_beats)
            else f" (lowest correlation with the dominant beat {beats.correlation.min():.2f})"
        ),
    )
    ratio = beats.rr_ms / beats.local_rr_ms
    early = np.array([Rule(PREMATURE, 0.03, above=False).score(x) if np.isfinite(x) else 0.0 for x in ratio])
    same = np.array([Rule(SAME_SHAPE, 0.05, above=True).score(r) for r in beats.correlation])
    s_score = early * same * (beats.labels != "P")
    s_beats = np.flatnonzero(beats.labels == "S")
    out.add(
        "SVPB",
        _and(float(s_score.max()) if len(s_score) else 0.0, _not(b.fibrillation), _not(b.flutter)),
        "premature beat of the dominant QRS morphology",
        f"{AHA_II}; {MINNESOTA} 8-1",
        _beat_list(s_beats, "supraventricular premature")
        + (
            f": RR {100 * np.nanmin(ratio[s_beats]):.0f}-{100 * np.nanmax(ratio[s_beats]):.0f} % of the "
            "local RR, same QRS"
            if len(s_beats)
            else f" (earliest beat at {100 * np.nanmin(ratio):.0f} % of the local RR)"
        ),
    )


def _beat_list(indices: np.ndarray, kind: str) -> str:
    if not len(indices):
        return f"no {kind} beat"
    shown = ", ".join(str(index + 1) for index in indices[:8]) + (" ..." if len(indices) > 8 else "")
    return f"{len(indices)} {kind} beat{'s' if len(indices) > 1 else ''} (beat {shown})"


def _pause(out: Findings, strip: Strip, b: Basis) -> None:
    rr = strip.beats.rr_ms[1:]
    longest = float(rr.max())
    ratio = longest / float(np.median(rr))
    out.add(
        "SPAUSE",
        _and(PAUSE.score(longest), PAUSE_RATIO.score(ratio), _not(b.fibrillation)),
        "pause over 2 s and 1.5 times the dominant RR",
        SBC,
        f"longest RR {longest:.0f} ms, {ratio:.1f} times the median RR",
    )


def _av_conduction(out: Findings, strip: Strip, b: Basis) -> None:
    if strip.pr_ms is None:
        return
    conducted = _and(b.p_present, _not(b.fibrillation), _not(b.flutter), _not(b.ventricular))
    pr = f"PR {strip.pr_ms:.0f} ms (P onset to QRS onset on the median beat), {b.p_text}"
    out.add("1dAVb", _and(conducted, LONG_PR.score(strip.pr_ms)), "PR over 200 ms", f"{AHA_II}; {SBC}", pr)
    out.add(
        "SHORT_PR", _and(conducted, SHORT_PR.score(strip.pr_ms)), "PR under 120 ms", f"{AHA_II}; {SBC}", pr
    )
    slurred = [value for value in strip.upstrokes if value is not None and DELTA.score(value) >= 0.5]
    delta = DELTA_LEADS.score(len(slurred))
    qrs = strip.qrs_wide_ms
    pr_delta = strip.pr_earliest_ms if strip.pr_earliest_ms is not None else strip.pr_ms
    out.add(
        "WPW",
        _and(conducted, SHORT_PR.score(pr_delta), PROLONGED_QRS.score(qrs or 0.0), delta),
        "PR under 120 ms, delta wave, QRS over 110 ms",
        f"{AHA_III}; {MINNESOTA} 6-4-1",
        f"PR {pr_delta:.0f} ms to the start of the QRS's slurred upstroke (delta wave), seen in "
        f"{len(slurred)} leads; QRS {qrs or 0:.0f} ms",
    )


def _pacing(out: Findings, strip: Strip) -> None:
    if strip.paced is None:
        return
    count = int(strip.paced.sum())
    out.add(
        "PACE",
        PACED.score(count / len(strip.paced)),
        "pacing spikes before the QRS complexes",
        AHA_II,
        f"pacing spikes before {count} of {len(strip.paced)} QRS complexes ({strip.pacing_note})",
    )


def assess(strip: Strip) -> Findings:
    """Scores and rationale for every rhythm code the strip supports."""
    out = Findings()
    b = basis(strip)
    _pacing(out, strip)
    _atrial(out, strip, b)
    _sinus(out, strip, b)
    _narrow_tachycardias(out, strip, b)
    _ventricular(out, strip, b)
    _ectopy(out, strip, b)
    _pause(out, strip, b)
    _av_conduction(out, strip, b)
    out.measurements.update(
        {
            "p_wave_consistency": strip.beats.p_snr,
            "p_axis_deg": strip.p_axis_deg,
            "beat_labels": "".join(strip.beats.labels.tolist()),
            "ventricular_beats": strip.beats.count("V"),
            "supraventricular_premature_beats": strip.beats.count("S"),
            "paced_beats": None if strip.paced is None else int(strip.paced.sum()),
            "rr_irregularity": b.irregularity,
            "flutter_index": None if strip.flutter is None else strip.flutter.index,
            "qrs_wide_ms": strip.qrs_wide_ms,
        }
    )
    return out
