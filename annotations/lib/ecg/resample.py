"""Preprocessing shared by the release writer and the providers: resample to a rate, fit to a length.

Resampling is polyphase filtering (scipy's ``resample_poly``, anti-aliasing FIR built in, deterministic)
by the rational ratio of the rates, so 500 -> 400 Hz is exactly 4/5 and 257 -> 400 Hz is 400/257. The
ratio is the float ``target / rate`` limited to ``max_denominator``: the providers use 1000, the release
HDF5 writer 10 000; the two differ only for odd rates (333.3 Hz), and each keeps its own so that neither
a release's bytes nor a provider's output moves.

Lengths are fitted around the centre: a longer signal is cropped to its central ``length`` samples, a
shorter one zero-padded centred (an odd remainder goes to the end) or, with ``pad="end"``, followed by
all the zeros. ``axis`` names the time axis: (leads, samples) arrays use the default -1, the CODE layout
(samples, leads) of the release files uses 0.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from annotations.lib.lazy_imports import HEAVY_IMPORT

PAD_SIDES = ("center", "end")


def resample(
    signals: np.ndarray, rate_hz: float, target_hz: float, *, axis: int = -1, max_denominator: int = 1000
) -> np.ndarray:
    """``signals`` sampled at rate_hz -> at target_hz along ``axis``; returned unchanged at ratio 1."""
    ratio = Fraction(target_hz / rate_hz).limit_denominator(max_denominator)
    if ratio == 1:
        return signals
    with HEAVY_IMPORT:  # lib.lazy_imports says why
        from scipy.signal import resample_poly  # here, not at the top: see qrs.qrs_energy

    resampled: np.ndarray = resample_poly(signals, ratio.numerator, ratio.denominator, axis=axis)
    return resampled


def centre_crop(signals: np.ndarray, length: int, *, axis: int = -1) -> np.ndarray:
    """The central ``length`` samples along ``axis`` (the earlier one of two centres); shorter: as is."""
    n = signals.shape[axis]
    if n <= length:
        return signals
    start = (n - length) // 2
    return signals[_along(signals.ndim, axis, slice(start, start + length))]


def pad_to(signals: np.ndarray, length: int, pad: str = "center", *, axis: int = -1) -> np.ndarray:
    """Zero-pad along ``axis`` to ``length``, centred or at the end (see module); longer: as is."""
    if pad not in PAD_SIDES:
        raise ValueError(f"pad {pad!r} is not one of {PAD_SIDES}")
    n = signals.shape[axis]
    if n >= length:
        return signals
    before = (length - n) // 2 if pad == "center" else 0
    shape = list(signals.shape)
    shape[axis] = length
    out = np.zeros(shape, dtype=signals.dtype)
    out[_along(signals.ndim, axis, slice(before, before + n))] = signals
    return out


def _along(ndim: int, axis: int, part: slice) -> tuple[slice, ...]:
    """An index taking ``part`` along ``axis`` and everything along the other axes."""
    index = [slice(None)] * ndim
    index[axis] = part
    return tuple(index)


def fit_length(signals: np.ndarray, length: int, pad: str = "center", *, axis: int = -1) -> np.ndarray:
    """Centre-crop or zero-pad ``signals`` along ``axis`` to exactly ``length`` samples."""
    return pad_to(centre_crop(signals, length, axis=axis), length, pad, axis=axis)
