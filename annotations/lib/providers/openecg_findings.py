"""What the openecg codec's outputs say about an exam: scores and their reasons, from every head it has.

The codec gives, per lead and per sample, a wave class (frame head), a beat class (beat head: none, sinus,
vpc, paced, fusion, unknown, meaningful inside a QRS) and a rhythm class (sinus, avb, paced, afib, bbb,
ventricular). Its model card (openecg/models/codec_v6_MODEL_CARD.md) measured them on lead II alone; here
they are read over every lead that carries a signal, because the findings below live in other leads (a
bundle branch block's shape in V1, a ventricular rhythm the limb leads call first).

Read from the outputs:
* Ventricular beats: per beat, the mean over the leads that delineated it of the larger of the beat head's
  vpc probability and the rhythm head's ventricular probability within that lead's QRS. A beat is
  ventricular at 0.5 or more.
* Ventricular dominance: the larger of the mean ventricular probability of the beats and a soft step on
  the ventricular class of the rhythm head, averaged over the three leads that call it most. The rhythm
  class is rare: on the labelled records it stays under 0.05 in every lead of every non-ventricular strip
  and reaches 0.25-0.98 on the ventricular tachycardias, hence a step centred at 0.2.
* VT: dominance at 100/min or more; AIVR: dominance at 50-110/min; NSVT: 3 or more consecutive ventricular
  beats at 100/min or more that do not fill the window; VPB: ventricular beats outside such runs. AF, SR,
  SB and ST are scaled down by the dominance: a ventricular rhythm is neither atrial nor sinus.
* AF: the afib class (mean of the three leads that call it most) times the irregularity of the RR
  intervals once premature beats are left out, halved where P waves precede most beats. The afib class
  alone called frequent premature beats and regular wide-complex tachycardias atrial fibrillation.
* Sinus rhythm (SR, SB, ST): the rhythm head's sinus, avb and bbb classes together (all three are rhythms
  driven by the sinus node; the classes compete per sample, so a bundle branch block takes probability from
  "sinus"), at the rate limits of AHA/ACCF/HRS 2009 part II; not ST where the bbb class comes with a
  QRS of 120 ms or more (a wide-complex tachycardia is ventricular until shown otherwise).
* 1dAVb: the larger of the avb class and the PR > 200 ms rule (AHA/ACCF/HRS 2009 part III).
* RBBB / LBBB: the bbb class, relative to sinus, split by the QRS shape in V1, I and V6 on the median
  beat, within the codec's own QRS onset and offset in each lead; QRS width from the earliest onset to the
  latest offset over the leads.
* PACE: the paced class with a wide QRS. The card says the paced class never learned the pacemaker spike;
  its rule-based spike detector (openecg.pacer) was tried on the labelled records and found one spike on
  the paced record and up to 11 on sinus ones, so it is not used. Its beat head's paced class stayed
  under 0.03 on every beat of every record, the paced one included: not used either.
* A wide-QRS rhythm is one thing: PACE is scaled down by the ventricular dominance, the ventricular codes,
  the sinus codes and the bundle branch blocks by PACE, the blocks by the dominance too.

Pure numpy: no Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.providers.base import Rationale

FS = 500
LEAD = {name: index for index, name in enumerate(STANDARD_LEADS)}
SINUS, AVB, PACED, AFIB, BBB, VENTRICULAR = range(6)
BEAT_VPC = 2
SOURCE = "openecg codec v6 (model card)"
AHA_RHYTHM = "AHA/ACCF/HRS 2009 part II; openecg codec v6"
AHA_CONDUCTION = "AHA/ACCF/HRS 2009 part III; openecg codec v6"
VENTRICULAR_BEAT = 0.5
PREMATURE = 0.85  # an RR shorter than this fraction of the median ends in a premature beat
MIN_RUN = 3  # ventricular beats in a row that make a run of ventricular tachycardia
TERMINAL = round(0.04 * FS)  # the last 40 ms of a QRS
INITIAL = round(0.02 * FS)  # the first 20 ms


def rule(value: float | None, threshold: float, width: float, above: bool = True) -> float:
    """A logistic step: 0.5 at the threshold, 0.73 one width beyond it."""
    if value is None:
        return 0.0
    z = (value - threshold) / width
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z if above else -z))))


@dataclass(frozen=True)
class CodecReading:
    """One exam as the codec read it. window: (12, n) mV at 500 Hz (high-passed); frames: (12, n) wave class;
    beat, rhythm: (12, n, 6) probabilities; alive: (12,) leads that carry a signal; inner: the samples
    where predictions had context both sides; beats: the global beats with per-lead fiducials; measured:
    the provider's measurements (heart_rate_bpm, pr_ms, qrs_ms...)."""

    window: np.ndarray
    frames: np.ndarray
    beat: np.ndarray
    rhythm: np.ndarray
    alive: np.ndarray
    inner: slice
    beats: list[dict[str, Any]]
    measured: dict[str, Any]

    def lead_shares(self, rhythm_class: int) -> dict[str, float]:
        """Mean probability of a rhythm class over the inner band, per lead with a signal."""
        shares = self.rhythm[:, self.inner, rhythm_class].mean(axis=1)
        return {STANDARD_LEADS[lead]: float(shares[lead]) for lead in np.flatnonzero(self.alive)}


