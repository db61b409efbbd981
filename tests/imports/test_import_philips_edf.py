"""Philips XML (three real files, one UTF-8 and two UTF-16) and EDF/EDF+ (built here with edfio).

Expected samples come from decoders written in this file (lxml + base64 + XLI for Philips, numpy on the
raw EDF bytes), never from the importer or the libraries it uses.
"""

import base64
from datetime import date, time

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from lxml import etree

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.synthetic import synthetic_ecg
from annotations.models import Exam, ImportJob, ReferenceLabel
from annotations.services.exams.waveforms import waveform_load
from annotations.services.imports.exams import exams_import
from annotations.tasks import imports_run
from tests.importing import DATA, blob_files, use_private_storage

pytestmark = pytest.mark.django_db

PHILIPS = {
    "1.03": DATA / "philips-xml/129DYPRG_v1.03_heartstartMRx.XML",
    "1.04": DATA / "philips-xml/3191723_ZZDEMOPTONLY_v1.04_pagewriterTouch.xml",
    "1.04.01": DATA / "philips-xml/2020-5-18_15-48-11_v1.04.01_pagewriterTC.xml",
}


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


# --- an independent Philips decoder: LZW (10-bit codes) + byte unpacking + second differences ------------
def lzw_10bit(data: bytes) -> bytes:
    bits = "".join(f"{byte:08b}" for byte in data)
    table = {code: bytes([code]) for code in range(256)}
    next_code, previous, out = 256, b"", bytearray()
    for position in range(0, len(bits) - 9, 10):
        code = int(bits[position : position + 10], 2)
        if code > 1022:
            break
        entry = table[code] if code in table else previous + previous[:1]
        out += entry
        if previous and next_code <= 1022:
            table[next_code] = previous + entry[:1]
            next_code += 1
        previous = entry
    return bytes(out)


def wrap16(value: int) -> int:
    return (value + 32768) % 65536 - 32768


def xli_leads(payload: bytes) -> list[np.ndarray]:
    leads, offset = [], 0
    while offset < len(payload):
        size = int.from_bytes(payload[offset : offset + 4], "little", signed=True)
        first = int.from_bytes(payload[offset + 6 : offset + 8], "little", signed=True)
        raw = lzw_10bit(payload[offset + 8 : offset + 8 + size])
        offset += 8 + size
        raw += b"\0" * (len(raw) % 2)
        half = len(raw) // 2
        deltas = [wrap16((raw[i] << 8) | raw[half + i]) for i in range(half)]
        values = deltas[:2]
        x, y, last = deltas[0], deltas[1], first
        for delta in deltas[2:]:
            z = wrap16(2 * y - x - last)
            last = delta - 64
            values.append(z)
            x, y = y, z
        leads.append(np.array(values, dtype=np.int64))
    return leads


def philips_independent(path) -> tuple[np.ndarray, float]:
    """The 12 leads in counts (limb leads rebuilt from their residuals) and the microvolts per count."""
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    ns = {"p": root.nsmap[None]}
    node = root.find(".//p:parsedwaveforms", ns)
    i, ii, iii, avr, avl, avf, *chest = xli_leads(base64.b64decode("".join(node.itertext())))[:12]
    iii = ii - i - iii
    avr = -avr - np.floor_divide(i + ii, 2)
    avl = np.floor_divide(i - iii, 2) - avl
    avf = np.floor_divide(ii + iii, 2) - avf
    resolution = node.get("resolution") or root.findtext(".//p:signalresolution", namespaces=ns)
    return np.stack([i, ii, iii, avr, avl, avf, *chest]), float(resolution)


