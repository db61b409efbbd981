"""The cart's representative beat kept at import, beside its global measurements, from every vendor
format that carries one (GE MUSE Median, Philips repbeats, HL7 aECG REPRESENTATIVE_BEAT, DICOM MEDIAN
BEAT, SCP-ECG section 5), with its source, rate and resolution: the blind reader's panel draws it.

The expected samples come from an independent read of each file (lxml, pydicom, struct), never from the
importer; the limb leads that MUSE and SCP leave out are derived (III = II - I, aVF = II - I/2)."""

from __future__ import annotations

import base64
import shutil
import struct

import numpy as np
import pydicom
import pytest
from lxml import etree

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.models import Exam, ExamBeat, ImportJob
from tests.importing import DATA, api_import, use_private_storage

pytestmark = pytest.mark.django_db

MUSE = DATA / "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml"
DICOM = DATA / "dicom/waveform_ecg.dcm"
PHILIPS_TC = DATA / "philips-xml/2020-5-18_15-48-11_v1.04.01_pagewriterTC.xml"
PHILIPS_TOUCH = DATA / "philips-xml/3191723_ZZDEMOPTONLY_v1.04_pagewriterTouch.xml"
PHILIPS_103 = DATA / "philips-xml/129DYPRG_v1.03_heartstartMRx.XML"
AECG = DATA / "hl7-aecg/Example_aECG.xml"
CALECG = DATA / "hl7-aecg/cvrg_hl7aecg-Example2_CalECG.xml"
SCP = DATA / "scp-ecg/welchallyn_cardiocontrol_20081029_normal_en.SCP"
ALL = (MUSE, DICOM, PHILIPS_TC, PHILIPS_TOUCH, PHILIPS_103, AECG, CALECG, SCP)


def _xml(path):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    return etree.parse(str(path), parser).getroot()


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""  # comments have no name


def muse_lead_ii() -> tuple[float, np.ndarray]:
    median = next(w for w in _xml(MUSE).iter("Waveform") if w.findtext("WaveformType") == "Median")
    lead = next(d for d in median.iter("LeadData") if d.findtext("LeadID") == "II")
    counts = np.frombuffer(base64.b64decode(lead.findtext("WaveFormData")), "<i2")
    return float(median.findtext("SampleBase")), counts * float(lead.findtext("LeadAmplitudeUnitsPerBit"))


def philips_lead_ii(path) -> tuple[float, np.ndarray]:
    block = next(node for node in _xml(path).iter() if _local(node) == "repbeats")
    beat = next(node for node in block if _local(node) == "repbeat" and node.get("leadname") == "II")
    waveform = next(node for node in beat if _local(node) == "waveform")
    counts = np.frombuffer(base64.b64decode("".join(waveform.text.split())), "<i2")
    counts = counts[: np.flatnonzero(counts != 32767)[-1] + 1]  # the fill after the beat
    return float(block.get("samplespersec")), counts * float(block.get("resolution"))


def aecg_lead_ii(path) -> tuple[float, np.ndarray]:
    derived = next(
        node
        for node in _xml(path).iter()
        if _local(node) == "derivedSeries"
        and any(_local(c) == "code" and c.get("code") == "REPRESENTATIVE_BEAT" for c in node)
    )
    sequences = [node for node in derived.iter() if _local(node) == "sequence"]
    codes = {next(c for c in s if _local(c) == "code").get("code"): s for s in sequences}
    increment = next(n for n in codes["TIME_RELATIVE"].iter() if _local(n) == "increment")
    step = float(increment.get("value")) * (1e-3 if increment.get("unit") == "ms" else 1.0)
    value = next(n for n in codes["MDC_ECG_LEAD_II"] if _local(n) == "value")
    scale = next(n for n in value if _local(n) == "scale")
    digits = next(n for n in value if _local(n) == "digits").text.split()
    factor = {"uV": 1.0, "mV": 1000.0}[scale.get("unit")]
    return 1.0 / step, np.array(digits, dtype=float) * float(scale.get("value")) * factor


def dicom_lead_ii() -> tuple[float, np.ndarray]:
    ds = pydicom.dcmread(DICOM)
    index, group = next(
        (i, g) for i, g in enumerate(ds.WaveformSequence) if g.MultiplexGroupLabel == "MEDIAN BEAT"
    )
    names = [c.ChannelSourceSequence[0].CodeMeaning for c in group.ChannelDefinitionSequence]
    channel = names.index("Lead II")
    return float(group.SamplingFrequency), ds.waveform_array(index)[:, channel] * 1.0  # in uV


def scp_reference_header() -> tuple[int, float, float]:
    """(reference beat length in ms from section 4, sample interval in us, nV per step from section 5),
    found through section 0's pointers with struct."""
    data = SCP.read_bytes()
    pointers = {}
    for at in range(6 + 16, 6 + 16 + 12 * 10, 10):
        section, _length, index = struct.unpack_from("<HII", data, at)
        pointers[section] = index - 1 + 16
    length_ms = struct.unpack_from("<H", data, pointers[4])[0]
    multiplier, interval = struct.unpack_from("<HH", data, pointers[5])
    return length_ms, interval, multiplier


