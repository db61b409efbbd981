"""Hospital exports (GE MUSE with its DOCTYPE, DICOM filed as hemodynamic waveforms), shape checks of each
container against its header, clear errors, and statement text kept free of names and dates.

Every expected sample value comes from an independent decode of the same file (lxml + base64, pydicom),
never from the importer under test.
"""

import base64
import logging
import struct

import numpy as np
import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from lxml import etree

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.models import Exam, ImportJob, ReferenceLabel
from annotations.services.exams.waveforms import waveform_load
from annotations.services.imports.exams import exams_import
from annotations.services.imports.outcomes import ImportOptions
from annotations.tasks import imports_run
from tests.importing import DATA, SAMPLE_FILES, blob_files, use_private_storage

pytestmark = pytest.mark.django_db

MUSE = DATA / "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml"
HEMODYNAMIC = "1.2.840.10008.5.1.4.1.1.9.2.1"


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def stored_uv(exam: Exam) -> np.ndarray:
    return waveform_load(exam.waveform_key).astype(np.float64) * np.asarray(exam.gain_uv).reshape(-1, 1)


def refused(blobs, path, *messages):
    report = exams_import([path], dataset="refused")
    assert report.files_failed == 1, report.files
    error = report.files[0].error
    assert error.startswith(str(path)), error
    reason = error.removeprefix(str(path))  # the test's own folder name must not satisfy a check
    for message in messages:
        assert message in reason, error
    assert Exam.objects.count() == 0 and ReferenceLabel.objects.count() == 0
    assert blob_files(blobs) == []
    return error