@pytest.mark.parametrize("version", list(PHILIPS))
def test_a_real_philips_xml_imports_matching_an_independent_decode(blobs, version):
    path = PHILIPS[version]
    report = exams_import([path], dataset="philips")
    assert report.files_failed == 0, report.files[0].error
    exam = Exam.objects.get()
    counts, resolution = philips_independent(path)
    assert counts.shape == (12, 5500) and resolution == 5
    assert exam.source_format == "philips" and list(exam.lead_names) == list(STANDARD_LEADS)
    assert exam.sampling_rate == 500
    n = exam.n_samples
    # The signal is kept; the cart's zeros + 1 mV (200 counts) calibration pulse after it are not.
    assert 5200 < n < 5350
    tail = counts[:, n:]
    assert set(np.unique(tail).tolist()) == {0, 200} and (tail == 200).all(axis=0).sum() == 100
    assert np.array_equal(stored_uv(exam), counts[:, :n] * resolution)  # 0 uV error
    einthoven = np.abs(counts[1, :n] - counts[0, :n] - counts[2, :n]).max()
    assert einthoven <= 2


def test_philips_statements_are_stored_as_statement_labels(blobs):
    exams_import([PHILIPS["1.03"]], dataset="philips")
    codes = set(ReferenceLabel.objects.values_list("code", flat=True))
    assert {"Sinus bradycardia", "Nonspecific intraventricular conduction delay"} <= codes


def test_a_coordinator_uploads_a_utf16_philips_file_through_the_api(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    path = PHILIPS["1.04"]
    assert path.read_bytes()[:2] == b"\xff\xfe"
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post(
            "/api/v1/imports/",
            {"dataset": "philips", "files": [SimpleUploadedFile(path.name, path.read_bytes())]},
        )
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    imports_run.apply(args=(response.json()["id"],)).get()
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.files_failed) == ("done", 1, 0), job.outcomes
    counts, resolution = philips_independent(path)
    exam = Exam.objects.get()
    assert np.array_equal(stored_uv(exam), counts[:, : exam.n_samples] * resolution)


