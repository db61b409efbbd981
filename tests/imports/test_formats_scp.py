"""SCP-ECG through the import service and the upload API: the two real Welch Allyn files, the
non-compliant handheld file, and files built to the standard (tests/scp_encoder.py) for what the real
files do not use, each read back exactly; corrupted records refused naming the section, nothing stored."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.models import Exam, ImportJob, ReferenceLabel
from annotations.services.exams.waveforms import waveform_load
from annotations.services.imports.exams import exams_import
from annotations.tasks import imports_run
from tests import scp_encoder as enc
from tests.importing import DATA, blob_files, use_private_storage

pytestmark = pytest.mark.django_db
SCP = DATA / "scp-ecg"
NORMAL_EN = SCP / "welchallyn_cardiocontrol_20081029_normal_en.SCP"
LVH_SV = SCP / "welchallyn_cardiocontrol_20070321_lvh.SCP"
HEALFORCE = SCP / "healforce_prince180d_62_noncompliant.SCP"
EIGHT = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
STORED_ROWS = [STANDARD_LEADS.index(name) for name in EIGHT]


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def stored_uv(exam: Exam) -> np.ndarray:
    return waveform_load(exam.waveform_key).astype(np.float64) * exam.gain_uv


def import_one(path: Path):
    report = exams_import([path], dataset="scp")
    return report, report.files[0]


def nothing_stored(blobs: Path) -> None:
    assert Exam.objects.count() == 0 and ReferenceLabel.objects.count() == 0
    assert blob_files(blobs) == []


# --- The real files -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [NORMAL_EN, LVH_SV])
def test_a_welch_allyn_file_imports_eight_leads_of_6000_samples_with_derived_limb_leads(path, blobs):
    report, outcome = import_one(path)
    assert report.files_failed == 0, outcome.error
    exam = Exam.objects.get()
    assert exam.source_format == "scp"
    assert exam.lead_names == list(STANDARD_LEADS)
    assert exam.n_samples == 6000
    assert exam.sampling_rate == pytest.approx(1e6 / 1667)  # the interval is in microseconds
    assert exam.gain_uv == pytest.approx(3.75 / 2)  # 3750 nV per count, halved for exact aVR/aVL/aVF
    uv = stored_uv(exam)
    # Derived leads by Einthoven and Goldberger from the stored I and II, exactly.
    assert np.allclose(uv[2], uv[1] - uv[0]) and np.allclose(uv[3], -(uv[0] + uv[1]) / 2)
    # Amplitude plausibility: QRS of a few millivolts, not microvolts or volts.
    span_mv = np.ptp(uv[STORED_ROWS], axis=1) / 1000
    assert 0.5 < span_mv.max() < 6 and span_mv.min() > 0.3


def test_the_heart_rate_of_the_decoded_rhythm_matches_the_carts_own_rr_interval(blobs):
    """Independent of the decoding: section 7's average RR (750 and 800 ms) against R peaks in lead II."""
    for path, rr_ms in ((NORMAL_EN, 750), (LVH_SV, 800)):
        import_one(path)
        exam = Exam.objects.get(external_id=path.stem)
        lead = stored_uv(exam)[1]
        lead = lead - np.median(lead)
        threshold = 0.6 * np.abs(lead).max()
        peaks = [
            n
            for n in range(1, len(lead) - 1)
            if abs(lead[n]) > threshold
            and abs(lead[n]) >= abs(lead[n - 1])
            and abs(lead[n]) > abs(lead[n + 1])
        ]
        beats = [p for i, p in enumerate(peaks) if i == 0 or p - peaks[i - 1] > 0.25 * exam.sampling_rate]
        measured = np.median(np.diff(beats)) / exam.sampling_rate * 1000
        assert measured == pytest.approx(rr_ms, rel=0.05), (path.name, measured)


def test_statements_become_reference_labels_and_identifiers_are_dropped(blobs):
    import_one(NORMAL_EN)
    exam = Exam.objects.get()
    labels = set(exam.reference_labels.values_list("code_system", "code"))
    assert ("statement", "sinus rhythm") in labels and ("statement", "Normal ECG") in labels
    assert exam.identifiers == {}
    assert (exam.age, exam.sex) == (40, "M")
    assert exam.acquired_at.replace(tzinfo=None).isoformat().startswith("2008-10-29T10:56:42")


