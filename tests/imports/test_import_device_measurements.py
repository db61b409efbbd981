"""The recording cart's own global measurements (heart rate, intervals, QTc, axes) kept from the hospital
formats that carry them (GE MUSE, DICOM, Philips), shown to coordinators beside the models' measurements,
and filled in on a later import of an exam stored without them. Readers never see them.

The expected values come from an independent read of each file (lxml, pydicom), never from the importer."""

from __future__ import annotations

import shutil
import struct

import pydicom
import pytest
from lxml import etree

from annotations.lib.formats.base import device_measurements
from annotations.models import Exam, ImportJob
from tests.factories import batch_for
from tests.importing import DATA, api_import, use_private_storage

pytestmark = pytest.mark.django_db

MUSE = DATA / "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml"
DICOM = DATA / "dicom/waveform_ecg.dcm"
PHILIPS = DATA / "philips-xml/3191723_ZZDEMOPTONLY_v1.04_pagewriterTouch.xml"
PHILIPS_103 = DATA / "philips-xml/129DYPRG_v1.03_heartstartMRx.XML"


def _xml(path):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser).getroot()


def muse_independent() -> dict[str, int]:
    block = _xml(MUSE).find("RestingECGMeasurements")
    tags = {"VentricularRate": "heart_rate_bpm", "PRInterval": "pr_ms", "QRSDuration": "qrs_ms",
            "QTInterval": "qt_ms", "QTCorrected": "qtc_ms", "PAxis": "p_axis_deg", "RAxis": "qrs_axis_deg",
            "TAxis": "t_axis_deg"}  # fmt: skip
    return {key: int(block.findtext(tag)) for tag, key in tags.items()}


def dicom_independent() -> dict[str, int]:
    meanings = {"RR Interval": "rr_ms", "PR Interval": "pr_ms", "QRS Duration": "qrs_ms",
                "QT Interval": "qt_ms", "QTc Interval": "qtc_ms", "P Axis": "p_axis_deg",
                "QRS Axis": "qrs_axis_deg", "T Axis": "t_axis_deg"}  # fmt: skip
    out = {}
    for item in pydicom.dcmread(DICOM).WaveformAnnotationSequence:
        if "ConceptNameCodeSequence" in item and "NumericValue" in item:
            meaning = item.ConceptNameCodeSequence[0].CodeMeaning
            if meaning in meanings:
                out.setdefault(meanings[meaning], int(item.NumericValue))
    return out


def philips_independent() -> dict[str, int]:
    root = _xml(PHILIPS)
    block = next(node for node in root.iter() if etree.QName(node).localname == "globalmeasurements")
    values = {etree.QName(child).localname: child.text for child in block}
    tags = {"heartrate": "heart_rate_bpm", "rrint": "rr_ms", "print": "pr_ms", "qrsdur": "qrs_ms",
            "qtint": "qt_ms", "qtcb": "qtc_bazett_ms", "qtcf": "qtc_fridericia_ms",
            "qrsfrontaxis": "qrs_axis_deg", "tfrontaxis": "t_axis_deg",
            "pfrontaxis": "p_axis_deg"}  # fmt: skip
    return {key: int(values[tag]) for tag, key in tags.items()}


@pytest.fixture
def hospital_files(settings, tmp_path):
    use_private_storage(settings, tmp_path)
    root = settings.IMPORT_ROOT
    folder = root / f"carts-{tmp_path.name}"
    folder.mkdir(parents=True)
    for path in (MUSE, DICOM, PHILIPS, PHILIPS_103):
        shutil.copy(path, folder / path.name)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _exam(name: str) -> Exam:
    return Exam.objects.get(source_record__startswith=name)


