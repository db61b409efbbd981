"""DICOM 12-Lead ECG / General ECG Waveform Storage: the RHYTHM multiplex group is the exam's signal; a
MEDIAN BEAT (or representative) group is kept apart as the cart's representative beat (Record.beat).

pydicom decodes the multiplexed integers; each channel's sensitivity (x correction factor) in its
sensitivity units gives the microvolts per step, so the integers are stored as they are.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.waveforms.numpy_handler import multiplex_array

from annotations.lib.formats.base import (
    FormatError,
    Limits,
    ReadOptions,
    Record,
    RecordError,
    RepresentativeBeat,
    check_shape,
    device_measurements,
    parse_age,
)
from annotations.lib.formats.inflate import inflated_bytes, refuse_over

name = "dicom"
# Every waveform storage SOP class lives under this root (ECG, hemodynamic, basic voice...). A GE MAC
# files its 12-lead ECGs under Hemodynamic Waveform Storage (…9.2.1): what makes a file an ECG is the
# channel sources of its multiplex group, not its SOP class.
WAVEFORM_SOP_ROOT = "1.2.840.10008.5.1.4.1.1.9."
# ECG lead codes (DICOM CID 3001): SCP-ECG lead codes 5.6.3-9-<n>, and ISO/IEEE 11073 (MDC) partition 2
# ECG lead terms, 2:0 to 2:255 (pressures and other partition-2 measurements lie far above).
_SCPECG_LEAD = "5.6.3-9-"
_MDC_ECG_LEADS = range(0, 256)
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


def _is_ecg_source(source: Dataset) -> bool:
    scheme = str(source.get("CodingSchemeDesignator", "")).strip().upper()
    code = str(source.get("CodeValue", "")).strip()
    if scheme == "SCPECG":
        return code.startswith(_SCPECG_LEAD)
    if scheme == "MDC" and code.startswith("2:"):
        return code[2:].isdigit() and int(code[2:]) in _MDC_ECG_LEADS
    return False


def _source_names(group: Dataset) -> list[str]:
    names = []
    for channel in group.get("ChannelDefinitionSequence") or []:
        sources = channel.get("ChannelSourceSequence") or []
        source = sources[0] if sources else {}
        names.append(str(source.get("CodeMeaning") or source.get("CodeValue") or "no source"))
    return names


def _ecg_channels(group: Dataset) -> list[int]:
    """Indices of the channels of `group` whose source is an ECG lead."""
    return [
        index
        for index, channel in enumerate(group.get("ChannelDefinitionSequence") or [])
        if (sources := channel.get("ChannelSourceSequence")) and _is_ecg_source(sources[0])
    ]


def _rhythm_index(ds: Dataset) -> int:
    """The multiplex group holding the rhythm: among the groups that carry ECG leads, the one labelled
    RHYTHM, else (some devices leave the label out) the longest."""
    groups = list(ds.get("WaveformSequence") or [])
    if not groups:
        raise FormatError("DICOM file has no WaveformSequence")
    ecg = [index for index, group in enumerate(groups) if _ecg_channels(group)]
    if not ecg:
        sources = sorted({name for group in groups for name in _source_names(group)})
        raise FormatError(
            f"DICOM waveform (SOP class {ds.get('SOPClassUID', 'none')}) carries no ECG leads: its channel "
            f"sources are {', '.join(sources[:8]) or 'missing'}"
        )
    for index in ecg:
        if str(groups[index].get("MultiplexGroupLabel", "")).strip().upper() == "RHYTHM":
            return index
    return max(ecg, key=lambda index: int(groups[index].get("NumberOfWaveformSamples") or 0))


_BEAT_LABELS = ("MEDIAN", "REPRESENTATIVE")


def _beat(ds: Dataset, rhythm: int, options: ReadOptions, notes: list[str]) -> RepresentativeBeat | None:
    """A second multiplex group of ECG leads labelled as a median or representative beat, or None. A
    damaged one costs the exam its cart beat, said in the report, never the import of its rhythm."""
    for index, group in enumerate(ds.WaveformSequence):
        label = str(group.get("MultiplexGroupLabel", "") or "").strip()
        if index == rhythm or not any(word in label.upper() for word in _BEAT_LABELS):
            continue
        keep = _ecg_channels(group)
        if not keep:
            continue
        try:
            _check_group(group, label, options)
            channels = [_channel(group.ChannelDefinitionSequence[i]) for i in keep]
            raw = np.asarray(multiplex_array(ds, index, as_raw=True)).T[keep]
        except (FormatError, ValueError) as error:
            notes.append(f"the cart's {label} was not kept: {error}")
            return None
        baselines = np.array([baseline for _, _, baseline in channels])
        return RepresentativeBeat(
            signals=raw.astype(np.float64) - baselines[:, None],
            sampling_rate=float(group.SamplingFrequency),
            lead_names=[channel_name for channel_name, _, _ in channels],
            gain_uv=np.array([gain for _, gain, _ in channels]),
            source=f"DICOM {label}",
        )
    return None


def _check_group(group: Dataset, label: str, options: ReadOptions) -> None:
    """The group's declared channels and samples against its definitions and its WaveformData bytes."""
    for keyword in ("NumberOfWaveformChannels", "NumberOfWaveformSamples", "WaveformBitsAllocated"):
        if group.get(keyword) is None:
            raise FormatError(f"DICOM multiplex group {label} has no {keyword}")
    channels, samples = int(group.NumberOfWaveformChannels), int(group.NumberOfWaveformSamples)
    check_shape(label, channels, samples, options.limits)
    definitions = len(group.get("ChannelDefinitionSequence") or [])
    if definitions != channels:
        raise FormatError(
            f"DICOM multiplex group {label} declares {channels} channels but has {definitions} channel "
            "definitions"
        )
    bits = int(group.WaveformBitsAllocated)
    if bits not in (8, 16, 32):
        raise FormatError(f"DICOM multiplex group {label}: {bits} bits allocated is not supported")
    if group.get("SamplingFrequency") is None or not float(group.SamplingFrequency) > 0:
        raise FormatError(f"DICOM multiplex group {label} has no positive SamplingFrequency")
    if "WaveformData" not in group:
        raise FormatError(f"DICOM multiplex group {label} has no WaveformData")
    held, expected = len(group.WaveformData), channels * samples * bits // 8
    if held != expected:
        raise FormatError(
            f"DICOM multiplex group {label}: WaveformData holds {held} bytes but the group declares "
            f"{channels} channels x {samples} samples of {bits} bits ({expected} bytes)"
        )