def test_swedish_latin1_statements_come_out_as_written(blobs):
    """The reader decodes Latin-1 as written ("ålderskorrigerat"); the import keeps the findings and
    leaves out the lines that are measured values ("... Sokolow index ... = 4.1 mV")."""
    from annotations.lib.formats import scp
    from annotations.lib.formats.base import ReadOptions

    (record,) = list(scp.read(LVH_SV, ReadOptions()))
    assert ("statement", "ålderskorrigerat Sokolow index (SV1+RV5 eller V6) = 4.1 mV") in record.labels
    import_one(LVH_SV)
    codes = set(Exam.objects.get().reference_labels.values_list("code", flat=True))
    assert {"sinusrytm", "VK-hypertrofi", "septal infarkt"} <= codes
    assert not any(code.startswith("ålderskorrigerat") for code in codes)


def test_identifiers_are_kept_only_when_the_policy_says_keep(blobs, settings):
    settings.IDENTIFIERS_POLICY = "keep"
    import_one(NORMAL_EN)
    assert Exam.objects.get().identifiers["patient_id"] == "191010101010"


def test_the_non_compliant_handheld_file_is_refused_with_a_clear_message(blobs):
    report, outcome = import_one(HEALFORCE)
    assert report.files_failed == 1
    assert "SCP-ECG" in outcome.error and "not a compliant SCP-ECG record" in outcome.error
    # What is wrong with it, not a truncation it does not have (an operator's walk was told "truncated"):
    # no 'SCPECG' identification, and a protocol version the standard does not have.
    assert "'SCPECG'" in outcome.error and "protocol version 13" in outcome.error, outcome.error
    assert "truncated" not in outcome.error, outcome.error
    nothing_stored(blobs)


def test_a_coordinator_uploads_a_real_scp_file_through_the_api(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile(NORMAL_EN.name, NORMAL_EN.read_bytes(), "application/octet-stream")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post("/api/v1/imports/", {"files": [upload], "dataset": "carts"})
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    imports_run.apply(args=(response.json()["id"],)).get()
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.files_failed, job.created) == ("done", 0, 1), job.outcomes
    exam = Exam.objects.get(dataset__name="carts")
    assert exam.n_samples == 6000 and exam.source_format == "scp"
    assert ("statement", "sinus rhythm") in set(exam.reference_labels.values_list("code_system", "code"))
    # A cart's statement longer than a code is kept whole, as the cart wrote it, not cut at 60 characters.
    warning = "Warning: artifact in (part of) recording - use interpretation with caution"
    assert ("statement", warning) in set(exam.reference_labels.values_list("code_system", "code"))


# --- Built files: what the real ones do not use, read back exactly ----------------------------------------
RATE_US = 2000  # 500 Hz
MULTIPLIER_NV = 5000  # 5 uV per count


