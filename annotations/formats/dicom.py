"""DICOM 12-Lead ECG / General ECG Waveform Storage: the RHYTHM multiplex group, not the MEDIAN BEAT.

pydicom decodes the multiplexed integers; each channel's sensitivity (x correction factor) in its
sensitivity units gives the microvolts per step, so the integers are stored as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.waveforms.numpy_handler import multiplex_array

from annotations.formats.base import FormatError, ReadOptions, Record, RecordError, check_shape, parse_age

name = "dicom"
ECG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
}
_UNIT_UV = {"uv": 1.0, "mv": 1000.0, "v": 1e6}
# Identifying attributes, by keyword: names, ids, dates of birth, device serials, free text.
_IDENTIFYING = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "PatientBirthDate",
    "PatientAddress",
    "AccessionNumber",
    "AdmissionID",
    "InstitutionName",
    "ReferringPhysicianName",
    "RequestingPhysician",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "DeviceSerialNumber",
    "StationName",
    "StudyID",
    "VisitComments",
    "ReasonForTheRequestedProcedure",
    "CurrentPatientLocation",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


def count(path: Path, options: ReadOptions) -> int:
    return 1


def _rhythm_index(ds) -> int:
    groups = list(ds.get("WaveformSequence") or [])
    for index, group in enumerate(groups):
        if str(group.get("MultiplexGroupLabel", "")).strip().upper() == "RHYTHM":
            return index
    # Some devices leave the label out: the rhythm is the longest group.
    if groups:
        return int(np.argmax([int(g.NumberOfWaveformSamples) for g in groups]))
    raise FormatError("DICOM file has no WaveformSequence")


def _channel(channel) -> tuple[str, float, float]:
    source = channel.ChannelSourceSequence[0]
    name_ = str(source.get("CodeMeaning") or source.get("CodeValue") or "")
    units = channel.get("ChannelSensitivityUnitsSequence")
    unit = str(units[0].CodeValue).lower() if units else "uv"
    if unit not in _UNIT_UV:
        raise FormatError(f"channel {name_}: sensitivity unit {unit!r} is not a voltage")
    sensitivity = float(channel.get("ChannelSensitivity", 1) or 1)
    correction = float(channel.get("ChannelSensitivityCorrectionFactor", 1) or 1)
    baseline = float(channel.get("ChannelBaseline", 0) or 0)
    return name_, sensitivity * correction * _UNIT_UV[unit], baseline


def _acquired_at(ds) -> datetime | None:
    value = str(ds.get("AcquisitionDateTime", "") or "")
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    try:
        ds = pydicom.dcmread(str(path))
    except (InvalidDicomError, OSError, ValueError) as error:
        raise FormatError(f"not a readable DICOM file ({error})") from None
    sop = str(ds.get("SOPClassUID", ""))
    if sop not in ECG_SOP_CLASSES:
        raise FormatError(f"DICOM SOP class {sop or 'none'} is not a 12-lead or general ECG waveform")
    index = _rhythm_index(ds)
    group = ds.WaveformSequence[index]
    check_shape(
        str(group.get("MultiplexGroupLabel", "RHYTHM")),
        int(group.NumberOfWaveformChannels),
        int(group.NumberOfWaveformSamples),
        options.limits,
    )
    channels = [_channel(c) for c in group.ChannelDefinitionSequence]
    raw = np.asarray(multiplex_array(ds, index, as_raw=True)).T  # (channels, samples)
    baselines = np.array([baseline for _, _, baseline in channels])
    signals: np.ndarray = raw.astype(np.int64)
    if np.any(baselines != np.rint(baselines)):  # fractional baseline: no exact integers to keep
        signals = raw - baselines[:, None]
    elif baselines.any():
        signals = signals - baselines.astype(np.int64)[:, None]
    identifiers = {key: str(ds.get(key)) for key in _IDENTIFYING if str(ds.get(key, "") or "").strip()}
    statements = [
        str(item.get("UnformattedTextValue") or item.get("TextValue") or "")
        for item in ds.get("WaveformAnnotationSequence") or []
    ]
    # Device interpretation statements (e.g. "RITMO SINUSALE") are uncoded text: kept as reference
    # labels of system 'statement', shown to coordinators only like every reference label.
    labels = [("statement", text.strip()[:60]) for text in statements if text.strip()]
    yield Record(
        external_id=str(ds.get("SOPInstanceUID") or path.stem),
        signals=signals,
        gain_uv=np.array([gain for _, gain, _ in channels]),
        sampling_rate=float(group.SamplingFrequency),
        lead_names=[channel_name for channel_name, _, _ in channels],
        age=parse_age(ds.get("PatientAge")),
        sex={"F": "F", "M": "M"}.get(str(ds.get("PatientSex", "")).upper(), "U"),
        acquired_at=_acquired_at(ds),
        labels=list(dict.fromkeys(labels)),
        identifiers=identifiers,
        source_record=f"{path.name} RHYTHM",
    )