# --- GE MUSE ------------------------------------------------------------------------------------------
def muse_independent_uv(path) -> dict[str, np.ndarray]:
    """The Rhythm leads in microvolts, decoded with lxml (never fetching the DTD) and base64."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    rhythm = [w for w in root.findall("Waveform") if w.findtext("WaveformType") == "Rhythm"]
    assert len(rhythm) == 1
    leads = {}
    for lead in rhythm[0].findall("LeadData"):
        values = np.frombuffer(base64.b64decode(lead.findtext("WaveFormData")), dtype="<i2")
        leads[lead.findtext("LeadID")] = values * float(lead.findtext("LeadAmplitudeUnitsPerBit"))
    return leads


def assert_muse_exact(exam: Exam, path) -> None:
    truth = muse_independent_uv(path)
    assert sorted(truth) == sorted(["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"])  # 8 stored leads
    i, ii = truth["I"], truth["II"]
    truth |= {"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2}  # 4 derived
    stored = stored_uv(exam)
    assert list(exam.lead_names) == list(STANDARD_LEADS)
    assert (exam.sampling_rate, exam.n_samples) == (500, 5000)
    for index, lead in enumerate(STANDARD_LEADS):
        assert np.max(np.abs(stored[index] - truth[lead])) < 1e-9, lead  # 0 uV error


def test_a_real_muse_export_with_its_doctype_imports_exactly(blobs):
    assert MUSE.read_bytes().splitlines()[1] == b'<!DOCTYPE RestingECG SYSTEM "restecg.dtd">'
    report = exams_import([MUSE], dataset="muse")
    assert report.files_failed == 0, report.files[0].error
    exam = Exam.objects.get(dataset__name="muse")
    assert exam.source_format == "muse" and exam.age == 60 and exam.sex == "M"
    assert_muse_exact(exam, MUSE)


def test_a_coordinator_uploads_the_muse_export_through_the_api(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile(MUSE.name, MUSE.read_bytes())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post("/api/v1/imports/", {"dataset": "muse", "files": [upload]})
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    imports_run.apply(args=(response.json()["id"],)).get()
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.files_failed) == ("done", 1, 0), job.outcomes
    assert_muse_exact(Exam.objects.get(), MUSE)


def muse_variant(tmp_path, name: str, doctype: str) -> object:
    text = MUSE.read_bytes().replace(b'<!DOCTYPE RestingECG SYSTEM "restecg.dtd">', doctype.encode())
    path = tmp_path / name
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE RestingECG PUBLIC "-//GE//DTD RestingECG//EN" "restecg.dtd">',
        "<!DOCTYPE RestingECG>",
        '<!DOCTYPE RestingECG SYSTEM "restecg.dtd" []>',
    ],
)
def test_a_doctype_that_only_names_a_dtd_is_accepted(blobs, tmp_path, doctype):
    report = exams_import([muse_variant(tmp_path, "named.xml", doctype)], dataset="muse")
    assert report.files_failed == 0, report.files[0].error


@pytest.mark.parametrize(
    ("doctype", "message"),
    [
        ('<!DOCTYPE RestingECG SYSTEM "restecg.dtd" [<!ENTITY x "y">]>', "internal DTD subset"),
        ("<!DOCTYPE RestingECG [<!ELEMENT RestingECG ANY>]>", "internal DTD subset"),
        ('<!DOCTYPE RestingECG [<!ATTLIST RestingECG a CDATA "b">]>', "internal DTD subset"),
        ('<!DOCTYPE RestingECG SYSTEM "http://127.0.0.1:9/restecg.dtd">', "by URL"),
        ('<!DOCTYPE RestingECG SYSTEM "file:///etc/passwd">', "by URL"),
        ('<!DOCTYPE RestingECG SYSTEM "/etc/restecg.dtd">', "by URL"),
    ],
)
def test_a_doctype_that_defines_anything_or_points_elsewhere_is_refused(blobs, tmp_path, doctype, message):
    refused(blobs, muse_variant(tmp_path, "defining.xml", doctype), message)


def test_a_muse_export_with_an_entity_in_its_doctype_is_refused(blobs, tmp_path):
    text = MUSE.read_bytes().replace(
        b'<!DOCTYPE RestingECG SYSTEM "restecg.dtd">',
        b'<!DOCTYPE RestingECG SYSTEM "restecg.dtd" [<!ENTITY who "x">]>',
    )
    path = tmp_path / "entity.xml"
    path.write_bytes(text.replace(b"<PatientID>JAX01234</PatientID>", b"<PatientID>&who;</PatientID>"))
    refused(blobs, path, "internal DTD subset")


def test_a_truncated_muse_export_is_refused(blobs, tmp_path):
    path = tmp_path / "truncated.xml"
    path.write_bytes(MUSE.read_bytes()[: len(MUSE.read_bytes()) // 2])
    refused(blobs, path, "not well-formed")


def test_a_muse_lead_whose_sample_count_lies_is_refused(blobs, tmp_path):
    path = tmp_path / "lying.xml"
    text = MUSE.read_bytes()
    assert text.count(b"<LeadSampleCountTotal>5000</LeadSampleCountTotal>") == 8
    path.write_bytes(
        text.replace(
            b"<LeadSampleCountTotal>5000</LeadSampleCountTotal>",
            b"<LeadSampleCountTotal>4999</LeadSampleCountTotal>",
            1,
        )
    )
    refused(blobs, path, "5000 samples but LeadSampleCountTotal is 4999")


def rhythm_lead_data(text: bytes, lead: str) -> tuple[int, int]:
    """Where the Rhythm waveform's WaveFormData of `lead` starts and ends in the file."""
    rhythm = text.index(b"<WaveformType>Rhythm</WaveformType>")
    at = text.index(f"<LeadID>{lead}</LeadID>".encode(), rhythm)
    start = text.index(b"<WaveFormData>", at) + len(b"<WaveFormData>")
    return start, text.index(b"</WaveFormData>", start)


def test_a_muse_lead_whose_samples_do_not_match_their_crc_is_refused(blobs, tmp_path):
    """Four base64 characters changed inside V6: still valid base64 of the right length, so only the
    lead's CRC-32 tells the samples are not the ones the cart stored (37 mV off, here)."""
    text = MUSE.read_bytes()
    start, _ = rhythm_lead_data(text, "V6")
    at = start + 400
    while not text[at : at + 4].isalnum():
        at += 1
    changed = bytes(ord("B") if byte != ord("B") else ord("C") for byte in text[at : at + 4])
    path = tmp_path / "crc.xml"
    path.write_bytes(text[:at] + changed + text[at + 4 :])
    refused(blobs, path, "lead V6", "CRC")