def truth(samples: int = 2500, seed: int = 7) -> np.ndarray:
    """Eight leads of a plausible beat-like integer signal (counts)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples)
    beat = (np.exp(-(((t % 400) - 200) ** 2) / 60.0) * 250).astype(np.int64)
    return np.stack([beat * (k % 3 - 1 or 1) + rng.integers(-6, 7, samples) for k in range(8)])


def write(tmp_path: Path, bodies: dict[int, bytes], name: str = "built.scp") -> Path:
    path = tmp_path / name
    path.write_bytes(enc.build(bodies).data)
    return path


def basic_bodies(signal: np.ndarray, *, order: int = 1, tables=None, switches=None) -> dict[int, bytes]:
    bodies = {
        1: enc.section1_body(),
        3: enc.section3_body(EIGHT, signal.shape[1]),
        6: enc.data_body(
            signal,
            multiplier_nv=MULTIPLIER_NV,
            interval_us=RATE_US,
            order=order,
            tables=tables,
            switches=switches,
        ),
        8: enc.statements_body(["Sinus rhythm", "Left axis deviation"]),
    }
    if tables != "raw":
        bodies[2] = enc.section2_body(None if tables is None else tables)
    return bodies


def assert_stored_exactly(signal: np.ndarray) -> None:
    exam = Exam.objects.get()
    assert exam.sampling_rate == 500 and exam.n_samples == signal.shape[1]
    assert np.allclose(stored_uv(exam)[STORED_ROWS], signal * MULTIPLIER_NV / 1000, atol=1e-9, rtol=0)


@pytest.mark.parametrize("order", [0, 1, 2])
def test_default_huffman_with_each_difference_order_reads_back_exactly(order, blobs, tmp_path):
    signal = truth()
    report, outcome = import_one(write(tmp_path, basic_bodies(signal, order=order)))
    assert report.files_failed == 0, outcome.error
    assert_stored_exactly(signal)


def test_uncompressed_samples_without_section_2_read_back_exactly(blobs, tmp_path):
    signal = truth()
    report, outcome = import_one(write(tmp_path, basic_bodies(signal, order=2, tables="raw")))
    assert report.files_failed == 0, outcome.error
    assert_stored_exactly(signal)


def custom_tables() -> list[list[enc.Code]]:
    """Table 1 codes small values and switches to table 2 (with '111'); table 2 has a 12-bit escape and
    switches back (with '11')."""
    first = [(1, 1, 1, 0, "0"), (2, 2, 1, 1, "10"), (3, 3, 0, 2, "111"), (3, 19, 1, 0, "110")]
    second = [(1, 13, 1, 0, "0"), (2, 2, 0, 1, "11"), (2, 2, 1, -1, "10")]
    return [first, second]


def test_a_custom_huffman_table_with_table_switches_reads_back_exactly(blobs, tmp_path):
    signal = truth(samples=1200)
    switches = {300: 2, 700: 1}
    report, outcome = import_one(
        write(tmp_path, basic_bodies(signal, order=1, tables=custom_tables(), switches=switches))
    )
    assert report.files_failed == 0, outcome.error
    assert_stored_exactly(signal)


def reference_case(signal: np.ndarray, *, bimodal_factor: int = 0):
    """Beats every 400 samples with a reference beat subtracted in [fc-40, fc+60]; the rhythm (residual)
    decimated by `bimodal_factor` outside protected zones [fc-20, fc+30] when asked."""
    samples = signal.shape[1]
    rng = np.random.default_rng(3)
    reference_fiducial, reference = 81, rng.integers(-300, 300, (8, 200))  # 400 ms at 500 Hz
    beats = [
        enc.Qrs(fiducial=fc, start=fc - 40, end=fc + 60, protected=(fc - 20, fc + 30))
        for fc in range(201, samples - 200, 400)
    ]
    residual = signal.copy()
    for beat in beats:
        first, last = beat.start - 1, beat.end - 1
        offset = reference_fiducial - beat.fiducial
        residual[:, first : last + 1] -= reference[:, first + offset : last + offset + 1]
    full = signal.copy()
    stored = residual
    if bimodal_factor:
        mask = np.zeros(samples, dtype=bool)
        for beat in beats:
            mask[beat.protected[0] - 1 : beat.protected[1]] = True
        keep = []
        n = 0
        while n < samples:  # every sample in protected zones, every factor-th of each run outside them
            if mask[n]:
                keep.append(n)
                n += 1
            else:
                run = n
                while run < samples and not mask[run]:
                    run += 1
                keep.extend(range(n, run, bimodal_factor))
                n = run
        keep = np.asarray(keep)
        # Decimation is lossy by design: the truth is what the anchors define, linearly in between.
        residual = np.stack([np.rint(np.interp(np.arange(samples), keep, row[keep])) for row in residual])
        residual = residual.astype(np.int64)
        full = residual.copy()
        for beat in beats:
            first, last = beat.start - 1, beat.end - 1
            offset = reference_fiducial - beat.fiducial
            full[:, first : last + 1] += reference[:, first + offset : last + offset + 1]
        stored = residual[:, keep]
    bodies = {
        1: enc.section1_body(),
        2: enc.section2_body(None),
        3: enc.section3_body(EIGHT, samples, subtracted=True),
        4: enc.section4_body(400, reference_fiducial, beats),
        5: enc.data_body(reference, multiplier_nv=MULTIPLIER_NV, interval_us=RATE_US, order=2, tables=None),
        6: enc.data_body(
            stored,
            multiplier_nv=MULTIPLIER_NV,
            interval_us=RATE_US * (bimodal_factor or 1),
            order=1,
            tables=None,
            flag=1 if bimodal_factor else 0,
        ),
    }
    return bodies, full


def test_reference_beat_subtraction_is_undone_exactly(blobs, tmp_path):
    signal = truth()
    bodies, full = reference_case(signal)
    assert np.array_equal(full, signal)
    report, outcome = import_one(write(tmp_path, bodies))
    assert report.files_failed == 0, outcome.error
    assert_stored_exactly(signal)


def test_bimodal_compression_with_reference_beat_subtraction_reads_back_exactly(blobs, tmp_path):
    bodies, full = reference_case(truth(), bimodal_factor=4)
    report, outcome = import_one(write(tmp_path, bodies))
    assert report.files_failed == 0, outcome.error
    assert_stored_exactly(full)


def test_universal_statements_of_section_11_become_reference_labels(blobs, tmp_path):
    bodies = basic_bodies(truth())
    bodies[11] = enc.statements_body(["Sinus bradycardia"], universal=True)
    import_one(write(tmp_path, bodies))
    labels = set(Exam.objects.get().reference_labels.values_list("code_system", "code"))
    assert ("statement", "Sinus bradycardia") in labels and ("statement", "Left axis deviation") in labels


# --- Corrupted and unsupported records: refused naming the section, nothing stored ------------------------
def corrupted(kind: str) -> bytes:
    built = enc.build(basic_bodies(truth(samples=600)))
    data = bytearray(built.data)
    six = built.starts[6]
    if kind == "record crc":
        data[-1] ^= 0xFF
        return bytes(data)
    if kind == "section crc":
        data[six + 30] ^= 0x55
        return enc.recrc(bytes(data))  # the record's CRC made right: only section 6's is wrong
    if kind == "truncated":
        return bytes(data[: len(data) // 2])
    if kind == "lying section length":
        struct.pack_into("<I", data, six + 4, struct.unpack_from("<I", data, six + 4)[0] + 10)
        return enc.recrc(bytes(data), six)
    if kind == "lying pointer":
        entry = 6 + 16 + 10 * 6  # section 0's pointer to section 6
        struct.pack_into("<I", data, entry + 6, len(data) - 20)
        return enc.recrc(enc.recrc(bytes(data), 6))
    if kind == "lying lead byte count":
        lengths = six + 16 + 6
        struct.pack_into("<H", data, lengths, 60000)
        return enc.recrc(bytes(data), six)
    raise AssertionError(kind)


CORRUPTIONS = {
    "record crc": "record's CRC-CCITT does not match",
    "section crc": "section 6: CRC-CCITT does not match",
    "truncated": "the record length field says",
    "lying section length": "section 6: its header says",
    "lying pointer": "section 6: the pointer",
    "lying lead byte count": "section 6: lead 1's data (60000 bytes) needs 60000 bytes",
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupted_record_is_refused_naming_the_problem_and_nothing_is_stored(kind, blobs, tmp_path):
    path = tmp_path / "corrupt.scp"
    path.write_bytes(corrupted(kind))
    report, outcome = import_one(path)
    assert report.files_failed == 1
    assert CORRUPTIONS[kind] in outcome.error, outcome.error
    nothing_stored(blobs)


def test_an_unimplemented_feature_is_refused_by_name(blobs, tmp_path):
    bodies, _ = reference_case(truth())
    bodies[5] = enc.data_body(
        np.zeros((8, 200), dtype=np.int64), multiplier_nv=2500, interval_us=RATE_US, order=0, tables=None
    )
    _, outcome = import_one(write(tmp_path, bodies))
    assert "reference beat subtraction with different amplitude multipliers" in outcome.error
    assert "not implemented" in outcome.error
    nothing_stored(blobs)


# --- Checks against values published with the standard ----------------------------------------------------
def test_the_standards_worked_example_decodes_to_its_published_values():
    """prEN 1064's Huffman example: 15 bytes, default table, second differences -> 28 published samples."""
    from annotations.lib.formats import scp

    stream = bytes.fromhex("ff837fe0e6f1536559b65b964b9600")
    values = scp.undo_differences(
        scp.huffman_decode(stream, [scp.DEFAULT_TABLE], 28, "example"), 2, "example"
    )
    assert values.tolist()[:20] == [
        13,
        14,
        15,
        14,
        16,
        18,
        19,
        20,
        22,
        22,
        23,
        23,
        23,
        22,
        22,
        20,
        17,
        15,
        12,
        8,
    ]
    assert values.tolist()[20:] == [6, 3, 1, 0, -2, -2, -3, -3]


