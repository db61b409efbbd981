"""Each reader on the real sample files and on synthetic ones: pure reading, no database."""

from pathlib import Path

import numpy as np
import pytest
import wfdb

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.formats import code15, muse
from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    RecordSkipped,
    standardized,
)
from annotations.lib.formats.detect import detect_format, folder_contents, import_units
from annotations.lib.formats.registry import READERS
from tests.importing import DATA, SAMPLE_FILES, einthoven_residual, write_code15, write_exams_csv, write_muse


def read_one(path: Path, fmt: str | None = None, **options) -> Record:
    fmt = fmt or detect_format(path)
    [item] = list(READERS[fmt].read(path, ReadOptions(**options)))
    assert isinstance(item, Record), item
    return standardized(item)


def in_mv(record: Record) -> np.ndarray:
    gain = np.broadcast_to(np.asarray(record.gain_uv, dtype=float), (record.signals.shape[0],))
    return record.signals * gain[:, None] / 1000 if record.gain_uv is not None else record.signals


@pytest.mark.parametrize(
    ("key", "fmt"),
    [
        ("s0010_re", "wfdb"),
        ("00001_lr", "wfdb"),
        ("HR06000", "wfdb"),
        ("A1986", "cpsc2018"),
        ("aecg", "aecg"),
        ("dicom", "dicom"),
    ],
)
def test_the_format_is_recognised_from_the_content(key, fmt):
    assert detect_format(SAMPLE_FILES[key]) == fmt


def test_the_format_is_recognised_even_under_a_misleading_extension(tmp_path):
    disguised = tmp_path / "scan.txt"
    disguised.write_bytes(SAMPLE_FILES["dicom"].read_bytes())
    assert detect_format(disguised) == "dicom"
    xml = tmp_path / "ecg.dat"
    xml.write_bytes(SAMPLE_FILES["aecg"].read_bytes())
    assert detect_format(xml) == "aecg"


def test_a_file_in_no_known_format_is_refused_with_a_reason(tmp_path):
    junk = tmp_path / "notes.h5"
    junk.write_text("just some text\n")
    with pytest.raises(FormatError, match="not in a format"):
        detect_format(junk)