def test_a_muse_lead_whose_data_is_no_base64_is_refused_naming_it(blobs, tmp_path):
    text = MUSE.read_bytes()
    start, _ = rhythm_lead_data(text, "V2")
    path = tmp_path / "bang.xml"
    path.write_bytes(text[: start + 40] + b"!!!!" + text[start + 44 :])
    refused(blobs, path, "lead V2: WaveFormData is not base64")


def test_a_muse_lead_without_a_crc_is_read_as_it_is(blobs, tmp_path):
    import re

    path = tmp_path / "no-crc.xml"
    path.write_bytes(re.sub(rb"<LeadDataCRC32>\d+</LeadDataCRC32>", b"", MUSE.read_bytes()))
    assert exams_import([path], dataset="muse").files_failed == 0
    assert_muse_exact(Exam.objects.get(dataset__name="muse"), MUSE)


# --- statements: never names, confirmation or referral lines, or dates ---------------------------------
def statements() -> set[str]:
    return {label.code for label in ReferenceLabel.objects.filter(code_system="statement")}


def test_muse_statements_keep_the_findings_and_drop_the_confirmation_and_dated_lines(blobs, settings):
    settings.IDENTIFIERS_POLICY = "drop"
    exams_import([MUSE], dataset="muse")
    kept = statements()
    assert "Ventricular-paced rhythm" in kept
    for text in kept:
        assert "Confirmed" not in text and "Doe" not in text and "2021" not in text, kept
        assert "compared" not in text.lower(), kept


CRAFTED = [
    ("Sinus rhythm", True),
    ("Left axis deviation", True),
    ("1st degree AV block", True),
    ("Confirmed by SMITH, JANE, M.D. (1234) on 3/4/2024 10:12:13 AM", False),
    ("Confirmed by Silva, Maria, M.D.", False),
    ("Referred by: Dr. Jones", False),
    ("Requested by Dr Alves", False),
    ("Reviewed by Maria Souza MD", False),
    ("Overread by: P. Costa", False),
    ("Unconfirmed report", False),
    ("When compared with ECG of 01-JAN-2020 10:00,", False),
    ("Compared to ECG of 2023-05-04", False),
    ("Electronically signed by John Roe", False),
    ("Technician: ANA", False),
    ("No significant change.", False),
    ("Atrial fibrillation has replaced Sinus rhythm", False),
    ("Criteria for Inferior infarct are no longer present", False),
    ("Sem alterações significativas em relação ao ECG anterior", False),
    ("ålderskorrigerat Sokolow index (SV1+RV5) = 4.1 mV", False),
    ("QRS axis = -45 deg", False),
    ("Nonspecific ST abnormality", True),
]


def test_crafted_statement_lines_with_names_or_dates_are_never_stored(blobs, tmp_path, settings):
    settings.IDENTIFIERS_POLICY = "drop"
    body = "".join(
        f"<DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>{text}</StmtText></DiagnosisStatement>"
        for text, _ in CRAFTED
    )
    text = MUSE.read_text(encoding="iso-8859-1")
    start, end = text.index("<Diagnosis>"), text.index("</Diagnosis>")
    path = tmp_path / "crafted.xml"
    path.write_text(text[:start] + f"<Diagnosis>{body}" + text[end:], encoding="iso-8859-1")
    report = exams_import([path], dataset="crafted")
    assert report.files_failed == 0, report.files[0].error
    assert statements() == {line for line, keep in CRAFTED if keep}


def test_dicom_statements_pass_through_the_same_filter(blobs, tmp_path, settings):
    settings.IDENTIFIERS_POLICY = "drop"
    ds = pydicom.dcmread(SAMPLE_FILES["dicom"])
    items = list(ds.WaveformAnnotationSequence)
    texts = [item for item in items if "UnformattedTextValue" in item or "TextValue" in item]
    texts[0].UnformattedTextValue = "Confirmed by ROSSI, MARIO, M.D. on 25/01/2013"
    path = tmp_path / "statements.dcm"
    ds.save_as(path)
    report = exams_import([path], dataset="dicom")
    assert report.files_failed == 0, report.files[0].error
    assert all("ROSSI" not in text and "Confirmed" not in text for text in statements()), statements()


