"""Relevance bands in pure numpy: compact encoding, the time alignment that undoes a model's resampling
and padding, and occlusion sensitivity finding the one window a hand-made score depends on, within
its budget of model calls."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.providers.relevance import (
    MAX_OCCLUSION_CALLS,
    band_decode,
    band_encode,
    occlusion_relevance,
    occlusion_windows,
    to_exam_axis,
)


def test_a_band_encodes_to_one_byte_per_lead_and_10_ms_bin_and_decodes_within_half_a_step():
    rng = np.random.default_rng(1)
    values = rng.uniform(0.0, 3.0, (12, 5000))  # 10 s at 500 Hz, unnormalised
    band = band_encode(values, 500.0)
    assert (band.leads, band.bins, band.bin_ms) == (12, 1000, 10.0)
    assert isinstance(band.data, bytes) and len(band.data) == 12 * 1000
    assert band.peak == pytest.approx(values.reshape(12, 1000, 5).mean(axis=2).max())
    decoded = band_decode(band.data, band.leads, band.bins)
    expected = values.reshape(12, 1000, 5).mean(axis=2) / band.peak
    assert decoded.shape == (12, 1000) and decoded.min() >= 0.0 and decoded.max() == 1.0
    np.testing.assert_allclose(decoded, expected, atol=0.5 / 255 + 1e-9)


def test_negative_relevance_counts_as_none_and_an_all_zero_band_stays_zero():
    band = band_encode(-np.ones((1, 1000)), 500.0)
    assert band.peak == 0.0 and set(band.data) == {0} and band.leads == 1


def test_a_very_long_exam_gets_wider_bins_so_a_band_stays_bounded():
    band = band_encode(np.ones((1, 500 * 1200)), 500.0)  # 20 minutes
    assert band.bins <= 60_000 and band.bin_ms == pytest.approx(20.0)


def test_a_band_from_a_400_hz_input_padded_to_4096_lines_up_with_the_500_hz_exam():
    # 10 s at 500 Hz -> 4000 samples at 400 Hz, centred in 4096: 48 zeros before. The model says
    # input samples 48 + 1600 .. 48 + 2000 matter, i.e. 4.0 .. 5.0 s, i.e. exam samples 2000 .. 2500.
    relevance = np.zeros((1, 4096))
    relevance[0, 48 + 1600 : 48 + 2000] = 1.0
    exam = to_exam_axis(relevance, n_samples=5000, rate_hz=500.0, input_rate_hz=400.0, input_samples=4096)
    assert exam.shape == (1, 5000)
    assert exam[0, 2010:2490].min() > 0.99
    assert exam[0, :1990].max() < 0.01 and exam[0, 2510:].max() < 0.01


def test_a_cropped_exam_has_no_relevance_where_the_model_never_looked_and_time_steps_are_stretched():
    # 20 s at 400 Hz: the model saw the central 4096 samples (1952 .. 6047); its map has 256 steps.
    relevance = np.ones((12, 256))
    exam = to_exam_axis(relevance, n_samples=8000, rate_hz=400.0, input_rate_hz=400.0, input_samples=4096)
    assert exam.shape == (12, 8000)
    assert exam[:, 1960:6040].min() > 0.99
    assert exam[:, :1940].max() == 0.0 and exam[:, 6060:].max() == 0.0


def test_end_padding_puts_the_exam_at_the_start_of_the_input():
    relevance = np.zeros((1, 4096))
    relevance[0, :400] = 1.0  # the first second
    exam = to_exam_axis(
        relevance, n_samples=2500, rate_hz=250.0, input_rate_hz=400.0, input_samples=4096, pad="end"
    )
    assert exam[0, :240].min() > 0.99 and exam[0, 260:].max() < 0.01


def window_score(batch: np.ndarray) -> np.ndarray:
    """A hand-made two-class 'model': class 0 is the energy of samples 1000..1500 of every lead, class
    1 a constant that nothing in the trace changes."""
    energy = (batch[:, :, 1000:1500] ** 2).mean(axis=(1, 2))
    return np.stack([1.0 - np.exp(-energy), np.full(len(batch), 0.3)], axis=1)


def test_occlusion_finds_the_window_the_score_depends_on_within_its_call_budget():
    signals = np.random.default_rng(5).normal(0.0, 1.0, (12, 5000))
    calls = []

    def score(batch):
        calls.append(len(batch))
        return window_score(batch)

    relevance = occlusion_relevance(score, signals, 500.0)
    assert sum(calls) <= MAX_OCCLUSION_CALLS
    assert relevance.shape == (2, 1, 5000)  # the drop in each class's score, where the window was
    hot = relevance[0, 0] / relevance[0, 0].max()
    assert hot[1000:1500].mean() > 0.5
    assert hot[:750].max() == 0.0 and hot[1750:].max() == 0.0
    assert int(np.argmax(hot)) in range(1000, 1500)
    assert not relevance[1].any()


@pytest.mark.parametrize("seconds", [2.5, 10.0, 60.0, 600.0])
def test_occlusion_windows_cover_the_whole_trace_within_the_budget(seconds):
    n = int(500 * seconds)
    windows = occlusion_windows(n, 500.0)
    assert 1 + len(windows) <= MAX_OCCLUSION_CALLS
    covered = np.zeros(n, dtype=bool)
    for start, stop in windows:
        assert 0 <= start < stop <= n and stop - start >= 250
        covered[start:stop] = True
    assert covered.all()
