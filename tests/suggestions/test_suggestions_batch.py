"""Several exams at once: Provider.run_many / evaluate_many give, exam by exam, what run / evaluate give.

The openecg codec's run_many shares its preprocessing and its onnxruntime calls across exams (records at
100, 500 and 1000 Hz, 10-43 s, and one 3 s strip that is zero-padded), so a mix-up between exams or a
change in the numbers would show here: every measurement equal, every score within float noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.providers.base import Provider, ProviderError, ProviderResult
from annotations.lib.providers.openecg_codec import OpenEcgProvider
from tests.suggestions.test_suggestions_measurements import load_mv

NAMES = ("E07500", "00001_lr", "s0010_re", "Example_aECG", "waveform_ecg")


class Counting(Provider):
    """Scores each exam by its first sample, and counts run calls."""

    name = "counting"
    version = "1"
    codes = ("SB",)

    def __init__(self) -> None:
        self.calls = 0

    def run(self, signals_mv: np.ndarray, sampling_rate: float) -> ProviderResult:
        self.calls += 1
        return ProviderResult(scores={"SB": float(signals_mv[0, 0])}, measurements={"fs": sampling_rate})


@pytest.fixture(scope="module")
def provider() -> OpenEcgProvider:
    return OpenEcgProvider()


@pytest.fixture(scope="module")
def exams() -> list[tuple[np.ndarray, float]]:
    out = [load_mv(name) for name in NAMES]
    out.append((synthetic_ecg(heart_rate_bpm=130, seed=3)[0], 500.0))
    short, fs = out[0]
    out.append((short[:, : round(3 * fs)], fs))  # 3 s: the window is zero-padded
    return out


def assert_same(batched: ProviderResult, single: ProviderResult) -> None:
    assert batched.scores.keys() == single.scores.keys()
    for code, score in single.scores.items():
        assert batched.scores[code] == pytest.approx(score, abs=1e-6), code
    assert batched.measurements == single.measurements


def test_the_default_run_many_runs_each_exam_in_order():
    provider = Counting()
    exams = [(np.full((12, 1000), value), 500.0) for value in (0.1, 0.7, 0.3)]
    results = provider.run_many(exams)
    assert [r.scores["SB"] for r in results] == [0.1, 0.7, 0.3] and provider.calls == 3


def test_evaluate_many_fails_a_bad_exam_alone():
    good = np.full((12, 1000), 0.4)
    results = Counting().evaluate_many([(good, 500.0), (good[:, :500], 500.0), (good, 250.0)])
    assert results[0].scores == {"SB": 0.4} and results[2].measurements == {"fs": 250.0}
    assert isinstance(results[1], ProviderError) and "at least 2 s" in str(results[1])


def test_evaluate_many_of_nothing_is_nothing(provider):
    assert provider.evaluate_many([]) == [] and Counting().evaluate_many([]) == []


def test_the_codec_gives_each_exam_of_a_batch_what_it_gives_that_exam_alone(provider, exams):
    single = [provider.evaluate(signals, fs) for signals, fs in exams]
    batched = provider.evaluate_many(exams)
    assert len(batched) == len(exams)
    for one, alone in zip(batched, single, strict=True):
        assert_same(one, alone)


def test_the_order_of_exams_in_a_batch_does_not_matter(provider, exams):
    forward = provider.run_many(exams)
    backward = provider.run_many(exams[::-1])[::-1]
    for one, other in zip(forward, backward, strict=True):
        assert_same(one, other)
