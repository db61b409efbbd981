"""GE MUSE XML export: RestingECG / Waveform (Rhythm) / LeadData, base64 little-endian int16; the Median
waveform is kept apart, as the cart's representative beat (Record.beat), never as the exam's signal.

MUSE stores 8 independent leads (I, II, V1-V6); III, aVR, aVL and aVF are derived. Amplitudes are integer
steps of LeadAmplitudeUnitsPerBit (usually 4.88 microvolts).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np

from annotations.lib.formats import _xml
from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    RepresentativeBeat,
    check_shape,
    device_measurements,
    parse_age,
)

name = "muse"
_UNIT_UV = {"MICROVOLTS": 1.0, "UV": 1.0, "MILLIVOLTS": 1000.0, "MV": 1000.0}
# Identifying fields of PatientDemographics / TestDemographics.
_IDENTIFYING = (
    "PatientID",
    "PatientLastName",
    "PatientFirstName",
    "DateofBirth",
    "SecondaryID",
    "AcquisitionDevice",
    "OrderNumber",
    "Location",
    "LocationName",
    "Site",
    "SiteName",
    "OperatorID",
    "OperatorLastName",
    "OverreaderLastName",
    "OverreaderFirstName",
    "OverreaderID",
    "EditorLastName",
    "EditorFirstName",
    "EditorID",
    "ReferringMDFirstName",
    "ReferringMDID",
    "OperatorFirstName",
    "ReferringMDLastName",
)


def count(path: Path, options: ReadOptions) -> int:
    return 1


def _text(element: Element | None, tag: str) -> str:
    found = element.find(tag) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _waveform(root: Element, kind: str) -> Element | None:
    for waveform in root.findall("Waveform"):
        if _text(waveform, "WaveformType").lower() == kind:
            return waveform
    return None


def _rhythm(root: Element) -> Element:
    waveform = _waveform(root, "rhythm")
    if waveform is None:
        raise FormatError("MUSE XML has no Waveform of type Rhythm")
    return waveform


def _median(
    root: Element, decoded: dict[int, bytes | None], options: ReadOptions, notes: list[str]
) -> RepresentativeBeat | None:
    """The 12SL median beat (8 stored leads, the limb leads derived like the rhythm's), or None. A damaged
    median costs the exam its cart beat, said in the report, never the import of its rhythm."""
    waveform = _waveform(root, "median")
    if waveform is None:
        return None
    try:
        rate = float(_text(waveform, "SampleBase") or "nan")
        leads = [_lead(lead, decoded, options) for lead in waveform.findall("LeadData")]
        if not rate > 0 or not leads or len({samples.size for _, samples, _ in leads}) != 1:
            raise FormatError("its leads are missing or of different lengths, or it has no SampleBase")
    except FormatError as error:
        notes.append(f"the cart's median beat was not kept: {error}")
        return None
    return RepresentativeBeat(
        signals=np.stack([samples for _, samples, _ in leads]).astype(np.int64),
        sampling_rate=rate,
        lead_names=[lead_id for lead_id, _, _ in leads],
        gain_uv=np.asarray([gain for _, _, gain in leads]),
        source="GE MUSE Median",
    )


def _base64(text: str) -> bytes | None:
    """A lead's WaveFormData, decoded as soon as its element ends (None when it is no base64): the
    text of a long recording is never held beside the tree. Line breaks apart, every character must be
    base64's: one that is not would be skipped silently and shift every sample after it."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _crc_check(lead_id: str, lead: Element, raw: bytes) -> None:
    """MUSE stores each lead's CRC-32 of its sample bytes (LeadDataCRC32): a file changed after export
    decodes to plausible samples of the right count, and only the CRC tells. Optional: absent, not
    checked."""
    stored = _text(lead, "LeadDataCRC32")
    if stored and stored.isdigit() and zlib.crc32(raw) != int(stored):
        raise FormatError(
            f"lead {lead_id}: its samples do not match their CRC-32 (LeadDataCRC32 {stored}, data "
            f"{zlib.crc32(raw)}): the file was changed or damaged after export"
        )


def _lead(
    lead: Element, decoded: dict[int, bytes | None], options: ReadOptions
) -> tuple[str, np.ndarray, float]:
    lead_id = _text(lead, "LeadID")
    declared = int(_text(lead, "LeadSampleCountTotal") or 0)
    check_shape(f"lead {lead_id}", 1, declared, options.limits)
    data = lead.find("WaveFormData")
    raw = decoded.get(id(data)) if data is not None else b""
    if raw is None:
        raise FormatError(f"lead {lead_id}: WaveFormData is not base64")
    if len(raw) % 2:
        raise FormatError(f"lead {lead_id}: WaveFormData holds {len(raw)} bytes, not whole 16-bit samples")
    _crc_check(lead_id, lead, raw)
    samples = np.frombuffer(raw, dtype="<i2")
    if samples.size != declared:
        raise FormatError(f"lead {lead_id}: {samples.size} samples but LeadSampleCountTotal is {declared}")
    units = _text(lead, "LeadAmplitudeUnits").upper()
    if units not in _UNIT_UV:
        raise FormatError(f"lead {lead_id}: amplitude unit {units!r} is not a voltage")
    per_bit = float(_text(lead, "LeadAmplitudeUnitsPerBit") or "nan")
    if not per_bit > 0:
        raise FormatError(f"lead {lead_id}: LeadAmplitudeUnitsPerBit must be positive")
    return lead_id, samples, per_bit * _UNIT_UV[units]


def _acquired_at(root: Element) -> datetime | None:
    test = root.find("TestDemographics")
    date, time = _text(test, "AcquisitionDate"), _text(test, "AcquisitionTime")
    for pattern in ("%m-%d-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(f"{date} {time}", pattern)
        except ValueError:
            continue
    return None


def _statements(root: Element) -> list[str]:
    """Statement lines of the (confirmed) Diagnosis: MUSE splits a line over several DiagnosisStatements
    and flags the last one ENDSLINE, so they are joined back into lines ("When compared with ECG of" +
    "10-MAY-2021 14:14,") before the service decides which lines may be kept."""
    diagnosis = root.find("Diagnosis")
    if diagnosis is None:
        return []
    lines, current = [], []
    for statement in diagnosis.findall("DiagnosisStatement"):
        if text := _text(statement, "StmtText"):
            current.append(text)
        if any((flag.text or "").strip().upper() == "ENDSLINE" for flag in statement.findall("StmtFlag")):
            lines.append(" ".join(current))
            current = []
    lines.append(" ".join(current))
    return [line.strip() for line in lines if line.strip()]


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    root, decoded = _xml.parse_converting(path, {"WaveFormData": _base64})
    if root.tag != "RestingECG":
        raise FormatError(f"root element is <{root.tag}>, not <RestingECG>")
    waveform = _rhythm(root)
    rate = float(_text(waveform, "SampleBase") or "nan")
    if not rate > 0:
        raise FormatError("Rhythm waveform has no positive SampleBase")
    leads = [_lead(lead, decoded, options) for lead in waveform.findall("LeadData")]
    if not leads or len({samples.size for _, samples, _ in leads}) != 1:
        raise FormatError("Rhythm waveform leads are missing or of different lengths")
    patient, test = root.find("PatientDemographics"), root.find("TestDemographics")
    identifiers = {
        tag: _text(node, tag) for node in (patient, test) for tag in _IDENTIFYING if _text(node, tag)
    }
    external_id = _text(test, "AcquisitionDateTimeID") or path.stem
    notes: list[str] = []
    beat = _median(root, decoded, options, notes)
    yield Record(
        external_id=external_id,
        # Stacked as stored (int16), widened once: derived limb leads are sums that int16 could overflow.
        signals=np.stack([samples for _, samples, _ in leads]).astype(np.int64),
        gain_uv=np.asarray([gain for _, _, gain in leads]),
        sampling_rate=rate,
        lead_names=[lead_id for lead_id, _, _ in leads],
        age=parse_age(_text(patient, "PatientAge"))
        if _text(patient, "AgeUnits").upper() in {"", "YEARS"}
        else None,
        sex={"FEMALE": "F", "MALE": "M"}.get(_text(patient, "Gender").upper(), "U"),
        acquired_at=_acquired_at(root),
        labels=list(dict.fromkeys(("statement", text) for text in _statements(root))),
        identifiers=identifiers,
        source_record=path.name,
        device_measurements=_measurements(root),
        beat=beat,
        notes=notes,
    )


# RestingECGMeasurements (the cart's 12SL analysis) -> DEVICE_MEASUREMENTS keys. GE's QTCorrected is the
# QTc by the formula the cart is set to (Bazett unless changed), so it is the device's QTc, unnamed.
_MEASUREMENT_TAGS = {
    "VentricularRate": "heart_rate_bpm",
    "AtrialRate": "atrial_rate_bpm",
    "PRInterval": "pr_ms",
    "QRSDuration": "qrs_ms",
    "QTInterval": "qt_ms",
    "QTCorrected": "qtc_ms",
    "QTcFrederica": "qtc_fridericia_ms",
    "PAxis": "p_axis_deg",
    "RAxis": "qrs_axis_deg",
    "TAxis": "t_axis_deg",
}


def _measurements(root: Element) -> dict[str, float]:
    block = root.find("RestingECGMeasurements")
    if block is None:
        return {}
    return device_measurements({key: _text(block, tag) for tag, key in _MEASUREMENT_TAGS.items()})