def test_each_cart_s_measurements_are_kept_and_shown_to_coordinators_beside_the_models(
    client_for, diego, hospital_files, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    api_import(client, django_capture_on_commit_callbacks, "carts", [hospital_files.name])
    expected = {
        MUSE.name: muse_independent(),
        DICOM.name: dicom_independent(),
        PHILIPS.name: philips_independent(),
    }
    # The published figures of the DICOM sample (tests/data/README.md), as a check on the independent read.
    assert dicom_independent() == {"rr_ms": 982, "pr_ms": 161, "qrs_ms": 75, "qt_ms": 368, "qtc_ms": 370,
                                   "p_axis_deg": 74, "qrs_axis_deg": 52, "t_axis_deg": 57}  # fmt: skip
    for name, values in expected.items():
        exam = _exam(name)
        body = client.get(f"/api/v1/exams/{exam.pk}/").json()
        stored = body["device_measurements"]
        assert {key: stored[key] for key in values} == values, name
    # A 1.03 Philips file writes means over the beats: its rate and intervals are kept too.
    old = client.get(f"/api/v1/exams/{_exam(PHILIPS_103.name).pk}/").json()["device_measurements"]
    assert (old["heart_rate_bpm"], old["pr_ms"], old["qrs_ms"], old["qt_ms"], old["qtc_ms"]) == (
        41,
        151,
        135,
        476,
        393,
    )
    page = client.get(f"/exams/{_exam(DICOM.name).pk}/").content.decode()
    table = page[page.index('id="measurements"') :]
    table = table[: table.index("</section>")]
    assert "<th>Device</th>" in table
    assert '<tr data-key="rr_ms"><th scope="row">RR</th><td>982 ms</td></tr>' in table
    assert (
        '<tr data-key="qtc_ms"><th scope="row">QTc (the device&#x27;s formula)</th><td>370 ms</td></tr>'
        in table
    )
    assert '<tr data-key="qrs_axis_deg"><th scope="row">QRS axis</th><td>52°</td></tr>' in table


def test_an_exam_stored_without_them_takes_them_from_a_later_import_of_its_file(
    client_for, diego, hospital_files, django_capture_on_commit_callbacks
):
    """Exams imported before the cart's measurements were read: importing the same files again fills them in
    and says so on the record's outcome; nothing else of the exam changes."""
    client = client_for(diego)
    api_import(client, django_capture_on_commit_callbacks, "carts", [hospital_files.name])
    Exam.objects.update(device_measurements={})
    before = {exam.pk: (exam.waveform_sha256, exam.age, exam.sex) for exam in Exam.objects.all()}
    job_id = api_import(client, django_capture_on_commit_callbacks, "carts", [hospital_files.name])
    job = ImportJob.objects.get(pk=job_id)
    assert (job.created, job.unchanged) == (0, 4)
    detail = client.get(f"/api/v1/imports/{job_id}/").json()
    said = [row["message"] for row in detail["outcomes"] if row["outcome"] == "unchanged"]
    assert said == ["filled in: device measurements"] * 4, detail
    assert _exam(DICOM.name).device_measurements == dicom_independent()
    assert {exam.pk: (exam.waveform_sha256, exam.age, exam.sex) for exam in Exam.objects.all()} == before


def test_an_exam_without_device_measurements_says_so_on_its_page(client_for, diego):
    from tests.factories import make_exam

    exam = make_exam()
    page = client_for(diego).get(f"/exams/{exam.pk}/").content.decode()
    assert "None: the exam's file gave no device measurements and no model has measured it." in page


def test_what_a_cart_writes_for_not_measured_is_left_out():
    offered = {"pr_ms": "0", "qrs_axis_deg": "999", "t_axis_deg": "Indeterminate", "p_axis_deg": "0",
               "qt_ms": " 412 ", "qrs_ms": "", "heart_rate_bpm": "72,5", "rr_ms": "nan"}  # fmt: skip
    assert device_measurements(offered) == {"p_axis_deg": 0, "qt_ms": 412, "heart_rate_bpm": 72.5}
    assert device_measurements({"qrs_axis_deg": "270"}) == {"qrs_axis_deg": -90}


SCP = DATA / "scp-ecg/welchallyn_cardiocontrol_20070321_lvh.SCP"


def _imported_alone(client, settings, tmp_path, capture, source) -> dict:
    """`source` imported on its own through the API; the cart's measurements the exam API returns."""
    use_private_storage(settings, tmp_path)
    folder = settings.IMPORT_ROOT / f"alone-{tmp_path.name}"
    folder.mkdir(parents=True)
    shutil.copy(source, folder / source.name)
    try:
        api_import(client, capture, "alone", [folder.name])
        return client.get(f"/api/v1/exams/{_exam(source.name).pk}/").json()["device_measurements"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scp_section7_independent() -> dict[str, int]:
    """Section 7 found through section 0's pointers (id u16, length u32, 1-based index u32 after a 6-byte
    record header and section 0's own 16-byte header) and read with struct: RR, then the first reference
    beat's boundaries and axes."""
    data = SCP.read_bytes()
    pointers = {}
    for at in range(6 + 16, 6 + 16 + 12 * 10, 10):
        section, length, index = struct.unpack_from("<HII", data, at)
        pointers[section] = (length, index)
    body = pointers[7][1] - 1 + 16
    rr = struct.unpack_from("<H", data, body + 2)[0]
    p_on, _p_off, qrs_on, qrs_off, t_off, p_axis, qrs_axis, t_axis = struct.unpack_from(
        "<HHHHHhhh", data, body + 6
    )
    return {"rr_ms": rr, "heart_rate_bpm": round(60000 / rr), "pr_ms": qrs_on - p_on,
            "qrs_ms": qrs_off - qrs_on, "qt_ms": t_off - qrs_on, "p_axis_deg": p_axis,
            "qrs_axis_deg": qrs_axis, "t_axis_deg": t_axis}  # fmt: skip


def test_an_scp_cart_s_section_7_gives_its_intervals_from_the_dominant_beat_s_boundaries(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    stored = _imported_alone(client_for(diego), settings, tmp_path, django_capture_on_commit_callbacks, SCP)
    assert stored == scp_section7_independent()
    assert (stored["pr_ms"], stored["qrs_ms"], stored["qt_ms"]) == (157, 88, 360)


def test_a_release_carries_the_carts_measurements_of_its_exams_in_a_file_of_their_own(
    client_for, diego, ana, tnmg, hospital_files, django_capture_on_commit_callbacks
):
    """The machines' figures travel with the gold standard (PTB-XL+ ships its carts' too), keyed by the
    consensus table's row, described in the card; a release of exams without any has no such file."""
    import csv
    import io
    import json

    from annotations.models import Release
    from annotations.services.releases.builds import release_build
    from tests.adjudication.test_adjudication import read
    from tests.factories import make_exam
    from tests.releases.test_release_current_consensus import file_text

    client = client_for(diego)
    api_import(client, django_capture_on_commit_callbacks, "carts", [hospital_files.name])
    plain = make_exam(seed=5)  # no cart measurements
    exams = [*Exam.objects.filter(dataset__name="carts"), plain]
    batch = batch_for(tnmg, diego, [ana], exams, name="Carts")
    for exam in exams:
        read(ana, batch, exam, ["SB"])
    response = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    consensus = {
        row["exam_id"]: row["row"]
        for row in csv.DictReader(io.StringIO(file_text(client, release, "consensus.csv")))
    }
    table = list(csv.DictReader(io.StringIO(file_text(client, release, "device_measurements.csv"))))
    assert len(table) == 4 and plain.external_id not in {row["exam_id"] for row in table}
    dicom = next(row for row in table if row["exam_id"] == _exam(DICOM.name).external_id)
    assert dicom["row"] == consensus[dicom["exam_id"]]
    picked = ("rr_ms", "pr_ms", "qtc_ms", "qrs_axis_deg", "heart_rate_bpm")
    assert [dicom[key] for key in picked] == ["982", "161", "370", "52", ""]
    card = json.loads(file_text(client, release, "dataset_card.json"))
    assert "device_measurements.csv" in {entry["name"] for entry in card["files"]}
    assert any(
        text.startswith("device_measurements.csv: the recording carts'") for text in card["conventions"]
    )
    assert "device_measurements.csv" in file_text(client, release, "SHA256SUMS")
    # Without any cart's measurements: no file, no convention.
    other = batch_for(
        tnmg,
        diego,
        [ana],
        [plain],
        name="Plain",
        exclude_seen=False,
        independence_off_reason="ana reads the plain exam again",
    )
    read(ana, other, plain, ["SB"])
    response = client.post(
        "/api/v1/releases/", {"batches": [other.pk], "hdf5": False}, content_type="application/json"
    )
    bare = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    assert "device_measurements.csv" not in {entry["name"] for entry in bare.files}


AECG = DATA / "hl7-aecg/Example_aECG.xml"


def test_an_aecg_s_numeric_annotations_given_on_every_beat_are_the_record_s_measurements(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The FDA example repeats its intervals and axes on each of its 13 beat annotations: their median
    (here every beat's value) is the record's, read independently with lxml."""
    root = _xml(AECG)
    codes = {"MDC_ECG_TIME_PD_PR": "pr_ms", "MDC_ECG_TIME_PD_QRS": "qrs_ms", "MDC_ECG_TIME_PD_QT": "qt_ms",
             "MDC_ECG_TIME_PD_QTc": "qtc_ms", "MDC_ECG_ANGLE_P_FRONT": "p_axis_deg",
             "MDC_ECG_ANGLE_QRS_FRONT": "qrs_axis_deg", "MDC_ECG_ANGLE_T_FRONT": "t_axis_deg"}  # fmt: skip
    values: dict[str, set[int]] = {}
    for node in root.iter("{urn:hl7-org:v3}annotation"):
        code, value = node.find("{urn:hl7-org:v3}code"), node.find("{urn:hl7-org:v3}value")
        if code is not None and code.get("code") in codes:
            values.setdefault(codes[code.get("code")], set()).add(int(value.get("value")))
    assert all(len(found) == 1 for found in values.values()), values
    stored = _imported_alone(client_for(diego), settings, tmp_path, django_capture_on_commit_callbacks, AECG)
    assert stored == {key: found.pop() for key, found in values.items()}
    assert (stored["qrs_ms"], stored["qrs_axis_deg"]) == (120, -61)