def top_mean(shares: dict[str, float], count: int = 3) -> tuple[float, list[str]]:
    """The mean of the `count` leads that call a class most, and which leads: a rhythm seen in several
    leads, not in one noisy lead, and not diluted by the leads where it does not show."""
    ranked = sorted(shares, key=shares.__getitem__, reverse=True)[:count]
    return (float(np.mean([shares[name] for name in ranked])) if ranked else 0.0), ranked


def read(reading: CodecReading) -> tuple[dict[str, float], dict[str, Rationale], dict[str, Any]]:
    """(scores, their rationale, extra measurements) for one exam."""
    scores: dict[str, float] = {}
    why: dict[str, Rationale] = {}
    rate = reading.measured.get("heart_rate_bpm")
    ventricular = ventricular_findings(reading, rate)
    dominance = ventricular["dominance"]
    # A wide-QRS rhythm is paced or ventricular, not both: each is scaled down by the other, the paced
    # class first by the ventricular dominance (the paced class also rises on ventricular tachycardias).
    paced, why["PACE"] = pacing(reading)
    scores["PACE"] = paced * (1.0 - dominance)
    not_paced = 1.0 - scores["PACE"]
    for code in ("VT", "AIVR", "NSVT", "VPB"):
        scores[code], why[code] = ventricular[code][0] * not_paced, ventricular[code][1]
    irregularity = rr_irregularity(reading.beats)
    p_fraction = p_wave_fraction(reading)
    af, why["AF"] = atrial_fibrillation(reading, irregularity, p_fraction)
    scores["AF"] = af * (1.0 - dominance)
    not_af = 1.0 - scores["AF"]
    for code, (score, reason) in sinus_rhythms(reading, rate).items():
        scores[code], why[code] = score * (1.0 - dominance) * not_af * not_paced, reason
    scores["1dAVb"], why["1dAVb"] = first_degree_block(reading)
    scores["1dAVb"] *= not_af * (1.0 - dominance)
    for code, (score, reason) in bundle_branch_blocks(reading).items():
        scores[code], why[code] = score * (1.0 - dominance) * not_paced, reason
    extra = {
        "rr_irregularity": None if irregularity is None else round(irregularity, 4),
        "p_wave_fraction": None if p_fraction is None else round(p_fraction, 3),
        "ventricular_beats": ventricular["count"],
        "ventricular_dominance": round(dominance, 3),
    }
    return scores, why, extra


# --- Ventricular rhythm and beats ------------------------------------------------------------------
def beat_ventricular(reading: CodecReading, beat: dict[str, Any]) -> float:
    """Mean over the beat's leads of max(beat head vpc, rhythm head ventricular) within the lead's QRS."""
    values = [
        max(
            float(reading.beat[f["lead"], f["qrs_on"] : f["qrs_off"], BEAT_VPC].mean()),
            float(reading.rhythm[f["lead"], f["qrs_on"] : f["qrs_off"], VENTRICULAR].mean()),
        )
        for f in beat["leads"]
        if f["qrs_off"] > f["qrs_on"]
    ]
    return float(np.mean(values)) if values else 0.0


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index))
            start = None
    return runs


def _run_rate(beats: list[dict[str, Any]], start: int, end: int) -> float | None:
    centres = [beats[i]["centre"] for i in range(start, end)]
    return 60.0 * FS / float(np.mean(np.diff(centres))) if len(centres) >= 2 else None


