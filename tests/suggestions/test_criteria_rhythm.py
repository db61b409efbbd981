"""Rhythm and conduction criteria of the measurement provider, on real labelled records and on strips
built here beat by beat where a criterion needs a known answer.

Real records: tests/data/ecg-labelled (SNOMED CT labels in each header's #Dx line), and the device
records of test_suggestions_measurements.py whose carts measured a PR interval. Readings "by eye" below
were taken on plots of each record's 12-lead median beat (zero-phase 0.5-40 Hz, R peak at 0 ms, a 20 ms
grid), as a reader reads a median beat with calipers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotations.lib.formats.base import ReadOptions, standardized
from annotations.lib.formats.registry import READERS
from annotations.lib.providers.measurements import MeasurementProvider
from tests.suggestions.test_suggestions_measurements import DATA, RECORDS, load_mv

LABELLED = Path(__file__).parent.parent / "data" / "ecg-labelled" / "records"


def load_labelled(name: str) -> tuple[np.ndarray, float, set[str]]:
    """(12, n) mV, sampling rate and the SNOMED CT codes of one labelled record."""
    record = standardized(next(iter(READERS["wfdb"].read(LABELLED / f"{name}.hea", ReadOptions()))))
    signals = np.asarray(record.signals[:12], dtype=np.float64)
    gains = np.broadcast_to(np.asarray(record.gain_uv, dtype=np.float64), (record.signals.shape[0],))
    return signals * gains[:12, None] / 1000.0, float(record.sampling_rate), SNOMED[name]


def _labels() -> dict[str, set[str]]:
    rows = (LABELLED.parent / "records.tsv").read_text().splitlines()[1:]
    return {row.split("\t")[0]: set(row.split("\t")[3].split(",")) for row in rows if row.strip()}


SNOMED = _labels()


@pytest.fixture(scope="module")
def provider() -> MeasurementProvider:
    return MeasurementProvider()


# --- PR interval --------------------------------------------------------------------------------------
# Both records are labelled first-degree AV block (SNOMED 270492004 / 164947007). Read on the median
# beat: HR00599's P wave leaves the baseline in II and aVF at about -310 ms from R and the QRS starts at
# about -52 ms (II and V2 leave their PR segment), PR about 258 ms; Q0050's P starts rising in II and aVF
# at about -282 ms and its QRS at about -56 ms (V1 rises, II dips), PR about 226 ms. The provider used to
# measure 197 and 194 ms (per-lead P onsets placed inside the P wave) and missed both blocks.
FIRST_DEGREE_BLOCKS = {"HR00599": 258.0, "Q0050": 226.0}


@pytest.mark.parametrize(("name", "read_ms"), FIRST_DEGREE_BLOCKS.items())
def test_a_first_degree_av_block_measures_the_pr_of_its_median_beat(provider, name, read_ms):
    signals, rate, _ = load_labelled(name)
    result = provider.evaluate(signals, rate)
    assert abs(result.measurements["pr_ms"] - read_ms) <= 20, result.measurements["pr_ms"]
    assert "1dAVb" in provider.suggested(result)


# The device records whose files carry the cart's PR (148-164 ms, all normal).
CART_PR = (
    "Example_aECG",
    "waveform_ecg",
    "heartstartMRx",
    "welch_lvh",
    "pagewriterTC",
    "pagewriterTouch",
    "muse_MAC55",
)


@pytest.mark.parametrize("name", CART_PR)
def test_the_pr_of_a_record_whose_cart_measured_one_stays_within_20_ms_of_the_cart(provider, name):
    fmt, relative, _, _ = RECORDS[name]
    cart = next(iter(READERS[fmt].read(DATA / relative, ReadOptions()))).device_measurements["pr_ms"]
    signals, rate = load_mv(name)
    result = provider.evaluate(signals, rate)
    assert abs(result.measurements["pr_ms"] - cart) <= 20, (result.measurements["pr_ms"], cart)
    assert "1dAVb" not in provider.suggested(result)


# --- Beats ----------------------------------------------------------------------------------------------
def test_one_leads_electrode_spikes_are_no_beats_and_do_not_hide_a_premature_beat(provider):
    """JS20011 (sinus tachycardia with a PAC): V2 alone carries spikes of up to 10 mV at 1.74 and 2.02 s,
    which took the place of the PAC at 1.92 s in the beat list. Counted by eye on V5: 16 QRS complexes
    (0.80, 1.40, 1.92, 2.55 ... 9.45 s)."""
    signals, rate, _ = load_labelled("JS20011")
    result = provider.evaluate(signals, rate)
    assert result.measurements["n_beats"] == 16
