"""A request thread and the embedded default's task thread may both be the first to need scipy: each
must get whole modules (annotations/lib/lazy_imports.py says what went wrong without the lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Six threads enter scipy's import graph at once by the paths the app takes on first use: the median
# beat's filter, the R-peak energy, resampling, the measurement provider's band-pass and both
# providers whole (neurokit2, which brings scikit-learn and scipy.spatial).
RACE = """
import threading
import numpy as np
from annotations.lib.ecg import median_beat, qrs, resample
from annotations.lib.providers.measurements import MeasurementProvider, waves
from annotations.lib.providers.quality import QualityProvider
signals = np.random.default_rng(0).normal(size=(12, 5000))
jobs = [
    lambda: median_beat.median_beat(signals, 500.0),
    lambda: qrs.qrs_peaks(signals, 500.0),
    lambda: resample.resample(signals, 500.0, 400.0),
    lambda: waves.band_pass(signals),
    lambda: MeasurementProvider().evaluate(signals, 500.0),
    lambda: QualityProvider().evaluate(signals, 500.0),
]
errors = []
start = threading.Barrier(len(jobs))
def run(job):
    start.wait()
    try:
        job()
    except ImportError as error:
        errors.append(repr(error))
threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("errors:", errors)
"""


@pytest.mark.parametrize("attempt", range(4))
def test_threads_that_first_need_scipy_at_once_each_get_whole_modules(attempt):
    done = subprocess.run(
        [sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "errors: []", done.stdout + done.stderr
