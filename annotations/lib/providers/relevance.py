"""Relevance bands: where in the trace a class's score came from, stored compactly and on the exam's
own time axis.

A band is relevance in [0, 1] per lead (or one band for all leads) and time bin, one byte per value:
10 ms bins (wider for exams over ten minutes, so a band never exceeds MAX_BINS bins), each the mean of
the samples in it, divided by the band's largest bin (kept as ``peak``). 12 leads x 10 s is 12 kB.

Two sources: a model that returns its own map (Grad-CAM and the like), on its input's time axis, which
``to_exam_axis`` maps back through the resampling and the centring or cropping the input adapter did;
and occlusion sensitivity, which works for any model that scores classes: blank a window of the trace
(every lead set to its own median, i.e. its baseline) and see how much each class's score drops.
Occlusion costs one model call per window, so ``occlusion_windows`` bounds them: 0.5 s windows at
half-window stride, stretched on long exams so that the baseline call plus the windows never exceed
MAX_OCCLUSION_CALLS (40: 10 s take 1 + 39 calls of 0.5 s windows; 60 s, 39 windows of 1.57 s end to end). The
budget does not stretch to 12 leads x windows, so occlusion bands are one band for all leads.

Pure numpy: no Django.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

BIN_MS = 10.0
MAX_BINS = 60_000  # ten minutes at 10 ms; the database refuses more
MAX_OCCLUSION_CALLS = 40
OCCLUSION_WINDOW_S = 0.5
_CHUNK_BYTES = 64 * 1024 * 1024  # occluded copies scored at once: bounded memory on long exams


@dataclass(frozen=True)
class Band:
    """What a SuggestionRelevance row stores."""

    data: bytes
    leads: int
    bins: int
    bin_ms: float
    peak: float


def band_encode(values: np.ndarray, rate_hz: float) -> Band:
    """(leads, n) relevance on the exam's axis (any scale; negative counts as none) -> a Band."""
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, None)
    leads, n = values.shape
    duration_ms = n / rate_hz * 1000.0
    bin_ms = max(BIN_MS, duration_ms / MAX_BINS)
    per_bin = bin_ms * rate_hz / 1000.0  # samples per bin; fractional at odd rates
    index = np.minimum((np.arange(n) / per_bin).astype(np.int64), MAX_BINS - 1)
    bins = int(index[-1]) + 1
    counts = np.bincount(index, minlength=bins)
    binned = np.stack([np.bincount(index, weights=row, minlength=bins) for row in values]) / counts
    peak = float(binned.max()) if binned.size else 0.0
    scaled = binned / peak if peak > 0 else binned
    data = np.rint(scaled * 255.0).astype(np.uint8)
    return Band(data=data.tobytes(), leads=leads, bins=bins, bin_ms=float(bin_ms), peak=peak)


def band_decode(data: bytes, leads: int, bins: int) -> np.ndarray:
    """The stored bytes back to (leads, bins) floats in [0, 1]."""
    return np.frombuffer(bytes(data), dtype=np.uint8).reshape(leads, bins).astype(np.float64) / 255.0


def to_exam_axis(
    relevance: np.ndarray,
    *,
    n_samples: int,
    rate_hz: float,
    input_rate_hz: float,
    input_samples: int,
    pad: str = "center",
) -> np.ndarray:
    """(leads, T) relevance over a model's input -> (leads, n_samples) over the exam.

    The input adapter resampled the exam to input_rate_hz (the ratio limited as lib.ecg.resample does),
    then cropped its centre or zero-padded it (centred, or at the end) to input_samples. A map of T <
    input_samples steps (a feature map) covers the input evenly. Exam samples the model never saw
    (cropped away) get no relevance; the padding's relevance is dropped.
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    steps = relevance.shape[-1]
    ratio = Fraction(input_rate_hz / rate_hz).limit_denominator(1000)
    resampled = n_samples if ratio == 1 else math.ceil(n_samples * ratio.numerator / ratio.denominator)
    crop = max(0, (resampled - input_samples) // 2)
    before = 0 if resampled >= input_samples or pad == "end" else (input_samples - resampled) // 2
    position = np.arange(n_samples) * float(ratio) - crop + before  # input sample of each exam sample
    centres = (np.arange(steps) + 0.5) * (input_samples / steps) - 0.5
    out = np.stack([np.interp(position, centres, row) for row in relevance])
    out[:, (position < -0.5) | (position > input_samples - 0.5)] = 0.0
    return out


def occlusion_windows(
    n_samples: int, rate_hz: float, window_s: float = OCCLUSION_WINDOW_S, max_calls: int = MAX_OCCLUSION_CALLS
) -> list[tuple[int, int]]:
    """(start, stop) windows covering every sample, at most max_calls - 1 of them (one call is the
    unoccluded baseline): window_s long at half-window stride, both stretched when that is too many."""
    width = max(1, min(n_samples, round(window_s * rate_hz)))
    budget = max(1, max_calls - 1)
    stride = max(math.ceil(width / 2), math.ceil((n_samples - width) / max(1, budget - 1)), 1)
    width = min(n_samples, max(width, stride))
    count = 1 + math.ceil(max(0, n_samples - width) / stride)
    return [(start, start + width) for start in (min(k * stride, n_samples - width) for k in range(count))]


def occlusion_relevance(
    score: Callable[[np.ndarray], np.ndarray],
    signals: np.ndarray,
    rate_hz: float,
    *,
    window_s: float = OCCLUSION_WINDOW_S,
    max_calls: int = MAX_OCCLUSION_CALLS,
) -> np.ndarray:
    """(classes, 1, n): how much each class's score drops when a window covering each sample is set
    to every lead's baseline (mean drop over the windows covering it; a rise counts as no drop).

    score: (B, leads, n) -> (B, classes), one model call per row.
    """
    signals = np.asarray(signals, dtype=np.float64)
    n = signals.shape[1]
    baseline = np.asarray(score(signals[None]), dtype=np.float64)[0]
    windows = occlusion_windows(n, rate_hz, window_s, max_calls)
    fill = np.median(signals, axis=1, keepdims=True)
    chunk = max(1, _CHUNK_BYTES // max(1, signals.nbytes))
    drops = []
    for first in range(0, len(windows), chunk):
        part = windows[first : first + chunk]
        batch = np.repeat(signals[None], len(part), axis=0)
        for row, (start, stop) in enumerate(part):
            batch[row, :, start:stop] = fill
        drops.append(np.clip(baseline - np.asarray(score(batch), dtype=np.float64), 0.0, None))
    drop = np.concatenate(drops)  # (windows, classes)
    total = np.zeros((drop.shape[1], n))
    covered = np.zeros(n)
    for (start, stop), row in zip(windows, drop, strict=True):
        total[:, start:stop] += row[:, None]
        covered[start:stop] += 1
    return (total / covered)[:, None, :]
