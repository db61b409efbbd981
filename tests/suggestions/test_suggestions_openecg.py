"""The openecg codec provider on the real records of tests/data: rhythm, heart rate against an
independent R-peak count (the scipy detector of test_suggestions_measurements, over the same window),
intervals beside the DICOM sample's device measurements, and its identity (the model file's SHA-256).
Then through `manage.py suggest` on an imported record, as an operator runs it."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.providers.base import ProviderConfigError
from annotations.lib.providers.openecg_codec import OpenEcgProvider, bundled_model_path
from tests.suggestions.test_suggestions_measurements import (
    DATA,
    RECORDS,
    load_mv,
    rate_from_rr,
    reference_r_peaks,
)

SINUS = [name for name, row in RECORDS.items() if row[3] is not None]  # every labelled record is sinus


@pytest.fixture(scope="module")
def provider() -> OpenEcgProvider:
    return OpenEcgProvider()


@pytest.fixture(scope="module")
def results(provider):
    out = {}
    for name in RECORDS:
        signals, fs = load_mv(name)
        result = provider.evaluate(signals, fs)
        start, end = result.measurements["window_s"]
        window = signals[:, round(start * fs) : round(end * fs)]
        out[name] = (result, rate_from_rr(reference_r_peaks(window, fs), fs))
    return out


@pytest.mark.parametrize("name", list(RECORDS))
def test_heart_rate_is_within_2_bpm_of_an_independent_r_peak_count(results, name):
    result, reference = results[name]
    assert abs(result.measurements["heart_rate_bpm"] - reference) <= 2, (name, result.measurements)


@pytest.mark.parametrize("name", SINUS)
def test_no_atrial_fibrillation_is_suggested_on_a_sinus_record(provider, results, name):
    result, _ = results[name]
    assert result.scores["AF"] < provider.threshold("AF"), (name, result.scores)
    assert result.measurements["pr_ms"] is not None  # sinus: the PR interval is reported


@pytest.mark.parametrize("name", SINUS)
def test_rate_suggestions_follow_the_known_diagnosis(provider, results, name):
    result, _ = results[name]
    suggested = set(provider.suggested(result))
    expected = RECORDS[name][3]
    assert ("SB" in suggested) == (expected == "SB"), (name, result.scores)
    assert ("ST" in suggested) == (expected == "ST"), (name, result.scores)


def test_the_dicom_sample_intervals_are_near_its_device_measurements(results):
    """The file carries RR 982, PR 161, QRS 75, QT 368, QTc 370 ms (its own measurement group)."""
    m = results["waveform_ecg"][0].measurements
    assert abs(m["rr_mean_ms"] - 982) <= 20
    assert abs(m["pr_ms"] - 161) <= 20
    assert abs(m["qrs_ms"] - 75) <= 20
    assert abs(m["qt_ms"] - 368) <= 25
    assert abs(m["qtc_bazett_ms"] - 370) <= 25
    # Its frontal axes: P 74, QRS 52, T 57 degrees.
    assert (
        abs(m["p_axis_deg"] - 74) <= 15
        and abs(m["qrs_axis_deg"] - 52) <= 15
        and abs(m["t_axis_deg"] - 57) <= 15
    )
    rr_s = m["rr_mean_ms"] / 1000
    assert m["qtc_fridericia_ms"] == pytest.approx(m["qt_ms"] / rr_s ** (1 / 3), abs=0.2)


def test_edge_beats_are_counted_for_the_rate_but_not_measured(results):
    for result, _ in results.values():
        m = result.measurements
        assert m["beats_measured"] <= m["n_beats"]
        first, last = m["r_peaks_s"][0] - m["window_s"][0], m["window_s"][1] - m["r_peaks_s"][-1]
        if min(first, last) < 0.3:
            assert any("edges left out" in note for note in m["quality"]), m


def test_axes_are_reported_in_degrees_for_every_record(results):
    for name, (result, _) in results.items():
        for wave in ("p", "qrs", "t"):
            value = result.measurements[f"{wave}_axis_deg"]
            assert value is None or -180.0 <= value <= 180.0, (name, wave, value)
    # The aECG sample's device reports a QRS axis of -61 degrees (left axis deviation).
    assert -90 <= results["Example_aECG"][0].measurements["qrs_axis_deg"] <= -30


def test_the_version_carries_the_model_files_sha256_and_a_wrong_hash_is_refused(provider, results):
    digest = hashlib.sha256(bundled_model_path().read_bytes()).hexdigest()
    assert provider.version.split("+")[1] == digest[: len(provider.version.split("+")[1])]
    assert len(provider.version) == 40
    assert results["waveform_ecg"][0].measurements["model_sha256"] == digest
    with pytest.raises(ProviderConfigError, match="SHA-256"):
        OpenEcgProvider(sha256="0" * 64)


def test_no_pr_interval_is_reported_when_atrial_fibrillation_is_suggested(provider, monkeypatch):
    """The codec's AF call is forced (its rhythm head says afib everywhere, its frame head finds no P wave)
    on an irregular strip: the PR goes, the rest stays."""
    real = provider._lead

    def afib(signal):
        frame, beat, _ = real(signal)
        frame[frame == 1] = 0  # no P wave
        forced = np.zeros((len(signal), 6))
        forced[:, 3] = 1.0
        return frame, beat, forced

    monkeypatch.setattr(provider, "_lead", afib)
    signals, _ = synthetic_ecg(heart_rate_bpm=90, rr_jitter=0.2, seed=2)
    result = provider.evaluate(signals, 500.0)
    assert result.scores["AF"] >= provider.threshold("AF")
    assert result.measurements["pr_ms"] is None and result.measurements["qrs_ms"] is not None
    assert any("atrial fibrillation" in note for note in result.measurements["quality"])


@pytest.mark.django_db
def test_suggest_command_runs_the_codec_on_an_imported_dicom_record(tnmg, settings, tmp_path):
    from annotations.models import Exam
    from annotations.services.suggestions import suggestion_providers

    call_command(
        "import_exams", str(DATA / "dicom" / "waveform_ecg.dcm"), "--dataset", "dicom", "--no-progress"
    )
    exam = Exam.objects.get(dataset__name="dicom")
    settings.SUGGESTION_PROVIDERS = ["annotations.lib.providers.openecg_codec.OpenEcgProvider"]
    suggestion_providers.cache_clear()
    try:
        out = io.StringIO()
        call_command("suggest", str(exam.pk), "--provider", "openecg", "--json", stdout=out)
    finally:
        suggestion_providers.cache_clear()
    shown = json.loads(out.getvalue())
    assert shown["status"] == "ok", shown["error"]
    assert "AF" not in shown["suggested"]
    assert abs(shown["measurements"]["heart_rate_bpm"] - 61) <= 2