# --- DICOM under any waveform SOP class, when it carries ECG leads -------------------------------------
def dicom_variant(tmp_path, name: str, change) -> object:
    ds = pydicom.dcmread(SAMPLE_FILES["dicom"])
    change(ds)
    path = tmp_path / name
    ds.save_as(path)
    return path


def as_hemodynamic(ds) -> None:
    ds.SOPClassUID = HEMODYNAMIC
    ds.file_meta.MediaStorageSOPClassUID = HEMODYNAMIC


def as_pressure(ds) -> None:
    as_hemodynamic(ds)
    for group in ds.WaveformSequence:
        for channel in group.ChannelDefinitionSequence:
            source = channel.ChannelSourceSequence[0]
            source.CodeValue, source.CodingSchemeDesignator = "75367002", "SCT"
            source.CodeMeaning = "Blood pressure"
            channel.ChannelSensitivityUnitsSequence[0].CodeValue = "mm[Hg]"


def test_a_mac_ecg_filed_as_hemodynamic_waveform_imports_exactly(blobs, tmp_path):
    path = dicom_variant(tmp_path, "hemodynamic.dcm", as_hemodynamic)
    assert pydicom.dcmread(path).Modality == "ECG"
    report = exams_import([path], dataset="hemo")
    assert report.files_failed == 0, report.files[0].error
    exam = Exam.objects.get()
    ds = pydicom.dcmread(path)
    group = ds.WaveformSequence[0]
    raw = ds.waveform_array(0).T  # pydicom applies sensitivity x correction, in the channel's units (uV)
    names = [c.ChannelSourceSequence[0].CodeMeaning for c in group.ChannelDefinitionSequence]
    assert names[0] == "Lead I (Einthoven)" and len(names) == 12
    stored = stored_uv(exam)
    assert exam.n_samples == 10000 and exam.sampling_rate == 1000
    for row, name in enumerate(names):  # all 12 channels, by their source names
        standard = name.replace("Lead ", "").replace(" (Einthoven)", "").replace("avr", "aVR")
        index = [lead.upper() for lead in STANDARD_LEADS].index(standard.upper())
        assert np.max(np.abs(stored[index] - raw[row])) < 1e-6, name  # 0 uV error


def test_a_hemodynamic_waveform_without_ecg_channels_is_refused_clearly(blobs, tmp_path):
    path = dicom_variant(tmp_path, "pressure.dcm", as_pressure)
    refused(blobs, path, "carries no ECG leads", "Blood pressure")


def test_a_dicom_that_is_no_waveform_is_refused_naming_its_sop_class(blobs, tmp_path):
    def as_ct(ds):
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"

    refused(blobs, dicom_variant(tmp_path, "ct.dcm", as_ct), "1.2.840.10008.5.1.4.1.1.2", "not a waveform")


# --- each container's own shape against the header -----------------------------------------------------
def test_a_wfdb_mat_whose_v4_header_says_11_rows_under_12_leads_is_refused(blobs, tmp_path):
    for suffix in (".hea", ".mat"):
        (tmp_path / f"HR06000{suffix}").write_bytes((DATA / f"wfdb/cinc2021/HR06000{suffix}").read_bytes())
    mat = tmp_path / "HR06000.mat"
    data = bytearray(mat.read_bytes())
    _, rows, cols, _, _ = struct.unpack("<5i", data[:20])
    assert (rows, cols) == (12, 5000)
    data[4:8] = struct.pack("<i", 11)  # same byte count, a lying row count
    mat.write_bytes(bytes(data))
    refused(blobs, tmp_path / "HR06000.hea", "HR06000.mat", "11 x 5000", "12 signals")


def test_a_dicom_whose_channel_count_does_not_match_its_definitions_is_refused(blobs, tmp_path, caplog):
    def lie(ds):
        ds.WaveformSequence[0].NumberOfWaveformChannels = 11

    with caplog.at_level(logging.ERROR):
        refused(blobs, dicom_variant(tmp_path, "channels.dcm", lie), "11 channels", "12 channel definitions")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- clear errors -----------------------------------------------------------------------------------------