def test_a_truncated_philips_file_is_refused(blobs, tmp_path):
    data = PHILIPS["1.03"].read_bytes()
    path = tmp_path / "truncated.xml"
    path.write_bytes(data[: len(data) * 2 // 3])
    refused(blobs, path, "not well-formed")


def test_a_philips_file_whose_duration_lies_is_refused(blobs, tmp_path):
    data = PHILIPS["1.03"].read_bytes()
    assert data.count(b'durationperchannel="11000"') == 1
    path = tmp_path / "lying.xml"
    path.write_bytes(data.replace(b'durationperchannel="11000"', b'durationperchannel="12000"'))
    refused(blobs, path, "5500 samples", "declares 6000")


def test_a_philips_file_with_an_entity_declaration_is_refused(blobs, tmp_path):
    data = PHILIPS["1.03"].read_bytes()
    head = b'<?xml version="1.0" encoding="UTF-8"?>'
    assert data.startswith(head)
    path = tmp_path / "entity.xml"
    path.write_bytes(
        data.replace(head, head + b'\n<!DOCTYPE restingecgdata [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)
    )
    refused(blobs, path, "entity expansion is refused")


def test_a_philips_file_with_corrupt_waveform_data_is_refused(blobs, tmp_path):
    data = PHILIPS["1.03"].read_bytes()
    start = data.index(b'nbitspersample="16">') + len(b'nbitspersample="16">')
    path = tmp_path / "corrupt.xml"
    path.write_bytes(data[:start] + b"AAAA" + data[start + 4000 :])
    refused(
        blobs, path, "Philips XML waveform refused before decoding: the waveform data is not valid base64"
    )


# --- EDF / EDF+ ----------------------------------------------------------------------------------------
EDF_LABELS = [
    "ECG I",
    "ECG II",
    "ECG III",
    "ECG aVR",
    "ECG aVL",
    "ECG aVF",
    *(f"ECG V{n}" for n in range(1, 7)),
]


def write_edf(path, *, with_resp: bool = True):
    """An EDF+C file written with edfio: 12 ECG leads in uV at 500 Hz for 10 s, respiration in Ohm, and
    an annotation (which makes it EDF+)."""
    from edfio import Edf, EdfAnnotation, EdfSignal, Patient

    signals_mv, _ = synthetic_ecg(heart_rate_bpm=70, sampling_rate=500, duration_s=10, noise_uv=5, seed=3)
    edf_signals = [
        EdfSignal(
            signals_mv[i] * 1000, 500, label=label, physical_dimension="uV", physical_range=(-8000, 8000)
        )
        for i, label in enumerate(EDF_LABELS)
    ]
    if with_resp:
        resp = np.sin(np.linspace(0, 20, 250))
        edf_signals.append(
            EdfSignal(resp, 25, label="Resp", physical_dimension="Ohm", physical_range=(-2, 2))
        )
    edf = Edf(
        edf_signals,
        patient=Patient(code="MCH-0234567", sex="F", birthdate=date(1951, 5, 2), name="X"),
        starttime=time(10, 11, 12),
        annotations=[EdfAnnotation(0.0, None, "Recording starts")],  # an annotation makes it EDF+C
    )
    edf.startdate = date(2024, 3, 4)
    edf.write(path)
    return path


def edf_independent_uv(path) -> tuple[list[str], np.ndarray]:
    """Labels and physical values of every ordinary signal, from the raw bytes (EDF spec, section 2)."""
    raw = path.read_bytes()
    header_bytes, records, ns = int(raw[184:192]), int(raw[236:244]), int(raw[252:256])

    def field(offset, width):
        start = 256 + ns * offset
        return [raw[start + width * i : start + width * (i + 1)].decode().strip() for i in range(ns)]

    labels = field(0, 16)
    pmin, pmax = (np.array(field(o, 8), float) for o in (104, 112))
    dmin, dmax = (np.array(field(o, 8), float) for o in (120, 128))
    per_record = [int(n) for n in field(216, 8)]
    data = np.frombuffer(raw[header_bytes:], dtype="<i2").reshape(records, sum(per_record))
    out, start = [], 0
    for index, n in enumerate(per_record):
        digital = data[:, start : start + n].reshape(-1).astype(float)
        start += n
        gain = (pmax[index] - pmin[index]) / (dmax[index] - dmin[index])
        out.append((digital - dmin[index]) * gain + pmin[index])
    return labels, out


def test_an_edf_plus_file_imports_its_ecg_leads_matching_an_independent_decode(blobs, tmp_path):
    path = write_edf(tmp_path / "holter.edf")
    report = exams_import([path], dataset="edf")
    assert report.files_failed == 0, report.files[0].error
    exam = Exam.objects.get()
    assert exam.source_format == "edf" and list(exam.lead_names) == list(STANDARD_LEADS)  # Resp left out
    assert (exam.sampling_rate, exam.n_samples, exam.sex) == (500, 5000, "F")
    labels, values = edf_independent_uv(path)
    stored = stored_uv(exam)
    for index, label in enumerate(EDF_LABELS):
        truth = values[labels.index(label)]
        assert np.max(np.abs(stored[index] - truth)) <= 1.0 + 1e-9, label  # stored to 1 uV


def test_an_edf_file_whose_record_count_lies_is_refused(blobs, tmp_path):
    path = write_edf(tmp_path / "lying.edf")
    raw = bytearray(path.read_bytes())
    records = int(raw[236:244])
    raw[236:244] = f"{records + 1:<8}".encode()
    path.write_bytes(bytes(raw))
    refused(blobs, path, "truncated or lying header")


def test_a_truncated_edf_file_is_refused(blobs, tmp_path):
    path = write_edf(tmp_path / "truncated.edf")
    path.write_bytes(path.read_bytes()[:-1000])
    refused(blobs, path, "truncated or lying header")


def test_an_edf_plus_d_file_is_refused(blobs, tmp_path):
    path = write_edf(tmp_path / "discontinuous.edf")
    raw = bytearray(path.read_bytes())
    assert raw[192:197] == b"EDF+C"
    raw[192:197] = b"EDF+D"
    path.write_bytes(bytes(raw))
    refused(blobs, path, "EDF+D")


def test_an_edf_file_with_no_voltage_signal_is_refused(blobs, tmp_path):
    from edfio import Edf, EdfSignal

    path = tmp_path / "resp.edf"
    Edf([EdfSignal(np.sin(np.linspace(0, 20, 250)), 25, label="Resp", physical_dimension="Ohm")]).write(path)
    refused(blobs, path, "no signal in a voltage unit")
