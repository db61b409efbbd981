"""The signal-quality report on signals whose defects are known: synthetic ones built with each defect,
and the real CPSC-2018 sample, clean as recorded and with a 10 mV spike put into V6."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.quality import quality_report
from annotations.lib.ecg.synthetic import synthetic_ecg
from tests.importing import SAMPLE_FILES

FS = 500.0
L = {name: index for index, name in enumerate(STANDARD_LEADS)}


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return synthetic_ecg(noise_uv=5.0, seed=3)[0]


@pytest.fixture(scope="module")
def cpsc() -> np.ndarray:
    return scipy.io.loadmat(SAMPLE_FILES["A1986"])["ECG"][0, 0]["data"].astype(np.float64)


def flagged(report: dict) -> dict[str, list[str]]:
    return {name: lead["flags"] for name, lead in report["leads"].items() if lead["flags"]}


def test_a_clean_synthetic_ecg_is_good_with_zero_limb_residuals(clean):
    report = quality_report(clean, FS)
    assert report["grade"] == "good", flagged(report)
    assert report["flags"] == [] and report["reversal"] is None
    assert all(value is not None and value < 0.1 for value in report["residuals"].values())


def test_the_real_cpsc_sample_is_good_and_its_limb_leads_obey_einthoven_and_goldberger(cpsc):
    report = quality_report(cpsc, FS)
    assert report["grade"] == "good", flagged(report)
    assert report["reversal"] is None
    assert all(value < 0.02 for value in report["residuals"].values())  # device-computed: ~0


def test_a_10_mv_spike_in_v6_of_the_cpsc_record_is_an_artefact_of_v6_alone(cpsc):
    spiked = cpsc.copy()
    spiked[L["V6"], 10_000:10_003] += 10.0
    report = quality_report(spiked, FS)
    assert flagged(report) == {"V6": ["artefact"]}
    assert report["leads"]["V6"]["largest_excursion_at_s"] == pytest.approx(20.0, abs=0.01)
    assert report["leads"]["V6"]["largest_excursion_mv"] > 9.5
    assert report["grade"] == "acceptable" and report["flags"] == ["artefact"]


def test_a_flat_lead_and_a_clipped_lead_are_named(clean):
    signals = clean.copy()
    signals[L["V2"]] = 0.0
    signals[L["V4"]] = np.clip(signals[L["V4"]], -0.3, 0.4)
    report = quality_report(signals, FS)
    assert flagged(report) == {"V2": ["flat"], "V4": ["saturated"]}
    assert report["grade"] == "acceptable"


def test_baseline_wander_and_muscle_noise_are_flagged_where_added(clean):
    signals = clean.copy()
    t = np.arange(signals.shape[1]) / FS
    signals[L["V1"]] += 1.5 * np.sin(2 * np.pi * 0.2 * t)  # 3 mV peak to peak of respiration drift
    signals[L["V5"]] += np.random.default_rng(1).normal(0.0, 0.1, t.size)  # 100 uV of tremor
    report = quality_report(signals, FS)
    assert flagged(report) == {"V1": ["baseline_wander"], "V5": ["noise"]}


def test_a_lead_stored_in_the_wrong_row_breaks_einthoven_and_grades_poor(clean):
    signals = clean.copy()
    signals[[L["III"], L["V3"]]] = signals[[L["V3"], L["III"]]]
    report = quality_report(signals, FS)
    assert report["residuals"]["III"] > 0.5
    assert report["residuals"]["aVR"] < 0.1  # Goldberger leads untouched
    assert "limb_leads_inconsistent" in report["flags"] and report["grade"] == "poor"


def test_derived_leads_are_not_checked_against_themselves(clean):
    report = quality_report(clean, FS, derived=["III", "aVR", "aVL", "aVF"])
    assert report["residuals"] == {"III": None, "aVR": None, "aVL": None, "aVF": None}


def test_every_lead_flat_is_poor():
    report = quality_report(np.zeros((12, 5000)), FS)
    assert report["grade"] == "poor" and len(report["flagged_leads"]) == 12


def _reversed(signals: np.ndarray, electrodes: str) -> np.ndarray:
    """What the cart records when two limb electrodes are swapped (Batchvarov et al. 2007, table 1)."""
    s, out = signals, signals.copy()
    if electrodes == "RA/LA":  # I -> -I, II <-> III, aVR <-> aVL
        out[L["I"]], out[L["II"]], out[L["III"]] = -s[L["I"]], s[L["III"]], s[L["II"]]
        out[L["aVR"]], out[L["aVL"]] = s[L["aVL"]], s[L["aVR"]]
    elif electrodes == "RA/LL":  # I -> -III, II -> -II, III -> -I, aVR <-> aVF
        out[L["I"]], out[L["II"]], out[L["III"]] = -s[L["III"]], -s[L["II"]], -s[L["I"]]
        out[L["aVR"]], out[L["aVF"]] = s[L["aVF"]], s[L["aVR"]]
    elif electrodes == "RA/RL":  # II is the potential between the two legs: a flat line
        out[L["II"]] = 0.0
        out[L["I"]], out[L["III"]] = -s[L["III"]], s[L["III"]]
        out[L["aVR"]], out[L["aVL"]], out[L["aVF"]] = s[L["III"]] / 2, -s[L["III"]], s[L["III"]] / 2
    return out


@pytest.mark.parametrize("electrodes", ["RA/LA", "RA/LL", "RA/RL"])
def test_limb_electrode_reversals_are_recognised(clean, electrodes):
    report = quality_report(_reversed(clean, electrodes), FS)
    assert report["reversal"]["electrodes"] == electrodes
    assert "lead_reversal" in report["flags"]


def test_dextrocardia_like_precordial_pattern_is_not_called_an_arm_reversal(clean):
    signals = _reversed(clean, "RA/LA")
    signals[L["V1"] : L["V6"] + 1] = signals[L["V1"] : L["V6"] + 1][::-1]  # R shrinks from V1 to V6
    assert quality_report(signals, FS)["reversal"] is None


def test_the_reversal_check_holds_on_the_real_record(cpsc):
    assert quality_report(_reversed(cpsc, "RA/LA"), FS)["reversal"]["electrodes"] == "RA/LA"
    assert quality_report(_reversed(cpsc, "RA/LL"), FS)["reversal"]["electrodes"] == "RA/LL"


def test_100_hz_records_are_checked_too():
    signals = synthetic_ecg(sampling_rate=100.0, noise_uv=5.0)[0]
    assert quality_report(signals, 100.0)["grade"] == "good"
