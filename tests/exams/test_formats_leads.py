"""Lead names, lead order, derived leads and int16 storage: pure numpy, no database."""

import numpy as np
import pytest

from annotations.lib.ecg import waveform
from annotations.lib.ecg.leads import STANDARD_LEADS, LeadError, arrange_leads, canonical_lead_name
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.lib.formats.base import Record, RecordError, standardized


@pytest.mark.parametrize(
    ("label", "standard"),
    [
        ("i", "I"),
        ("II", "II"),
        ("avr", "aVR"),
        ("AVL", "aVL"),
        ("aVF", "aVF"),
        ("v1", "V1"),
        ("Lead I (Einthoven)", "I"),
        ("Lead III", "III"),
        ("MDC_ECG_LEAD_AVR", "aVR"),
        ("MDC_ECG_LEAD_V6", "V6"),
        ("DII", "II"),
        (" V4 ", "V4"),
    ],
)
def test_lead_labels_are_recognised_whatever_their_spelling(label, standard):
    assert canonical_lead_name(label) == standard


@pytest.mark.parametrize("label", ["vx", "vy", "vz", "Pleth", "RESP", "", "V7"])
def test_signals_that_are_not_standard_leads_are_not_mistaken_for_one(label):
    assert canonical_lead_name(label) is None


def test_leads_stored_out_of_order_come_back_in_standard_order_with_extras_last():
    names = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "AVR", "AVL", "AVF", "vx"]
    signals = np.arange(13)[:, None] * np.ones((13, 4))
    arranged, arranged_names, derived = arrange_leads(names, signals)
    assert arranged_names == [*STANDARD_LEADS, "vx"]
    assert derived == []
    assert [int(row[0]) for row in arranged] == [0, 1, 8, 9, 10, 11, 2, 3, 4, 5, 6, 7, 12]


def test_eight_stored_leads_get_the_four_limb_leads_derived_by_einthoven_and_goldberger():
    full, _ = synthetic_ecg(seed=3)
    eight = full[[0, 1, 6, 7, 8, 9, 10, 11]]
    arranged, names, derived = arrange_leads(["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"], eight)
    assert names == list(STANDARD_LEADS)
    assert derived == ["III", "aVR", "aVL", "aVF"]
    assert np.allclose(arranged, full, atol=1e-12)


def test_integer_leads_stay_exact_when_the_augmented_leads_are_derived():
    rng = np.random.default_rng(0)
    stored = rng.integers(-2000, 2000, (8, 500))
    record = standardized(
        Record(
            external_id="x",
            signals=stored,
            sampling_rate=500.0,
            gain_uv=4.88,
            lead_names=["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"],
        )
    )
    quantized = waveform.to_int16(record.signals, record.gain_uv)
    assert quantized.gain_uv == pytest.approx(2.44)
    microvolts = quantized.samples.astype(np.int64) * quantized.gain_uv
    assert np.array_equal(quantized.samples[0].astype(np.int64), stored[0] * 2)  # I exact
    assert np.allclose(microvolts[3], -(stored[0] + stored[1]) / 2 * 4.88)  # aVR = -(I + II) / 2
    assert np.allclose(microvolts[2], (stored[1] - stored[0]) * 4.88)  # III = II - I


def test_a_missing_precordial_lead_cannot_be_made_up():
    signals = np.zeros((11, 10))
    names = [lead for lead in STANDARD_LEADS if lead != "V3"]
    with pytest.raises(LeadError, match="V3"):
        arrange_leads(names, signals)


def test_a_lead_given_twice_is_refused():
    with pytest.raises(LeadError, match="twice"):
        arrange_leads(["I", "i", *STANDARD_LEADS[1:]], np.zeros((13, 5)))


def test_a_record_with_nan_samples_is_refused_by_name():
    signals = np.zeros((12, 100))
    signals[3, 7] = np.nan
    with pytest.raises(RecordError, match=r"rec-9.*NaN"):
        standardized(
            Record(external_id="rec-9", signals=signals, sampling_rate=500.0, lead_names=list(STANDARD_LEADS))
        )


def test_integer_samples_with_one_gain_are_stored_exactly():
    stored = np.random.default_rng(1).integers(-32768, 32767, (12, 1000))
    quantized = waveform.to_int16(stored, 0.5)
    assert quantized.gain_uv == 0.5
    assert np.array_equal(quantized.samples, stored)


def test_per_lead_gains_that_are_multiples_fold_into_one_exact_gain():
    stored = np.random.default_rng(2).integers(-1000, 1000, (3, 100))
    quantized = waveform.to_int16(stored, np.array([1.25, 2.5, 1.25]))
    assert quantized.gain_uv == 1.25
    assert np.array_equal(
        quantized.samples.astype(np.int64) * 1.25, stored * np.array([[1.25], [2.5], [1.25]])
    )


def test_integers_too_wide_for_int16_fall_back_to_one_microvolt_or_better():
    stored = np.array([[0, 100_000, -250_000]])  # 24-bit style, 0.1 uV per step
    quantized = waveform.to_int16(stored, 0.1)
    restored_uv = quantized.samples.astype(np.float64) * quantized.gain_uv
    assert np.abs(restored_uv - stored * 0.1).max() <= 0.5 + 1e-9


def test_the_batch_quantiser_agrees_with_the_single_exam_one():
    rng = np.random.default_rng(4)
    batch = (rng.normal(size=(5, 12, 300)) * np.array([0.01, 0.5, 2.0, 5.0, 8.0])[:, None, None]).astype(
        np.float32
    )
    samples, gains, ok = waveform.quantize_batch_mv(batch)
    assert ok.all()
    for index in range(5):
        single = waveform.quantize_mv(batch[index].astype(np.float64))
        assert gains[index] == single.gain_uv
        restored = samples[index].astype(np.float64) * gains[index] / 1000
        # Half a step, plus float32 rounding of the scaling (a thousandth of a microvolt here).
        assert np.abs(restored - batch[index]).max() <= gains[index] / 2000 + 1e-6


def test_the_batch_quantiser_flags_exams_it_cannot_store_instead_of_failing_them_all():
    batch = np.ones((3, 12, 10), dtype=np.float32)
    batch[1, 0, 0] = np.inf
    batch[2, 0, 0] = 80.0  # 80 mV does not fit int16 at 1 uV
    _, _, ok = waveform.quantize_batch_mv(batch)
    assert ok.tolist() == [True, False, False]


def test_the_fast_encoder_writes_the_same_bytes_as_numpy_save():
    samples = np.random.default_rng(5).integers(-3000, 3000, (15, 38400)).astype(np.int16)
    assert waveform.encode_fast(samples) == waveform.encode(samples)
    assert np.array_equal(waveform.decode(waveform.encode_fast(samples)), samples)
