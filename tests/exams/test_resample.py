"""The shared resampler gives each former caller exactly the numbers its own copy gave.

The release HDF5 writer, the ONNX provider, the measurement provider and the OpenECG codec each had a
resampler and (two of them) a length fitter. The copies below are those functions as they were before
they were merged into ``annotations.lib.ecg.resample``; every comparison is exact (array_equal), since a
release's bytes and a provider's output must not move.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import resample_poly

from annotations.lib.ecg.resample import centre_crop, fit_length, pad_to, resample

RNG = np.random.default_rng(20240611)
# 333.3 Hz: its ratio to 400 Hz differs when limited to a denominator of 1000 and of 10 000.
RATES = [500.0, 400.0, 257.0, 250.0, 360.0, 1000.0, 333.3, 128.0]


def _old_hdf5_resample(signals: np.ndarray, rate_hz: float, target_hz: float) -> np.ndarray:
    if rate_hz == target_hz:
        return signals
    ratio = Fraction(target_hz / rate_hz).limit_denominator(10_000)
    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=0)


def _old_hdf5_fit_length(signals: np.ndarray, length: int) -> np.ndarray:
    n = signals.shape[0]
    if n == length:
        return signals
    if n > length:
        start = (n - length) // 2
        return signals[start : start + length]
    before = (length - n) // 2
    out = np.zeros((length, signals.shape[1]), dtype=signals.dtype)
    out[before : before + n] = signals
    return out


def _old_onnx_resample(signals: np.ndarray, sampling_rate: float, target_rate: float) -> np.ndarray:
    ratio = Fraction(target_rate / sampling_rate).limit_denominator(1000)
    if ratio == 1:
        return np.asarray(signals, dtype=np.float64)
    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=-1)


def _old_onnx_fit_length(signals: np.ndarray, samples: int, pad: str = "center") -> np.ndarray:
    n = signals.shape[-1]
    if n >= samples:
        start = (n - samples) // 2
        return signals[..., start : start + samples]
    missing = samples - n
    before = missing // 2 if pad == "center" else 0
    out = np.zeros((*signals.shape[:-1], samples), dtype=signals.dtype)
    out[..., before : before + n] = signals
    return out


def _old_internal_rate(signals: np.ndarray, sampling_rate: float, fs: float) -> np.ndarray:
    # measurements.to_internal_rate and the first step of openecg_codec._window, fs = 500 Hz
    ratio = Fraction(fs / sampling_rate).limit_denominator(1000)
    if ratio == 1:
        return signals
    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=1)


def _old_openecg_crop_and_pad(resampled: np.ndarray, seq: int) -> tuple[np.ndarray, int]:
    start = max(0, (resampled.shape[1] - seq) // 2)
    chunk = resampled[:, start : start + seq]
    window = np.zeros((chunk.shape[0], seq))
    window[:, : chunk.shape[1]] = chunk
    return window, start


def _signals(n_samples: int) -> np.ndarray:
    """(12, n) millivolts: a few sines plus noise, different in every lead."""
    t = np.arange(n_samples) / 500.0
    base = np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 17.0 * t)
    return base[None, :] * RNG.uniform(0.2, 2.0, (12, 1)) + RNG.normal(0, 0.05, (12, n_samples))


@pytest.mark.parametrize("rate", RATES)
def test_release_tracings_resample_and_fit_as_before(rate):
    millivolts = _signals(int(rate * 10) + 3).T  # (samples, leads), the CODE layout
    old = _old_hdf5_fit_length(_old_hdf5_resample(millivolts, rate, 400.0), 4096).astype(np.float32)
    new = resample(millivolts, rate, 400.0, axis=0, max_denominator=10_000)
    new = fit_length(new, 4096, axis=0).astype(np.float32)
    np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("pad", ["center", "end"])
def test_onnx_input_resamples_and_fits_as_before(rate, pad):
    millivolts = _signals(int(rate * 9) + 1)
    old = _old_onnx_fit_length(_old_onnx_resample(millivolts, rate, 400.0), 4096, pad)
    new = fit_length(resample(millivolts, rate, 400.0), 4096, pad)
    np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("rate", RATES)
def test_the_500_hz_providers_resample_as_before(rate):
    millivolts = _signals(int(rate * 12))
    np.testing.assert_array_equal(
        resample(millivolts, rate, 500.0), _old_internal_rate(millivolts, rate, 500.0)
    )


@pytest.mark.parametrize("n", [4000, 5000, 5001, 7321])
def test_the_openecg_window_crops_and_pads_as_before(n):
    resampled = _signals(n)
    old_window, old_start = _old_openecg_crop_and_pad(resampled, 5000)
    chunk = centre_crop(resampled, 5000)
    np.testing.assert_array_equal(pad_to(chunk, 5000, "end"), old_window)
    assert (resampled.shape[1] - chunk.shape[1]) // 2 == old_start


def test_the_limit_on_the_denominator_is_what_separates_the_release_from_the_providers():
    millivolts = _signals(3333)
    loose = resample(millivolts, 333.3, 400.0, max_denominator=10_000)
    tight = resample(millivolts, 333.3, 400.0)
    assert loose.shape != tight.shape


def test_fitting_to_an_unknown_side_is_refused():
    with pytest.raises(ValueError, match="pad"):
        fit_length(np.ones((2, 10)), 20, "left")
