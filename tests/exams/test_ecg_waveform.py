"""Waveform encoding and the synthetic generator: pure numpy, no database."""

import numpy as np
import pytest

from annotations.lib.ecg import waveform
from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg


def test_float_millivolts_survive_quantisation_within_one_microvolt():
    rng = np.random.default_rng(7)
    signals = rng.normal(0, 1.5, (12, 5000))
    quantized = waveform.quantize_mv(signals)
    assert quantized.samples.dtype == np.int16
    restored = waveform.to_mv(quantized.samples, quantized.gain_uv)
    assert np.abs(restored - signals).max() <= 0.0005 + 1e-12  # half a 1 uV step, in mV


def test_a_large_signal_gets_a_coarser_gain_only_up_to_the_limit():
    assert waveform.quantize_mv(np.array([[30.0, -30.0]])).gain_uv == 1.0
    with pytest.raises(ValueError, match="does not fit int16"):
        waveform.quantize_mv(np.array([[40.0]]))


def test_nan_or_infinite_samples_are_refused():
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="NaN or infinite"):
            waveform.quantize_mv(np.array([[0.0, bad]]))


def test_a_blob_decodes_to_the_same_samples_and_its_hash_is_stable():
    samples = np.arange(-600, 600, dtype=np.int16).reshape(12, 100)
    blob = waveform.encode(samples)
    assert np.array_equal(waveform.decode(blob), samples)
    assert waveform.sha256(blob) == waveform.sha256(waveform.encode(samples.copy()))


def test_a_blob_that_is_not_2d_int16_is_refused():
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3,), dtype=np.float32))
    with pytest.raises(ValueError, match="not 2-D int16"):
        waveform.decode(buffer.getvalue())


def test_the_synthetic_ecg_obeys_einthoven_and_puts_r_peaks_at_the_requested_rate():
    signals, peaks = synthetic_ecg(heart_rate_bpm=60, sampling_rate=500, duration_s=10)
    index = {name: i for i, name in enumerate(STANDARD_LEADS)}
    assert signals.shape == (12, 5000)
    np.testing.assert_allclose(signals[index["II"]], signals[index["I"]] + signals[index["III"]], atol=1e-12)
    np.testing.assert_allclose(
        signals[index["aVR"]] + signals[index["aVL"]] + signals[index["aVF"]], 0, atol=1e-12
    )
    assert set(np.diff(peaks)) == {500}
    assert all(signals[index["II"], p] == signals[index["II"], p - 20 : p + 20].max() for p in peaks)