def test_a_real_file_with_annex_c_written_out_as_its_own_table_decodes_identically():
    """The default table as the standard lists it (prefix/total bits, values, base codes 0, 1, 5, 3, 11, ...
    stored first-bit-lowest), given as a custom section 2: the real file must decode to the same samples."""
    from annotations.lib.formats import scp

    data = NORMAL_EN.read_bytes()
    sections = scp.section0_pointers(data)
    prefix = [1, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 10, 10]
    total = [*prefix[:17], 18, 26]
    values = [0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8, 0, 0]
    codes = [0, 1, 5, 3, 11, 7, 23, 15, 47, 31, 95, 63, 191, 127, 383, 255, 767, 511, 1023]
    table = struct.pack("<HH", 1, 19) + b"".join(
        struct.pack("<BBBhI", p, t, 1, v, c) for p, t, v, c in zip(prefix, total, values, codes, strict=True)
    )
    bodies = {number: section.body for number, section in sections.items() if number}
    bodies[2] = table
    rebuilt = scp.parse(enc.build(bodies).data)
    assert np.array_equal(rebuilt.signals, scp.parse(data).signals)


def test_statement_lines_naming_people_or_dates_are_never_stored_even_past_60_characters(blobs, tmp_path):
    bodies = basic_bodies(truth())
    long_line = (
        "Borderline ECG, nonspecific T wave flattening in the lateral leads, unchanged since 10-MAY-2021"
    )
    bodies[8] = enc.statements_body(["Sinus rhythm", "Confirmed by Dr Smith", long_line])
    import_one(write(tmp_path, bodies))
    codes = set(Exam.objects.get().reference_labels.values_list("code", flat=True))
    assert codes == {"Sinus rhythm"}


