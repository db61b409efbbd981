"""The representative (median) beat per lead, on real records whose beats are counted independently.

The reference beat count comes from an R-peak detector written here with scipy only (band-passed QRS
energy over all 12 leads, then find_peaks), independent of neurokit2, which the module uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, find_peaks, sosfiltfilt

from annotations.lib.ecg.median_beat import AFTER_MS, BEFORE_MS, fiducial_marks, median_beat
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.formats.base import ReadOptions, standardized
from annotations.lib.formats.registry import READERS

DATA = Path(__file__).parent.parent / "data"
RECORDS = {
    "E07500": ("wfdb", "wfdb/cinc2021/E07500.hea"),
    "JS20000": ("wfdb", "wfdb/cinc2021/JS20000.hea"),
    "HR06000": ("wfdb", "wfdb/cinc2021/HR06000.hea"),
    "00001_lr": ("wfdb", "wfdb/ptbxl/00001_lr.hea"),
    "A1986": ("cpsc2018", "cpsc2018/A1986.mat"),
}


def load_mv(name: str) -> tuple[np.ndarray, float]:
    fmt, relative = RECORDS[name]
    record = standardized(next(iter(READERS[fmt].read(DATA / relative, ReadOptions()))))
    signals = np.asarray(record.signals[:12], dtype=np.float64)
    if record.gain_uv is not None:
        gains = np.broadcast_to(np.asarray(record.gain_uv, dtype=np.float64), (record.signals.shape[0],))
        signals = signals * gains[:12, None] / 1000.0
    return signals, record.sampling_rate


def reference_r_peaks(signals: np.ndarray, fs: float) -> np.ndarray:
    sos = butter(3, [5.0, min(25.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    energy = np.sqrt((sosfiltfilt(sos, signals, axis=1) ** 2).sum(axis=0))
    peaks, _ = find_peaks(energy, height=0.35 * np.percentile(energy, 99), distance=round(0.25 * fs))
    return peaks


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_beats_counted_and_edge_beats_left_out_on_real_records(name):
    signals, fs = load_mv(name)
    reference = reference_r_peaks(signals, fs)
    beat = median_beat(signals, fs)
    assert beat is not None
    assert abs(beat.r_peaks - len(reference)) <= 1, (beat.r_peaks, len(reference))
    inside = [
        p for p in reference if p / fs * 1000 >= -BEFORE_MS and (len(signals[0]) - p) / fs * 1000 > AFTER_MS
    ]
    assert abs(beat.n_beats - len(inside)) <= 1
    assert beat.n_beats < beat.r_peaks or len(inside) == len(reference)
    assert beat.leads.shape == (12, round((AFTER_MS - BEFORE_MS) * beat.sampling_rate / 1000))


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_the_median_beat_peaks_at_r_and_its_qrs_onset_precedes_it(name):
    signals, fs = load_mv(name)
    beat = median_beat(signals, fs)
    r_index = round(-BEFORE_MS * beat.sampling_rate / 1000)
    # The dominant deflection of the summed absolute median beats lies within 40 ms of the alignment point.
    energy = np.abs(beat.leads).sum(axis=0)
    assert abs(int(np.argmax(energy)) - r_index) <= 0.04 * beat.sampling_rate
    assert beat.qrs_onset_ms is not None and -120 <= beat.qrs_onset_ms < 0


def test_synthetic_beat_matches_its_template_and_marks_follow_the_intervals():
    signals, peaks = synthetic_ecg(heart_rate_bpm=60.0, noise_uv=20.0, seed=3)
    beat = median_beat(signals, 500.0)
    assert beat is not None and beat.r_peaks == len(peaks) and beat.n_beats >= len(peaks) - 2
    marks = fiducial_marks(beat.qrs_onset_ms, pr_ms=160.0, qrs_ms=90.0, qt_ms=400.0)
    assert marks["qrs_off_ms"] - marks["qrs_on_ms"] == pytest.approx(90.0)
    assert marks["qrs_on_ms"] - marks["p_on_ms"] == pytest.approx(160.0)
    assert marks["t_off_ms"] - marks["qrs_on_ms"] == pytest.approx(400.0)


def test_marks_outside_the_window_or_without_an_interval_are_left_out():
    signals, _ = synthetic_ecg(heart_rate_bpm=60.0, seed=3)
    beat = median_beat(signals, 500.0)
    marks = fiducial_marks(beat.qrs_onset_ms, pr_ms=None, qrs_ms=90.0, qt_ms=900.0)
    assert marks["p_on_ms"] is None and marks["t_off_ms"] is None
    assert marks["qrs_on_ms"] is not None and marks["qrs_off_ms"] is not None


def test_flat_or_too_short_strips_have_no_median_beat():
    assert median_beat(np.zeros((12, 5000)), 500.0) is None
    assert median_beat(np.random.default_rng(0).normal(size=(12, 400)), 500.0) is None


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_the_qrs_onset_agrees_with_neurokit2_delineation_on_the_rule_provider_median(name):
    from annotations.lib.providers.measurements import waves

    signals, fs = load_mv(name)
    filtered = waves.band_pass(waves.to_internal_rate(signals, fs))
    peaks, _ = waves.detect_r_peaks(filtered, [])
    found = waves.intervals(filtered, peaks, waves.median_beats(filtered, peaks))
    assert median_beat(signals, fs).qrs_onset_ms == pytest.approx(found["onset"], abs=10.0)