def test_a_folder_lists_what_is_no_ecg_with_the_reason_and_reads_unnamed_files_by_content(tmp_path):
    for name in ("s0010_re.hea", "s0010_re.dat", "s0010_re.xyz"):
        (tmp_path / name).write_bytes((DATA / "wfdb/ptbdb" / name).read_bytes())
    (tmp_path / "s0010_re.atr").write_bytes(b"\x00\x00")  # an annotation file: part of the record
    (tmp_path / "IM0001").write_bytes((DATA / "dicom/waveform_ecg.dcm").read_bytes())
    (tmp_path / "README").write_text("PTB Diagnostic ECG Database\n")
    (tmp_path / "orphan.dat").write_bytes(b"\x00" * 24)
    (tmp_path / "more.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 26)
    (tmp_path / ".DS_Store").write_bytes(b"\x00")

    contents = folder_contents(tmp_path)

    assert [u.name for u in contents.units] == ["IM0001", "s0010_re.hea"]
    reasons = {path.name: reason for path, reason in contents.ignored}
    assert set(reasons) == {"README", "orphan.dat", "more.zip"}
    assert "not in a format" in reasons["README"]
    assert "without its .hea header" in reasons["orphan.dat"]
    assert "zip" in reasons["more.zip"]
    assert detect_format(contents.units[0]) == "dicom"


def test_a_folder_is_searched_and_a_wfdb_record_counts_once():
    units = import_units(DATA / "wfdb")
    assert sorted(u.name for u in units) == sorted(
        ["s0010_re.hea", "00001_lr.hea", "HR06000.hea", "E07500.hea", "JS20000.hea", "JS20017.hea"]
    )


@pytest.mark.parametrize(
    ("key", "rate", "samples"),
    [
        ("s0010_re", 1000, 38400),
        ("00001_lr", 100, 1000),
        ("HR06000", 500, 5000),
        ("E07500", 500, 5000),
        ("JS20000", 500, 5000),
        ("JS20017", 500, 5000),
        ("A1986", 500, 21500),
        ("aecg", 500, 5000),
        ("dicom", 1000, 10000),
    ],
)
def test_every_sample_has_its_documented_rate_duration_and_the_12_leads_in_order(key, rate, samples):
    record = read_one(SAMPLE_FILES[key])
    assert record.sampling_rate == rate
    assert record.n_samples == samples
    assert record.lead_names[:12] == list(STANDARD_LEADS)


@pytest.mark.parametrize("key", ["s0010_re", "00001_lr", "HR06000", "E07500", "JS20000", "JS20017"])
def test_lead_ii_is_i_plus_iii_within_one_percent_where_leads_were_recorded_independently(key):
    assert einthoven_residual(in_mv(read_one(SAMPLE_FILES[key]))) < 0.01


@pytest.mark.parametrize("key", ["s0010_re", "00001_lr", "HR06000", "JS20017"])
def test_wfdb_amplitudes_match_wfdb_own_physical_millivolts_exactly(key):
    record = read_one(SAMPLE_FILES[key])
    physical = wfdb.rdrecord(str(SAMPLE_FILES[key].with_suffix(""))).p_signal.T
    assert np.allclose(in_mv(record)[:12], physical[:12], atol=1e-9)


def test_a_wfdb_record_with_15_signals_keeps_the_frank_leads_out_of_the_12_lead_view():
    record = read_one(SAMPLE_FILES["s0010_re"])
    assert record.lead_names == [*STANDARD_LEADS, "vx", "vy", "vz"]
    physical = wfdb.rdrecord(str(SAMPLE_FILES["s0010_re"].with_suffix(""))).p_signal.T
    assert np.allclose(in_mv(record)[12:], physical[12:], atol=1e-9)  # from the second signal file


def test_challenge_headers_give_snomed_reference_labels_age_and_sex():
    record = read_one(SAMPLE_FILES["JS20000"])
    assert record.labels == [
        ("snomed", "284470004"),
        ("snomed", "427084000"),
        ("snomed", "698252002"),
        ("snomed", "55930002"),
    ]
    assert (record.age, record.sex) == (84, "F")


def test_lower_case_mv_units_are_millivolts():
    header = SAMPLE_FILES["HR06000"].read_text()
    assert "/mv" in header  # the trap this test is about
    assert np.abs(in_mv(read_one(SAMPLE_FILES["HR06000"]))).max() < 5


def test_cpsc_data_are_float_millivolts_at_500_hz_in_standard_order():
    import scipy.io

    record = read_one(SAMPLE_FILES["A1986"])
    raw = scipy.io.loadmat(SAMPLE_FILES["A1986"])["ECG"][0, 0]["data"]
    assert np.array_equal(record.signals, raw)
    assert (record.age, record.sex) == (53, "F")


def test_the_aecg_rhythm_is_read_not_the_representative_beat_and_leads_are_reordered():
    from lxml import etree

    record = read_one(SAMPLE_FILES["aecg"])
    tree = etree.parse(str(SAMPLE_FILES["aecg"]))
    ns = {"h": "urn:hl7-org:v3"}
    aVR = tree.xpath(
        "//h:series/h:component/h:sequenceSet/h:component/h:sequence"
        "[h:code/@code='MDC_ECG_LEAD_AVR']/h:value/h:digits/text()",
        namespaces=ns,
    )
    assert len(aVR) == 1  # the rhythm series only: the derivedSeries (beat) is not a child of series
    expected = np.array(aVR[0].split(), dtype=float) * 2.5 / 1000
    assert np.allclose(in_mv(record)[3], expected)
    assert record.labels == [("mdc", "MDC_ECG_RHY_SINUS_RHY")]


def test_the_dicom_rhythm_group_is_read_in_microvolts_not_the_median_beat():
    import pydicom

    record = read_one(SAMPLE_FILES["dicom"])
    reference = pydicom.dcmread(SAMPLE_FILES["dicom"]).waveform_array(0).T / 1000  # uV -> mV
    assert np.allclose(in_mv(record), reference)
    assert record.gain_uv is not None and np.allclose(record.gain_uv, 1.25)
    assert ("statement", "RITMO SINUSALE") in record.labels


def test_identifying_header_fields_are_gathered_apart_from_the_record():
    dicom = read_one(SAMPLE_FILES["dicom"])
    assert dicom.identifiers["PatientID"] == "642341"
    assert dicom.identifiers["PatientBirthDate"] == "19710123"
    aecg = read_one(SAMPLE_FILES["aecg"])
    assert aecg.identifiers["patient_name"] == "Clark"
    assert aecg.identifiers["subject_id"] == "SBJ-123"


def test_a_muse_file_gives_the_rhythm_with_four_derived_limb_leads(tmp_path):
    path = tmp_path / "muse.xml"
    stored = write_muse(path)
    assert detect_format(path) == "muse"
    record = read_one(path)
    mv = in_mv(record)
    assert record.n_samples == 5000  # not the 600-sample median
    assert np.allclose(mv[0], stored["I"] * 4.88 / 1000)
    assert np.allclose(mv[6], stored["V1"] * 4.88 / 1000)
    assert np.allclose(mv[2], (stored["II"] - stored["I"]) * 4.88 / 1000)  # III
    assert np.allclose(mv[4], (stored["I"] - stored["II"] / 2) * 4.88 / 1000)  # aVL
    assert (record.age, record.sex) == (63, "M")
    assert record.identifiers["PatientLastName"] == "DOE"
    assert record.labels == [("statement", "Normal sinus rhythm")]


def test_a_muse_lead_whose_sample_count_disagrees_with_its_data_is_refused(tmp_path):
    path = tmp_path / "muse.xml"
    write_muse(path)
    path.write_text(
        path.read_text(encoding="iso-8859-1").replace(
            "<LeadSampleCountTotal>5000<", "<LeadSampleCountTotal>5001<", 1
        ),
        encoding="iso-8859-1",
    )
    with pytest.raises(FormatError, match="LeadSampleCountTotal is 5001"):
        list(muse.read(path, ReadOptions()))


def test_code15_padding_is_stripped_and_all_zero_tracings_are_reported(tmp_path):
    path, truth = write_code15(tmp_path, exams=[(101, 4000), (102, 2900)], zero_ids=[0])
    items = list(code15.read(path, ReadOptions()))
    records = [i for i in items if isinstance(i, Record)]
    assert [r.external_id for r in records] == ["101", "102"]
    assert [r.n_samples for r in records] == [4000, 2900]
    assert all(r.sampling_rate == 400 for r in records)
    skipped = [i for i in items if isinstance(i, RecordSkipped)]
    assert [(s.record, "all-zero" in s.reason) for s in skipped] == [("0", True)]
    mv = records[1].signals * records[1].gain_uv / 1000
    assert np.abs(mv - truth[102]).max() <= 0.0005 + 1e-6


def test_code15_amplitude_scale_is_applied(tmp_path):
    path, truth = write_code15(tmp_path, exams=[(7, 4096)], scale=2.0)
    [record] = list(code15.read(path, ReadOptions(amplitude_scale=0.5)))
    assert np.abs(record.signals * record.gain_uv / 1000 - truth[7]).max() <= 0.0005 + 1e-6


def test_code15_metadata_gives_age_sex_patient_and_the_label_columns(tmp_path):
    path, _ = write_code15(tmp_path, exams=[(11, 4096), (12, 4096)])
    csv_path = write_exams_csv(
        tmp_path / "exams.csv",
        [
            {
                "exam_id": 11,
                "age": 67,
                "is_male": "True",
                "RBBB": "True",
                "AF": "True",
                "patient_id": "555",
                "normal_ecg": "False",
                "trace_file": path.name,
            },
            {"exam_id": 12, "age": 30, "is_male": "False", "normal_ecg": "True", "trace_file": path.name},
            {"exam_id": 11, "age": 1, "is_male": "False", "trace_file": "other_part.hdf5"},
        ],
    )
    first, second = list(code15.read(path, ReadOptions(metadata=csv_path)))
    assert (first.age, first.sex, first.patient_id) == (67, "M", "555")
    assert first.labels == [("code15", "RBBB"), ("code15", "AF")]
    assert (second.age, second.sex, second.labels) == (30, "F", [("code15", "normal_ecg")])


def test_a_code15_tracing_with_nan_is_a_record_error_not_a_crash(tmp_path):
    path, _ = write_code15(tmp_path, exams=[(1, 4096), (2, 4096)])
    import h5py

    with h5py.File(path, "r+") as handle:
        handle["tracings"][1, 10, 3] = np.nan
    items = list(code15.read(path, ReadOptions()))
    assert isinstance(items[0], Record)
    assert isinstance(items[1], RecordError) and "NaN" in items[1].reason and items[1].record == "2"


def test_code15_padding_detection_matches_a_plain_any_over_the_leads():
    from annotations.lib.formats.code15 import _any_lead_nonzero

    block = np.random.default_rng(5).normal(size=(3, 64, 12)).astype(np.float32)
    block[:, :5], block[:, -7:] = 0.0, -0.0
    block[1, 20:30, :11] = 0.0  # one lead alone keeps these samples non-zero
    block[2, 40, 3] = np.nan
    assert (_any_lead_nonzero(block) == (block != 0).any(axis=2)).all()
    assert (_any_lead_nonzero(block[:, :, :8]) == (block[:, :, :8] != 0).any(axis=2)).all()