def ventricular_findings(reading: CodecReading, rate: float | None) -> dict[str, Any]:
    """Ventricular dominance, beat count, and (score, Rationale) for VT, AIVR, NSVT and VPB."""
    beats = [b for b in reading.beats if b["leads"]]
    p_beats = [beat_ventricular(reading, b) for b in beats]
    flags = [p >= VENTRICULAR_BEAT for p in p_beats]
    rhythm_share, leads = top_mean(reading.lead_shares(VENTRICULAR))
    dominance = max(float(np.mean(p_beats)) if p_beats else 0.0, rule(rhythm_share, 0.2, 0.05))
    where = (
        f"ventricular class {rhythm_share:.2f} of the inner window in {', '.join(leads)}; "
        f"{sum(flags)} of {len(beats)} beats ventricular; QRS {_ms(reading.measured.get('qrs_ms'))}; "
        f"rate {_bpm(rate)}"
    )
    runs = [(start, end) for start, end in _runs(flags) if end - start >= MIN_RUN]
    nsvt, run_text = strongest_run(beats, p_beats, runs)
    in_runs = {i for start, end in runs for i in range(start, end)}
    outside = [(p, flag) for i, (p, flag) in enumerate(zip(p_beats, flags, strict=True)) if i not in in_runs]
    vpb = max((p for p, _ in outside), default=0.0)
    premature = (
        f"{sum(flag for _, flag in outside)} of {len(beats)} beats ventricular outside runs of 3 "
        f"(strongest {vpb:.2f}); ventricular dominance {dominance:.2f}"
    )
    not_dominant = 1.0 - dominance
    head = "openecg rhythm head: ventricular"
    return {
        "dominance": dominance,
        "count": sum(flags),
        "VT": (dominance * rule(rate, 100.0, 5.0), Rationale(head + ", >= 100/min", SOURCE, where)),
        "AIVR": (
            dominance * rule(rate, 50.0, 3.0) * rule(rate, 110.0, 3.0, above=False),
            Rationale(head + ", 50-110/min", SOURCE, where),
        ),
        "NSVT": (
            nsvt * not_dominant,
            Rationale(
                "openecg beat head: 3 or more ventricular beats >= 100/min", SOURCE, f"{where}; {run_text}"
            ),
        ),
        "VPB": (vpb * not_dominant, Rationale("openecg beat head: vpc", SOURCE, premature)),
    }


def strongest_run(
    beats: list[dict[str, Any]], p_beats: list[float], runs: list[tuple[int, int]]
) -> tuple[float, str]:
    """The strongest run of ventricular beats at >= 100/min (a run is as strong as its weakest beat), and
    what it was; a run that fills the window is sustained, which the dominance carries instead."""
    best, text = 0.0, "no run of 3 or more ventricular beats"
    for start, end in runs:
        run_rate = _run_rate(beats, start, end)
        score = min(p_beats[start:end]) * rule(run_rate, 100.0, 5.0)
        if score >= best:
            best, text = score, f"run of {end - start} ventricular beats at {_bpm(run_rate)}"
    return best, text


# --- Pacing ----------------------------------------------------------------------------------------
def pacing(reading: CodecReading) -> tuple[float, Rationale]:
    """Geometric mean of the paced class (mean over the leads) and a wide QRS (> 120 ms): a paced
    ventricle depolarises cell to cell, as a bundle branch block does, so its QRS is broad."""
    shares = reading.lead_shares(PACED)
    paced = float(np.mean(list(shares.values()))) if shares else 0.0
    qrs = reading.measured.get("qrs_ms")
    score = math.sqrt(paced * rule(qrs, 120.0, 6.0))
    finding = f"paced class {paced:.2f} of the inner window over {len(shares)} leads; QRS {_ms(qrs)}"
    return score, Rationale("openecg rhythm head: paced, with a wide QRS", SOURCE, finding)


# --- Atrial fibrillation ---------------------------------------------------------------------------
def rr_irregularity(beats: list[dict[str, Any]]) -> float | None:
    """Median absolute successive RR difference over the median RR, once each premature beat's RR and the
    pause after it are left out: PACs and PVCs are irregular twice per beat, AF everywhere. (The
    measurement provider's rule, computed here on the codec's own beats.)"""
    rr = np.diff([b["centre"] for b in beats]).astype(float)
    if len(rr) < 4:
        return None
    premature = np.flatnonzero(rr < PREMATURE * np.median(rr))
    drop = set(premature.tolist()) | set((premature + 1).tolist())
    kept = np.array([value for index, value in enumerate(rr) if index not in drop])
    if len(kept) < 4:
        return None
    return float(np.median(np.abs(np.diff(kept))) / np.median(kept))