def test_an_empty_file_says_empty_file(blobs, tmp_path):
    for name in ("empty.xml", "empty.dcm", "empty"):
        path = tmp_path / name
        path.write_bytes(b"")
        refused(blobs, path, "empty file")


def test_a_dicom_without_waveform_data_says_so_without_a_traceback(blobs, tmp_path, caplog):
    def drop(ds):
        del ds.WaveformSequence[0].WaveformData

    with caplog.at_level(logging.ERROR):
        refused(blobs, dicom_variant(tmp_path, "nodata.dcm", drop), "RHYTHM", "has no WaveformData")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_dicom_whose_sample_count_does_not_fit_its_data_says_so(blobs, tmp_path, caplog):
    def lie(ds):
        ds.WaveformSequence[0].NumberOfWaveformSamples = 10001

    with caplog.at_level(logging.ERROR):
        refused(
            blobs,
            dicom_variant(tmp_path, "samples.dcm", lie),
            "WaveformData holds 240000 bytes",
            "12 channels x 10001 samples",
        )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_truncated_dicom_is_refused(blobs, tmp_path):
    path = tmp_path / "truncated.dcm"
    path.write_bytes(SAMPLE_FILES["dicom"].read_bytes()[:100_000])
    refused(blobs, path, "not a readable DICOM file")


def test_a_file_that_is_no_dicom_is_refused_without_the_library_s_advice(blobs, tmp_path):
    """pydicom's message ends "Use force=True to force reading.", which a coordinator cannot act on."""
    path = tmp_path / "notes.dcm"
    path.write_bytes(b"ECG of 12 March, see the PDF\n" * 20)
    report = exams_import([path], dataset="refused", options=ImportOptions(format="dicom"))  # chosen as DICOM
    error = report.files[0].error
    assert "not a DICOM file" in error and "force" not in error, error
    assert Exam.objects.count() == 0


def test_a_header_with_an_empty_mat_names_the_mat(blobs, tmp_path):
    (tmp_path / "HR06000.hea").write_bytes((DATA / "wfdb/cinc2021/HR06000.hea").read_bytes())
    (tmp_path / "HR06000.mat").write_bytes(b"")
    refused(blobs, tmp_path / "HR06000.hea", "HR06000.mat", "is empty")


def test_a_folder_of_only_unsupported_files_exits_non_zero_saying_nothing_imported(blobs, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not an ECG")
    (folder / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_exams", str(folder), "--no-progress")
    assert Exam.objects.count() == 0


def test_a_ptbxl_folder_uploaded_from_the_browser_as_loose_files_imports(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    """A browser sends a chosen folder's files without their folders: the database's
    records100/00000/00001_lr is then 00001_lr beside it, which is where the import looks next."""
    folder = DATA / "ptbxl"
    uploads = [
        SimpleUploadedFile(path.name, path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    assert [upload.name for upload in uploads] == ["ptbxl_database.csv", "00001_lr.dat", "00001_lr.hea"]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post("/api/v1/imports/", {"dataset": "ptbxl", "files": uploads})
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    imports_run.apply(args=(response.json()["id"],)).get()
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.files_failed) == ("done", 1, 0), job.outcomes
    exam = Exam.objects.get(dataset__name="ptbxl")
    assert exam.external_id == "1" and exam.source_format == "ptbxl" and exam.age == 56 and exam.sex == "F"
    assert set(ReferenceLabel.objects.filter(exam=exam).values_list("code", flat=True)) == {
        "NORM",
        "LVOLT",
        "SR",
    }


def test_a_wfdb_header_under_another_name_is_refused_saying_which_record_it_heads(blobs, tmp_path):
    """A header copied or renamed without its record (orphan.hea holding 00001_lr's header): the coordinator
    is told which record it heads, not that the file is in no format ECG Review reads."""
    path = tmp_path / "orphan.hea"
    path.write_bytes(SAMPLE_FILES["00001_lr"].read_bytes())
    error = refused(blobs, path, "the WFDB header of record 00001_lr, not of orphan", "00001_lr.hea")
    assert "not in a format" not in error
