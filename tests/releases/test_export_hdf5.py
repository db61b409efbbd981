"""The CODE tracing convention and byte-reproducible HDF5, without a database."""

import hashlib
import time

import h5py
import numpy as np

from annotations.lib.release_files.files import pseudonyms, sha256sums, wilson_interval
from annotations.lib.release_files.hdf5 import TracingsWriter, code_tracing, fit_length, resample


def test_ten_seconds_at_500_hz_become_4000_samples_centred_in_4096():
    samples = np.ones((12, 5000), dtype=np.int16) * 1000
    tracing = code_tracing(samples, gain_uv=1.0, rate_hz=500.0)
    assert tracing.shape == (4096, 12) and tracing.dtype == np.float32
    assert not tracing[:48].any() and not tracing[-48:].any()
    np.testing.assert_allclose(tracing[200:3900], 1.0, rtol=1e-3)  # 1000 steps of 1 uV = 1 mV


def test_a_sine_keeps_its_frequency_when_resampled_to_400_hz():
    t = np.arange(5000) / 500.0
    signal = np.sin(2 * np.pi * 5 * t)[:, None]
    out = resample(signal, 500.0, 400.0)
    assert out.shape == (4000, 1)
    expected = np.sin(2 * np.pi * 5 * np.arange(4000) / 400.0)
    np.testing.assert_allclose(out[100:-100, 0], expected[100:-100], atol=1e-3)


def test_long_exams_are_centre_cropped_and_short_ones_padded():
    long = np.arange(5000, dtype=np.float64)[:, None]
    assert fit_length(long, 4096)[0, 0] == (5000 - 4096) // 2
    short = np.ones((2801, 1))
    padded = fit_length(short, 4096)
    assert padded.sum() == 2801 and padded[(4096 - 2801) // 2, 0] == 1 and padded[0, 0] == 0


def test_an_hdf5_file_written_twice_is_byte_identical(tmp_path):
    def write(path):
        with TracingsWriter(path, n_rows=2) as writer:
            writer.write(
                np.stack(
                    [
                        code_tracing(np.full((12, 5000), i, np.int16), gain_uv=2.0, rate_hz=500.0)
                        for i in (1, 2)
                    ]
                )
            )
            writer.write_ids("exam_id", [b"a", b"bb"])
        return hashlib.sha256(path.read_bytes()).hexdigest()

    first = write(tmp_path / "a.hdf5")
    time.sleep(1.1)  # HDF5 timestamps have one-second resolution: a stamp would now differ
    assert write(tmp_path / "b.hdf5") == first
    with h5py.File(tmp_path / "a.hdf5", "r") as handle:
        assert handle["tracings"].shape == (2, 4096, 12)
        assert list(handle["exam_id"][:]) == [b"a", b"bb"]


def test_pseudonyms_follow_sorted_ids_and_reveal_nothing_else():
    assert pseudonyms([42, 7, 13, 7]) == {7: "R01", 13: "R02", 42: "R03"}
    assert pseudonyms(range(100))[99] == "R100"


def test_a_person_keeps_the_pseudonym_an_earlier_release_gave_them_and_newcomers_take_unused_ones():
    # Earlier releases: R01 was 42, then 7 (the latest release that names R01 owns it); R02 was 13.
    earlier = [{"R01": 42, "R02": 13}, {"R01": 7, "R03": 42}]
    assert pseudonyms([7, 13, 42, 5], earlier=earlier) == {7: "R01", 13: "R02", 42: "R03", 5: "R04"}
    # A name nobody owns any more is not handed to someone else: 99 takes R04, not the R01 42 once had.
    assert pseudonyms([99], earlier=earlier) == {99: "R04"}
    # Adjudicators are numbered apart; a reader's name says nothing of them.
    assert pseudonyms([7, 8], prefix="A", earlier=[{"R01": 7, "A01": 8}]) == {8: "A01", 7: "A02"}


def test_the_wilson_interval_stays_inside_zero_and_one():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0 < high < 0.35
    low, high = wilson_interval(10, 10)
    assert 0.65 < low < 1 and high == 1.0
    assert wilson_interval(0, 0) == (None, None)


def test_the_checksum_manifest_is_in_sha256sum_format_sorted_by_name():
    assert sha256sums([("b.csv", "2" * 64), ("a.csv", "1" * 64)]) == f"{'1' * 64}  a.csv\n{'2' * 64}  b.csv\n"