def p_wave_fraction(reading: CodecReading) -> float | None:
    """Share of the measured beats with a P wave before the QRS in at least half of their leads."""
    beats = [b for b in reading.beats if not b["edge"] and b["leads"]]
    if not beats:
        return None
    with_p = [sum(f.get("p_on") is not None for f in b["leads"]) >= len(b["leads"]) / 2 for b in beats]
    return float(np.mean(with_p))


def atrial_fibrillation(
    reading: CodecReading, irregularity: float | None, p_fraction: float | None
) -> tuple[float, Rationale]:
    afib, leads = top_mean(reading.lead_shares(AFIB))
    # Irregularity threshold 0.06, width 0.015: the measurement provider's AF rule (rules.py) on the same
    # quantity. Without enough RR intervals the rhythm cannot be called irregular: half weight.
    irregular = 0.5 if irregularity is None else rule(irregularity, 0.06, 0.015)
    with_p = p_fraction if p_fraction is not None else 0.0
    score = afib * irregular * (1.0 - with_p / 2.0)
    finding = (
        f"afib class {afib:.2f} in {', '.join(leads)}; RR irregularity "
        f"{'not measurable' if irregularity is None else f'{irregularity:.3f}'} without premature beats; "
        f"P wave before {with_p:.0%} of beats"
    )
    return score, Rationale("openecg rhythm head: afib, with irregular RR and no P waves", SOURCE, finding)


# --- Sinus rhythms and AV conduction ----------------------------------------------------------------
def sinus_rhythms(reading: CodecReading, rate: float | None) -> dict[str, tuple[float, Rationale]]:
    """Sinus node rhythm at AHA/ACCF/HRS 2009 part II rates (< 60, 60-100, > 100/min; widths 2-3/min, a
    beat more or less in 10 s). A wide-QRS tachycardia with the bbb class is not credited as sinus
    tachycardia: a wide-complex tachycardia is taken for ventricular until shown otherwise (AHA ACLS; the
    codec called some ventricular tachycardias bbb)."""
    sinus = {name: reading.lead_shares(c) for name, c in (("sinus", SINUS), ("avb", AVB), ("bbb", BBB))}
    means = {name: float(np.mean(list(shares.values()) or [0.0])) for name, shares in sinus.items()}
    node = means["sinus"] + means["avb"] + means["bbb"]
    span = reading.measured.get("qrs_span_ms")
    wide_bbb = rule(span, 120.0, 6.0) * relative_bbb(means["bbb"], means["sinus"])
    finding = (
        f"sinus {means['sinus']:.2f} + avb {means['avb']:.2f} + bbb {means['bbb']:.2f} over the leads; "
        f"rate {_bpm(rate)}; QRS {_ms(span)}"
    )
    slow, fast = rule(rate, 60.0, 2.0, above=False), rule(rate, 100.0, 3.0)
    criterion = "openecg rhythm head: sinus node (sinus, avb, bbb classes)"
    return {
        "SR": (
            node * (1.0 - slow) * (1.0 - fast),
            Rationale(criterion + ", 60-100/min", AHA_RHYTHM, finding),
        ),
        "SB": (node * slow, Rationale(criterion + ", < 60/min", AHA_RHYTHM, finding)),
        "ST": (
            node * fast * (1.0 - wide_bbb),
            Rationale(criterion + ", > 100/min, not a wide-complex tachycardia", AHA_RHYTHM, finding),
        ),
    }


def relative_bbb(bbb: float, sinus: float) -> float:
    """The bbb class relative to sinus: the rhythm classes compete per sample (AF with a bundle branch
    block shows as afib), so relative to sinus it says how the conducted beats look whatever the atria
    do. 0 where neither class is called."""
    return bbb / (bbb + sinus) if bbb + sinus > 0.01 else 0.0


def first_degree_block(reading: CodecReading) -> tuple[float, Rationale]:
    """PR > 200 ms (AHA/ACCF/HRS 2009 part III), width 10 ms, or the avb class where the PR is not
    measured long: the avb class alone missed blocks with PRs of 220-240 ms."""
    avb = float(np.mean(list(reading.lead_shares(AVB).values()) or [0.0]))
    pr = reading.measured.get("pr_ms")
    score = max(avb, rule(pr, 200.0, 10.0))
    finding = f"PR {_ms(pr)}; avb class {avb:.2f} over the leads"
    return score, Rationale("PR > 200 ms, or openecg rhythm head: avb", AHA_CONDUCTION, finding)