@pytest.fixture
def vendor_files(settings, tmp_path):
    use_private_storage(settings, tmp_path)
    folder = settings.IMPORT_ROOT / f"beats-{tmp_path.name}"
    folder.mkdir(parents=True)
    for path in ALL:
        shutil.copy(path, folder / path.name)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _beat(path) -> ExamBeat | None:
    exam = Exam.objects.get(source_record__startswith=path.name)
    return ExamBeat.objects.filter(exam=exam).first()


def _leads(beat: ExamBeat) -> dict[str, list[int]]:
    assert len(beat.leads_uv) == len(STANDARD_LEADS)
    return dict(zip(STANDARD_LEADS, beat.leads_uv, strict=True))


def test_every_vendor_s_representative_beat_is_kept_with_its_source_rate_and_samples(
    client_for, diego, vendor_files, django_capture_on_commit_callbacks
):
    api_import(client_for(diego), django_capture_on_commit_callbacks, "carts", [vendor_files.name])
    independent = {
        MUSE: (muse_lead_ii(), "GE MUSE Median", "muse"),
        PHILIPS_TC: (philips_lead_ii(PHILIPS_TC), "Philips repbeats (mean)", "philips"),
        PHILIPS_TOUCH: (philips_lead_ii(PHILIPS_TOUCH), "Philips repbeats (mean)", "philips"),
        AECG: (aecg_lead_ii(AECG), "HL7 aECG REPRESENTATIVE_BEAT", "aecg"),
        CALECG: (aecg_lead_ii(CALECG), "HL7 aECG REPRESENTATIVE_BEAT", "aecg"),
        DICOM: (dicom_lead_ii(), "DICOM MEDIAN BEAT", "dicom"),
    }
    for path, ((rate, lead_ii), source, reader) in independent.items():
        beat = _beat(path)
        assert beat is not None, path.name
        assert (beat.source, beat.source_format, beat.sampling_rate) == (source, reader, rate), path.name
        leads = _leads(beat)
        assert beat.n_samples == len(lead_ii) == len(leads["aVF"]) == len(leads["V6"]), path.name
        np.testing.assert_allclose(leads["II"], lead_ii, atol=0.5, err_msg=path.name)
    # MUSE stores 8 leads: the limb leads of its median are derived as the rhythm's are.
    muse = _leads(_beat(MUSE))
    i, ii = np.array(muse["I"]), np.array(muse["II"])
    np.testing.assert_allclose(muse["III"], ii - i, atol=1)
    np.testing.assert_allclose(muse["aVF"], ii - i / 2, atol=1)
    # SCP-ECG's section 5, at its own rate and resolution, as long as section 4 says.
    length_ms, interval_us, multiplier_nv = scp_reference_header()
    scp = _beat(SCP)
    assert scp.source == "SCP-ECG section 5 reference beat" and scp.source_format == "scp"
    assert scp.sampling_rate == pytest.approx(1e6 / interval_us) and scp.gain_uv == multiplier_nv / 1000
    assert scp.n_samples == round(length_ms * 1000 / interval_us)
    # A SierraECG 1.03 file carries no repbeats: its exam has its rhythm and no cart beat.
    assert _beat(PHILIPS_103) is None


def test_an_exam_imported_before_its_beat_was_kept_takes_it_from_a_later_import(
    client_for, diego, vendor_files, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    api_import(client, django_capture_on_commit_callbacks, "carts", [vendor_files.name])
    kept = {beat.exam_id: beat.leads_uv for beat in ExamBeat.objects.all()}
    ExamBeat.objects.all().delete()
    job_id = api_import(client, django_capture_on_commit_callbacks, "carts", [vendor_files.name])
    assert ImportJob.objects.get(pk=job_id).created == 0
    assert {beat.exam_id: beat.leads_uv for beat in ExamBeat.objects.all()} == kept


def test_a_damaged_median_costs_the_exam_its_cart_beat_and_says_so_never_the_import(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    folder = settings.IMPORT_ROOT / "damaged"
    folder.mkdir(parents=True)
    text = MUSE.read_bytes().decode("iso-8859-1")
    median = text.index("<WaveformType>Median</WaveformType>")
    data = text.index("<WaveFormData>", median) + len("<WaveFormData>")
    (folder / "damaged.xml").write_bytes((text[:data] + "!!!!" + text[data + 4 :]).encode("iso-8859-1"))
    job_id = api_import(client_for(diego), django_capture_on_commit_callbacks, "damaged", ["damaged"])
    job = ImportJob.objects.get(pk=job_id)
    assert job.created == 1 and not ExamBeat.objects.exists()
    detail = client_for(diego).get(f"/api/v1/imports/{job_id}/").json()
    said = " ".join(row["message"] for row in detail["outcomes"])
    assert "the cart's median beat was not kept" in said
