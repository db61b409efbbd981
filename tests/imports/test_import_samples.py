"""Importing the real sample files (and synthetic CODE/MUSE files) through the import service."""

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.models import AuditEvent, Exam, ReferenceLabel
from annotations.selectors.imports import reference_label_classes
from annotations.services.exams.waveforms import waveform_load
from annotations.services.imports.exams import ImportOptions, exams_import
from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file
from tests.importing import (
    DATA,
    SAMPLE_FILES,
    blob_files,
    einthoven_residual,
    use_private_storage,
    write_code15,
    write_exams_csv,
    write_muse,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def stored_mv(exam: Exam) -> np.ndarray:
    return waveform_load(exam.waveform_key).astype(np.float64) * exam.gain_uv / 1000


EXPECTED = {  # external id, rate, samples, labels the file carries
    "s0010_re": ("s0010_re", 1000, 38400, set()),
    "00001_lr": ("00001_lr", 100, 1000, set()),
    "HR06000": ("HR06000", 500, 5000, {("snomed", "164934002"), ("snomed", "426783006")}),
    "E07500": ("E07500", 500, 5000, {("snomed", "67741000119109"), ("snomed", "426177001")}),
    "JS20000": (
        "JS20000",
        500,
        5000,
        {("snomed", c) for c in ("284470004", "427084000", "698252002", "55930002")},
    ),
    "JS20017": (
        "JS20017",
        500,
        5000,
        {
            ("snomed", c)
            for c in (
                "284470004",
                "164930006",
                "427084000",
                "55827005",
                "59931005",
                "698252002",
                "365413008",
                "164934002",
            )
        },
    ),
    "A1986": ("A1986", 500, 21500, set()),
    "aecg": ("61d1a24f-b47e-41aa-ae95-f8ac302f4eeb", 500, 5000, {("mdc", "MDC_ECG_RHY_SINUS_RHY")}),
    "dicom": (
        "1.3.6.1.4.1.20029.40.20130125105919.5407.1.1",
        1000,
        10000,
        {("statement", "RITMO SINUSALE"), ("statement", "ECG NORMALE")},
    ),
}


@pytest.mark.parametrize("key", list(EXPECTED))
def test_every_sample_record_imports_with_its_rate_duration_leads_and_labels(key, blobs):
    external_id, rate, samples, labels = EXPECTED[key]
    report = exams_import([SAMPLE_FILES[key]], dataset="samples")
    assert report.files_failed == 0, report.files[0].error
    exam = Exam.objects.get(dataset__name="samples", external_id=external_id)
    assert exam.sampling_rate == rate
    assert exam.n_samples == samples
    assert exam.duration_s == pytest.approx(samples / rate)
    assert exam.lead_names[:12] == list(STANDARD_LEADS)
    assert set(exam.reference_labels.values_list("code_system", "code")) == labels
    mv = stored_mv(exam)
    assert 0.3 < np.abs(mv[:12]).max() < 10  # millivolts, not microvolts or volts


@pytest.mark.parametrize("key", ["s0010_re", "00001_lr", "HR06000", "E07500", "JS20000", "JS20017"])
def test_stored_lead_ii_is_i_plus_iii_within_one_percent_for_independent_leads(key, blobs):
    exams_import([SAMPLE_FILES[key]], dataset="samples")
    assert einthoven_residual(stored_mv(Exam.objects.get())) < 0.01


def test_integer_sources_are_stored_losslessly(blobs):
    import wfdb

    exams_import([SAMPLE_FILES["s0010_re"]], dataset="samples")
    exam = Exam.objects.get()
    digital = wfdb.rdrecord(str(SAMPLE_FILES["s0010_re"].with_suffix("")), physical=False).d_signal.T
    assert exam.gain_uv == 0.5  # 1000 uV / 2000 adu per mV
    assert np.array_equal(waveform_load(exam.waveform_key), digital)


def test_float_sources_are_stored_within_one_microvolt(blobs):
    import scipy.io

    exams_import([SAMPLE_FILES["A1986"]], dataset="samples")
    raw = scipy.io.loadmat(SAMPLE_FILES["A1986"])["ECG"][0, 0]["data"]
    assert np.abs(stored_mv(Exam.objects.get()) - raw).max() <= 0.001


def test_reimporting_every_sample_creates_nothing_new(blobs):
    first = exams_import([DATA / "wfdb", DATA / "cpsc2018", DATA / "hl7-aecg", DATA / "dicom"], dataset="s")
    assert first.summary()["created"] == 10
    rows = (Exam.objects.count(), ReferenceLabel.objects.count())
    files = blob_files(blobs)
    second = exams_import([DATA / "wfdb", DATA / "cpsc2018", DATA / "hl7-aecg", DATA / "dicom"], dataset="s")
    assert second.summary() == {
        "files": 10,
        "files_failed": 0,
        "files_ignored": 0,
        "created": 0,
        "unchanged": 10,
        "skipped": 0,
        "error": 0,
        "duplicate": 0,
    }
    assert (Exam.objects.count(), ReferenceLabel.objects.count()) == rows
    assert blob_files(blobs) == files


def test_a_different_waveform_under_an_existing_id_is_an_error_for_that_record(blobs, tmp_path):
    path, _ = write_code15(tmp_path, exams=[(1, 4096)], name="a.hdf5")
    exams_import([path], dataset="code")
    other, _ = write_code15(tmp_path, exams=[(1, 3000)], name="b.hdf5")
    report = exams_import([other], dataset="code")
    assert report.files_failed == 1
    assert "record 1: a different waveform is already stored under this id" in report.files[0].error
    assert Exam.objects.get().n_samples == 4096


def test_a_ptbxl_folder_imports_with_scp_codes_as_reference_labels(blobs):
    report = exams_import([DATA / "ptbxl"], dataset="ptbxl")
    assert report.summary()["created"] == 1
    exam = Exam.objects.get()
    assert (exam.external_id, exam.age, exam.sex, exam.sampling_rate) == ("1", 56, "F", 100)
    labels = {(label.code, label.likelihood) for label in exam.reference_labels.all()}
    assert labels == {("NORM", 100.0), ("LVOLT", 0.0), ("SR", 0.0)}


def test_a_code15_file_imports_in_bulk_with_true_durations_and_metadata(blobs, tmp_path):
    path, truth = write_code15(tmp_path, exams=[(500 + i, 4096 - 100 * i) for i in range(7)], zero_ids=[0])
    write_exams_csv(
        tmp_path / "exams.csv",
        [
            {
                "exam_id": 503,
                "age": 71,
                "is_male": "True",
                "1dAVb": "True",
                "patient_id": "77.0",
                "trace_file": path.name,
            }
        ],
    )
    report = exams_import([path], dataset="code15", options=ImportOptions(metadata=tmp_path / "exams.csv"))
    assert report.summary() == {
        "files": 1,
        "files_failed": 0,
        "files_ignored": 0,
        "created": 7,
        "unchanged": 0,
        "skipped": 1,
        "error": 0,
        "duplicate": 0,
    }
    exam = Exam.objects.get(external_id="503")
    assert exam.n_samples == 3796 and exam.duration_s == pytest.approx(3796 / 400)
    assert (exam.age, exam.sex, exam.patient_pseudo_id) == (71, "M", "77")
    assert list(exam.reference_labels.values_list("code_system", "code")) == [("code15", "1dAVb")]
    assert np.abs(stored_mv(exam) - truth[503]).max() <= 0.0005 + 1e-6
    assert AuditEvent.objects.filter(action="exams.import").count() == 1


def test_reference_labels_map_onto_the_default_taxonomy_through_cross_maps(blobs, tmp_path, tnmg):
    taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json"))
    path, _ = write_code15(tmp_path, exams=[(9, 4096)])
    write_exams_csv(tmp_path / "exams.csv", [{"exam_id": 9, "RBBB": "True", "AF": "True"}])
    exams_import([path], dataset="code15", options=ImportOptions(metadata=tmp_path / "exams.csv"))
    exams_import([DATA / "ptbxl"], dataset="ptbxl")
    code = {c.code for c in reference_label_classes(Exam.objects.get(external_id="9"), tnmg)}
    assert code == {"RBBB", "AF"}
    ptbxl = {c.code for c in reference_label_classes(Exam.objects.get(dataset__name="ptbxl"), tnmg)}
    assert "NORM" in ptbxl


def test_a_muse_file_imports_with_derived_limb_leads(blobs, tmp_path):
    stored = write_muse(tmp_path / "muse.xml")
    exams_import([tmp_path / "muse.xml"], dataset="muse")
    exam = Exam.objects.get()
    mv = stored_mv(exam)
    assert exam.lead_names == list(STANDARD_LEADS)
    assert np.allclose(mv[3], -(stored["I"] + stored["II"]) / 2 * 4.88 / 1000)  # aVR, exact
    assert exam.gain_uv == pytest.approx(2.44)


def test_identifiers_are_dropped_by_default(blobs):
    exams_import([SAMPLE_FILES["dicom"], SAMPLE_FILES["aecg"]], dataset="s")
    assert list(Exam.objects.values_list("identifiers", flat=True)) == [{}, {}]


def test_identifiers_are_kept_for_coordinators_only_when_the_policy_says_keep(blobs, settings):
    settings.IDENTIFIERS_POLICY = "keep"
    exams_import([SAMPLE_FILES["dicom"]], dataset="s")
    assert Exam.objects.get().identifiers["PatientID"] == "642341"


def test_a_reader_never_sees_identifiers_or_reference_labels_in_the_exam_api(
    blobs, settings, client_for, ana
):
    settings.IDENTIFIERS_POLICY = "keep"
    exams_import([SAMPLE_FILES["dicom"]], dataset="s")
    response = client_for(ana).get("/api/v1/exams/")
    assert response.status_code == 403
    assert b"642341" not in response.content


def _saved_by_a_spreadsheet(path: Path) -> None:
    """Excel's "CSV UTF-8" (and LibreOffice's default) writes a byte order mark before the header."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def test_a_code15_exams_csv_saved_by_a_spreadsheet_still_gives_its_metadata(blobs, tmp_path):
    path, _ = write_code15(tmp_path, exams=[(503, 4096)])
    write_exams_csv(tmp_path / "exams.csv", [{"exam_id": 503, "age": 71, "is_male": "True", "AF": "True"}])
    _saved_by_a_spreadsheet(tmp_path / "exams.csv")
    call_command(
        "import_exams",
        str(path),
        "--dataset",
        "code15",
        "--metadata",
        str(tmp_path / "exams.csv"),
        "--no-progress",
        stdout=io.StringIO(),
    )
    exam = Exam.objects.get(external_id="503")
    assert (exam.age, exam.sex) == (71, "M")
    assert list(exam.reference_labels.values_list("code", flat=True)) == ["AF"]


def test_a_ptbxl_database_saved_by_a_spreadsheet_still_imports(blobs, tmp_path):
    folder = tmp_path / "ptbxl"
    shutil.copytree(DATA / "ptbxl", folder)
    _saved_by_a_spreadsheet(folder / "ptbxl_database.csv")
    call_command("import_exams", str(folder), "--dataset", "ptbxl", "--no-progress", stdout=io.StringIO())
    exam = Exam.objects.get()
    assert (exam.external_id, exam.age, exam.sex) == ("1", 56, "F")
    assert {label.code for label in exam.reference_labels.all()} == {"NORM", "LVOLT", "SR"}


def test_a_code15_exams_csv_saved_by_a_brazilian_spreadsheet_still_gives_its_metadata(blobs, tmp_path):
    """Excel in Portuguese (Brazil) saves "CSV" with semicolons, a decimal comma and VERDADEIRO/FALSO."""
    path, _ = write_code15(tmp_path, exams=[(503, 4096), (504, 4096)])
    table = (
        "exam_id;age;is_male;nn_predicted_age;1dAVb;RBBB;LBBB;SB;ST;AF;patient_id;death;timey;normal_ecg;"
        "trace_file\r\n"
        f"503;71;VERDADEIRO;70,5;FALSO;FALSO;FALSO;FALSO;FALSO;VERDADEIRO;77,0;;;FALSO;{path.name}\r\n"
        f"504;64,0;FALSO;63,2;FALSO;VERDADEIRO;FALSO;FALSO;FALSO;FALSO;78;;;FALSO;{path.name}\r\n"
    )
    (tmp_path / "exams.csv").write_bytes(b"\xef\xbb\xbf" + table.encode())
    call_command(
        "import_exams",
        str(path),
        "--dataset",
        "code15",
        "--metadata",
        str(tmp_path / "exams.csv"),
        "--no-progress",
        stdout=io.StringIO(),
    )
    got = {
        e.external_id: (
            e.age,
            e.sex,
            e.patient_pseudo_id,
            sorted(e.reference_labels.values_list("code", flat=True)),
        )
        for e in Exam.objects.all()
    }
    assert got == {"503": (71, "M", "77", ["AF"]), "504": (64, "F", "78", ["RBBB"])}


def test_a_ptbxl_database_saved_with_semicolons_and_a_decimal_comma_still_imports(blobs, tmp_path):
    folder = tmp_path / "ptbxl"
    shutil.copytree(DATA / "ptbxl", folder)
    with open(DATA / "ptbxl" / "ptbxl_database.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index("age")] = "56,0"
    with open(folder / "ptbxl_database.csv", "w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle, delimiter=";").writerows(rows)
    call_command("import_exams", str(folder), "--dataset", "ptbxl", "--no-progress", stdout=io.StringIO())
    exam = Exam.objects.get()
    assert (exam.external_id, exam.age, exam.sex) == ("1", 56, "F")
    assert {label.code for label in exam.reference_labels.all()} == {"NORM", "LVOLT", "SR"}