def _channel(channel: Dataset) -> tuple[str, float, float]:
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


def _acquired_at(ds: Dataset) -> datetime | None:
    value = str(ds.get("AcquisitionDateTime", "") or "")
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _check_deflated(path: Path, limits: Limits) -> None:
    """pydicom inflates a deflated dataset whole, in memory, before anything can be checked: count what
    it would inflate to first. The deflated part starts after the file meta group (preamble, "DICM",
    the 12-byte group length element, then the length it gives)."""
    try:
        meta = pydicom.filereader.read_file_meta_info(str(path))
    except (InvalidDicomError, OSError, ValueError):
        return  # dcmread refuses it with its own message
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return
    offset = 128 + 4 + 12 + int(meta.get("FileMetaInformationGroupLength", 0))
    try:
        inflated = inflated_bytes(path, offset, None, limits.max_inflated_bytes, raw=True)
    except zlib.error as error:
        raise FormatError(f"deflated DICOM data cannot be inflated ({error})") from None
    refuse_over("deflated DICOM data", inflated, limits)


def _open(path: Path, options: ReadOptions) -> Dataset:
    """The dataset of a waveform file, refused in words when it is not one."""
    _check_deflated(path, options.limits)
    try:
        ds = pydicom.dcmread(str(path))
    except InvalidDicomError:
        # pydicom's own message advises force=True, which nobody importing a file can act on.
        raise FormatError("not a DICOM file: no DICOM preamble and 'DICM' prefix") from None
    except (OSError, ValueError) as error:
        raise FormatError(f"not a readable DICOM file ({error})") from None
    sop = str(ds.get("SOPClassUID", ""))
    if not sop.startswith(WAVEFORM_SOP_ROOT):
        raise FormatError(f"DICOM SOP class {sop or 'none'} is not a waveform (no ECG to read)")
    return ds