@pytest.mark.parametrize("tables", [None, "raw"])
def test_a_section_3_numbering_samples_from_0_is_read_when_its_span_matches_the_data(tables, blobs, tmp_path):
    """A real cart wrote 0 to 10000 for the 10,000 samples it stored (the standard numbers from 1): the
    span is one sample longer than the data counted from 1, and exactly the data counted from 0. Read as
    the samples stored, and said in the import report."""
    signal = truth()
    bodies = basic_bodies(signal, tables=tables)
    bodies[3] = bytes([len(EIGHT), 4 | (len(EIGHT) << 3) & 0xFF]) + b"".join(
        struct.pack("<IIB", 0, signal.shape[1], enc.LEAD_IDS[name]) for name in EIGHT
    )
    report, outcome = import_one(write(tmp_path, bodies))
    assert report.files_failed == 0, outcome.error
    assert_stored_exactly(signal)
    [record] = outcome.records
    assert "numbers its samples from 0 (0 to 2500)" in record.message, record.message


def test_a_span_from_0_that_matches_no_data_is_still_refused(blobs, tmp_path):
    signal = truth()
    bodies = basic_bodies(signal, tables="raw")
    bodies[3] = bytes([len(EIGHT), 4 | (len(EIGHT) << 3) & 0xFF]) + b"".join(
        struct.pack("<IIB", 0, signal.shape[1] + 7, enc.LEAD_IDS[name]) for name in EIGHT
    )
    report, outcome = import_one(write(tmp_path, bodies))
    assert report.files_failed == 1
    assert "bytes for" in outcome.error, outcome.error
    nothing_stored(blobs)


def test_the_coordinator_reads_the_0_based_span_note_in_the_import_jobs_report(
    blobs, client_for, diego, django_capture_on_commit_callbacks, tmp_path
):
    signal = truth()
    bodies = basic_bodies(signal)
    bodies[3] = bytes([len(EIGHT), 4 | (len(EIGHT) << 3) & 0xFF]) + b"".join(
        struct.pack("<IIB", 0, signal.shape[1], enc.LEAD_IDS[name]) for name in EIGHT
    )
    path = write(tmp_path, bodies, name="zero-based.scp")
    upload = SimpleUploadedFile(path.name, path.read_bytes(), "application/octet-stream")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post("/api/v1/imports/", {"files": [upload], "dataset": "carts"})
    assert response.status_code == 201 and len(callbacks) == 1
    imports_run.apply(args=(response.json()["id"],)).get()
    job = client_for(diego).get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (job["status"], job["created"]) == ("done", 1), job
    [created] = [row for row in job["outcomes"] if row["outcome"] == "created"]
    assert created["message"].startswith("SCP-ECG section 3 numbers its samples from 0 (0 to 2500)")
