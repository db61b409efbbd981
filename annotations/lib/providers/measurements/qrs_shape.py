"""The QRS waveform of each lead of the median beat, as the conduction criteria read it: its deflections
(q, R, S, R'), their amplitudes and durations, the R peak time, the terminal 40 ms, a notched R and a
slurred initial upstroke (delta wave).

A deflection is a stretch of the QRS on one side of the baseline (the PR segment's level just before the
QRS onset, AHA/ACCF/HRS 2009 part I); stretches under MIN_WAVE_MV are no waves of their own (the
Minnesota Code counts waves from 0.1 mV; half of it here, so that the small r of an rS and the small q
of a qR are seen) and merge into their neighbours. Durations run between baseline crossings, as a reader
measures an S wave's width with calipers. Pure numpy, no Django.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from annotations.lib.providers.measurements.waves import FS

MIN_WAVE_MV = 0.05
BASELINE_MS = (-16.0, -4.0)  # before the QRS onset: the isoelectric reference
TERMINAL_MS = 40.0  # the last 40 ms of the QRS carry a bundle branch block's delay
NOTCH_MV = 0.05  # a notch: the R falls back at least this much (and 10 % of R) between two summits
DELTA_MS = 30.0  # the first 30 ms of a QRS that begins upward: its slope against the upstroke's steepest
DELTA_RISE_MS = 35.0  # a normal R reaches half its height 15-30 ms after the QRS onset


@dataclass(frozen=True)
class Wave:
    sign: int  # +1 above the baseline, -1 below
    peak_mv: float  # signed
    start_ms: float  # from the QRS onset
    end_ms: float

    @property
    def ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class LeadShape:
    """One lead's QRS. waves: the deflections in order; r_peak_ms: QRS onset to the summit of the last
    upward deflection (None without one); terminal_mv: mean level of the last TERMINAL_MS; notched_r:
    the tallest upward deflection has two summits; upstroke: the first DELTA_MS's mean slope over the
    steepest slope of the upstroke (delta wave when low), None when the QRS does not begin upward."""

    waves: tuple[Wave, ...]
    r_peak_ms: float | None
    terminal_mv: float
    notched_r: bool
    upstroke: float | None

    def _first(self, sign: int) -> Wave | None:
        return next((wave for wave in self.waves if wave.sign == sign), None)

    @property
    def q(self) -> Wave | None:
        """A downward deflection before the first upward one."""
        return self.waves[0] if self.waves and self.waves[0].sign < 0 and len(self.waves) > 1 else None

    @property
    def r(self) -> Wave | None:
        return self._first(1)

    @property
    def r_prime(self) -> Wave | None:
        """An upward deflection after the first R, with a downward one between them."""
        ups = [index for index, wave in enumerate(self.waves) if wave.sign > 0]
        return self.waves[ups[1]] if len(ups) >= 2 else None

    @property
    def s(self) -> Wave | None:
        """The first downward deflection after the first R."""
        ups = [index for index, wave in enumerate(self.waves) if wave.sign > 0]
        if not ups:
            return None
        return next((wave for wave in self.waves[ups[0] + 1 :] if wave.sign < 0), None)

    @property
    def terminal(self) -> Wave | None:
        return self.waves[-1] if self.waves else None

    @property
    def qs(self) -> bool:
        """Entirely below the baseline."""
        return bool(self.waves) and all(wave.sign < 0 for wave in self.waves)


def _ms(samples: float) -> float:
    return samples * 1000.0 / FS


def _waves(x: np.ndarray) -> tuple[Wave, ...]:
    """Deflections of a baseline-subtracted QRS between baseline crossings, small ones merged away."""
    sign = np.where(x >= 0, 1, -1)
    cuts = np.flatnonzero(np.diff(sign) != 0) + 1
    edges = [0, *cuts.tolist(), len(x)]
    found: list[Wave] = []
    for start, end in itertools.pairwise(edges):
        part = x[start:end]
        peak = float(part.max()) if sign[start] > 0 else float(part.min())
        if abs(peak) < MIN_WAVE_MV:
            if found:  # a small stretch belongs to the wave before it
                last = found[-1]
                found[-1] = Wave(last.sign, last.peak_mv, last.start_ms, _ms(end))
            continue
        wave = Wave(int(sign[start]), peak, _ms(start), _ms(end))
        if found and found[-1].sign == wave.sign:  # two stretches of one wave around a small dip
            last = found[-1]
            deeper = last.peak_mv if abs(last.peak_mv) >= abs(peak) else peak
            found[-1] = Wave(wave.sign, deeper, last.start_ms, wave.end_ms)
        else:
            found.append(wave)
    return tuple(found)


def _notched(x: np.ndarray, wave: Wave) -> bool:
    """Two summits in one upward deflection, the trough between them NOTCH_MV (and 10 %) below both."""
    part = x[round(wave.start_ms * FS / 1000.0) : round(wave.end_ms * FS / 1000.0)]
    if len(part) < 5:
        return False
    summits = np.flatnonzero((part[1:-1] > part[:-2]) & (part[1:-1] >= part[2:])) + 1
    depth = max(NOTCH_MV, 0.1 * wave.peak_mv)
    for first, second in itertools.pairwise(summits):
        trough = part[first : second + 1].min()
        if min(part[first], part[second]) - trough >= depth:
            return True
    return False


def _upstroke(x: np.ndarray) -> float | None:
    """For a QRS that begins upward to a real R: its first DELTA_MS mean slope over the steepest slope
    before the R summit, when it takes DELTA_RISE_MS or more to reach half the summit (a delta wave's
    slurred start); 1.0 (no slur) when it rises faster; None for a QRS that does not begin upward."""
    summit = int(np.argmax(x))
    first = round(DELTA_MS * FS / 1000.0)
    if x[summit] < 3 * MIN_WAVE_MV or summit <= first or x[: first + 1].min() < -MIN_WAVE_MV:
        return None
    half = int(np.argmax(x[: summit + 1] >= x[summit] / 2))
    if _ms(half) < DELTA_RISE_MS:
        return 1.0
    steepest = float(np.diff(x[: summit + 1]).max())
    return float((x[first] - x[0]) / first / steepest) if steepest > 0 else None


def lead_shapes(beats: np.ndarray, r_index: int, onset_ms: float, offset_ms: float) -> list[LeadShape] | None:
    """The QRS of each lead of (12, window) median beats (R at r_index, FS Hz) between the global QRS
    onset and offset (ms from R); None when those fall outside the window."""
    onset = r_index + round(onset_ms * FS / 1000.0)
    offset = r_index + round(offset_ms * FS / 1000.0)
    base_from, base_to = (onset + round(ms * FS / 1000.0) for ms in BASELINE_MS)
    if base_from < 0 or offset >= beats.shape[1] or offset - onset < 5:
        return None
    baseline = beats[:, base_from : base_to + 1].mean(axis=1)
    qrs = beats[:, onset : offset + 1] - baseline[:, None]
    terminal = max(0, qrs.shape[1] - round(TERMINAL_MS * FS / 1000.0))
    shapes = []
    for x in qrs:
        waves = _waves(x)
        ups = [wave for wave in waves if wave.sign > 0]
        r_peak = None
        if ups:
            last = ups[-1]
            start = round(last.start_ms * FS / 1000.0)
            end = max(start + 1, round(last.end_ms * FS / 1000.0))
            r_peak = _ms(start + int(np.argmax(x[start:end])))
        tallest = max(ups, key=lambda wave: wave.peak_mv) if ups else None
        shapes.append(
            LeadShape(
                waves=waves,
                r_peak_ms=r_peak,
                terminal_mv=float(x[terminal:].mean()),
                notched_r=tallest is not None and _notched(x, tallest),
                upstroke=_upstroke(x),
            )
        )
    return shapes