def _signals(ds: Dataset, index: int, group: Dataset) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """The ECG leads of the rhythm group as stored integers less their baselines, and each lead's (name,
    gain in microvolts, baseline)."""
    keep = _ecg_channels(group)  # a hemodynamic group may mix ECG leads with pressures: leads only
    channels = [_channel(group.ChannelDefinitionSequence[i]) for i in keep]
    raw = np.asarray(multiplex_array(ds, index, as_raw=True)).T[keep]  # (channels, samples)
    baselines = np.array([baseline for _, _, baseline in channels])
    signals: np.ndarray = raw.astype(np.int64)
    if np.any(baselines != np.rint(baselines)):  # fractional baseline: no exact integers to keep
        signals = raw - baselines[:, None]
    elif baselines.any():
        signals = signals - baselines.astype(np.int64)[:, None]
    return signals, channels


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    ds = _open(path, options)
    index = _rhythm_index(ds)
    group = ds.WaveformSequence[index]
    label = str(group.get("MultiplexGroupLabel", "") or f"#{index + 1}").strip()
    _check_group(group, label, options)
    signals, channels = _signals(ds, index, group)
    identifiers = {key: str(ds.get(key)) for key in _IDENTIFYING if str(ds.get(key, "") or "").strip()}
    statements = [
        str(item.get("UnformattedTextValue") or item.get("TextValue") or "")
        for item in ds.get("WaveformAnnotationSequence") or []
    ]
    # Device interpretation statements (e.g. "RITMO SINUSALE") are uncoded text: kept as reference
    # labels of system 'statement', shown to coordinators only like every reference label.
    labels = [("statement", " ".join(text.split())) for text in statements if text.strip()]
    notes: list[str] = []
    beat = _beat(ds, index, options, notes)
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
        source_record=f"{path.name} {label}",
        device_measurements=_measurements(ds),
        beat=beat,
        notes=notes,
    )


# Numeric waveform annotations (the cart's global measurements) -> DEVICE_MEASUREMENTS keys, by their SCP-ECG
# concept codes (DICOM PS3.16, CID 3250 and neighbours), the rate also by its meaning, as carts differ.
_MEASUREMENT_CODES = {
    ("SCPECG", "5.10.2.1-3"): "rr_ms",
    ("SCPECG", "5.13.5-7"): "pr_ms",
    ("SCPECG", "5.13.5-9"): "qrs_ms",
    ("SCPECG", "5.13.5-11"): "qt_ms",
    ("SCPECG", "5.10.2.5-5"): "qtc_ms",
    ("SCPECG", "5.10.3-11"): "p_axis_deg",
    ("SCPECG", "5.10.3-13"): "qrs_axis_deg",
    ("SCPECG", "5.10.3-15"): "t_axis_deg",
}
_MEASUREMENT_MEANINGS = {"heart rate": "heart_rate_bpm", "ventricular heart rate": "heart_rate_bpm"}


def _measurements(ds: Dataset) -> dict[str, float]:
    values: dict[str, object] = {}
    for item in ds.get("WaveformAnnotationSequence") or []:
        names = item.get("ConceptNameCodeSequence") or []
        if not names or item.get("NumericValue") is None:
            continue
        name = names[0]
        code = (str(name.get("CodingSchemeDesignator", "")), str(name.get("CodeValue", "")))
        meaning = str(name.get("CodeMeaning", "")).lower()
        key = _MEASUREMENT_CODES.get(code) or _MEASUREMENT_MEANINGS.get(meaning)
        value = item.NumericValue
        if key and key not in values:  # the first of each, should a cart repeat one
            values[key] = value[0] if isinstance(value, MultiValue) else value
    return device_measurements(values)