# --- Bundle branch blocks --------------------------------------------------------------------------
@dataclass(frozen=True)
class QrsShape:
    """One lead's QRS on its median beat, in mV from the level just before its onset: the mean of its
    second half (the terminal R' of V1 in RBBB), of its last 40 ms (the terminal S of I and V6) and of
    its first 20 ms (a septal q)."""

    second_half: float
    terminal: float
    initial: float


def qrs_shape(reading: CodecReading, lead: int) -> QrsShape | None:
    """The lead's beats aligned at the global QRS onset; its own QRS onset and offset (medians over beats)."""
    before, after = round(0.06 * FS), round(0.24 * FS)
    starts, onsets, offsets = [], [], []
    for beat in reading.beats:
        own = [f for f in beat["leads"] if f["lead"] == lead]
        onset = beat.get("onset")
        if beat["edge"] or not own or onset is None:
            continue
        if onset - before < 0 or onset + after > reading.window.shape[1]:
            continue
        starts.append(onset)
        onsets.append(own[0]["qrs_on"] - onset)
        offsets.append(own[0]["qrs_off"] - onset)
    if len(starts) < 2:
        return None
    cut = reading.window[lead][np.array(starts)[:, None] + np.arange(-before, after)[None, :]]
    median = np.median(cut, axis=0)
    on, off = before + int(np.median(onsets)), before + int(np.median(offsets))
    if off - on < 2 * INITIAL:
        return None
    qrs = median[on:off] - median[max(0, on - 5) : on + 1].mean()
    return QrsShape(
        second_half=float(qrs[len(qrs) // 2 :].mean()),
        terminal=float(qrs[-TERMINAL:].mean()),
        initial=float(qrs[:INITIAL].mean()),
    )


def bundle_branch_blocks(reading: CodecReading) -> dict[str, tuple[float, Rationale]]:
    """AHA/ACCF/HRS 2009 part III (Surawicz et al., Circulation 2009;119:e235): complete RBBB: QRS >= 120
    ms, rsr'/rsR'/rSR' in V1-V2 (a terminal positive deflection), S wave in I and V6 longer than R or >
    40 ms; complete LBBB: QRS >= 120 ms, broad notched or slurred R in I, aVL, V5-V6, absent q in I, V5,
    V6, rS or QS in V1. The width step is centred at 110 ms, the lower limit of an incomplete block: it
    only keeps narrow rSr' variants out, the bbb class and the shape decide between incomplete and
    complete. Amplitude widths 0.05 mV (0.02 mV for a q): about the noise of a median beat."""
    shapes = {name: qrs_shape(reading, LEAD[name]) for name in ("V1", "I", "V6")}
    bbb = float(np.mean(list(reading.lead_shares(BBB).values()) or [0.0]))
    sinus = float(np.mean(list(reading.lead_shares(SINUS).values()) or [0.0]))
    relative = relative_bbb(bbb, sinus)
    span = reading.measured.get("qrs_span_ms")
    v1, lead_i, v6 = shapes["V1"], shapes["I"], shapes["V6"]
    if v1 is None or lead_i is None or v6 is None:
        return {}
    wide = rule(span, 110.0, 6.0)
    lateral_terminal = (lead_i.terminal + v6.terminal) / 2.0
    right = rule(v1.second_half, 0.0, 0.05) * rule(lateral_terminal, 0.0, 0.05, above=False)
    left = (
        rule(v1.second_half, 0.0, 0.05, above=False)
        * rule(lateral_terminal, 0.0, 0.05)
        * rule(min(lead_i.initial, v6.initial), 0.0, 0.02)
    )
    finding = (
        f"bbb class {bbb:.2f} (sinus {sinus:.2f}); QRS {_ms(span)} from first onset to last offset; "
        f"V1 second half {v1.second_half:+.2f} mV; terminal 40 ms I {lead_i.terminal:+.2f}, "
        f"V6 {v6.terminal:+.2f} mV; first 20 ms I {lead_i.initial:+.2f}, V6 {v6.initial:+.2f} mV"
    )
    return {
        "RBBB": (
            relative * right * wide,
            Rationale(
                "openecg rhythm head: bbb; terminal R' in V1, terminal S in I/V6", AHA_CONDUCTION, finding
            ),
        ),
        "LBBB": (
            relative * left * wide,
            Rationale(
                "openecg rhythm head: bbb; QS/rS in V1, broad R without q or S in I/V6",
                AHA_CONDUCTION,
                finding,
            ),
        ),
    }


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.0f} ms"


def _bpm(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.0f}/min"
