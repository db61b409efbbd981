"""EDF and EDF+ (continuous, EDF+C) recordings, read with the maintained `edfio` package (Apache-2.0).

EDF is how many Holter, polysomnography and research systems export ECGs. Before `edfio` reads anything,
the fixed header is checked against the file: its header length against its signal count, and the byte
count its data records declare against the bytes the file holds (a truncated or padded file is refused,
never read short). Signals in a voltage unit (uV, mV, V) are the leads; others (respiration, SpO2...) and
EDF+ annotations are left out. Discontinuous EDF+D files are refused: their gaps have no place in a
single tracing. Samples are stored as physical millivolts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from annotations.lib.formats.base import FormatError, ReadOptions, Record, RecordError, check_shape, parse_sex

if TYPE_CHECKING:  # edfio is imported when a file is read, not when the format list is
    from edfio import Edf

name = "edf"
MAGIC = b"0       "
_UNIT_MV = {"uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "mv": 1.0, "v": 1000.0}
_LEAD_PREFIX = re.compile(r"^\s*(ecg|ekg)[\s_-]*", re.I)
_SIGNAL_FIELDS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)  # label ... samples per record, reserved


def is_edf(head: bytes) -> bool:
    return head.startswith(MAGIC) and len(head) >= 256 and head[184:192].strip().isdigit()


def count(path: Path, options: ReadOptions) -> int:
    return 1


def _field(raw: bytes, what: str) -> int:
    text = raw.decode("ascii", errors="replace").strip()
    try:
        return int(text)
    except ValueError:
        raise FormatError(f"EDF header: {what} {text!r} is not a whole number") from None


def _check_header(path: Path, options: ReadOptions) -> None:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(256)
        if len(head) < 256:
            raise FormatError(f"EDF header is truncated ({size} bytes, a header needs 256)")
        header_bytes = _field(head[184:192], "header length")
        records = _field(head[236:244], "number of data records")
        signals = _field(head[252:256], "number of signals")
        if head[192:197] == b"EDF+D":
            raise FormatError("EDF+D (discontinuous) recordings are not supported; export it as EDF+C")
        if signals < 1 or signals > options.limits.max_signals:
            raise FormatError(f"EDF header declares {signals} signals (limit {options.limits.max_signals})")
        if header_bytes != 256 * (signals + 1):
            raise FormatError(
                f"EDF header length is {header_bytes} bytes but {signals} signals need {256 * (signals + 1)}"
            )
        rest = handle.read(header_bytes - 256)
    if len(rest) < header_bytes - 256:
        raise FormatError(f"EDF header is truncated ({size} bytes, its header declares {header_bytes})")
    offset = signals * sum(_SIGNAL_FIELDS[:8])
    per_record = [
        _field(rest[offset + 8 * i : offset + 8 * i + 8], "samples per record") for i in range(signals)
    ]
    if records < 1 or any(n < 1 for n in per_record):
        raise FormatError(f"EDF header declares {records} data records of {per_record} samples")
    expected = header_bytes + records * sum(per_record) * 2
    if size != expected:
        raise FormatError(
            f"EDF file holds {size} bytes but its header declares {records} data records of "
            f"{sum(per_record)} samples ({expected} bytes): truncated or lying header"
        )


def _lead_name(label: str) -> str:
    return _LEAD_PREFIX.sub("", label).strip() or label.strip()


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    # edfio loads with the first EDF read: detect.py imports this module to sniff every upload.
    import edfio

    _check_header(path, options)
    try:
        edf = edfio.read_edf(path)
    except Exception as error:  # edfio raises ValueError and others on malformed files
        raise FormatError(f"EDF file cannot be read ({type(error).__name__}: {error})") from None
    leads = [signal for signal in edf.signals if signal.physical_dimension.strip().lower() in _UNIT_MV]
    if not leads:
        units = sorted({signal.physical_dimension.strip() or "none" for signal in edf.signals})
        raise FormatError(f"EDF file has no signal in a voltage unit (units: {', '.join(units) or 'none'})")
    rates = {float(signal.sampling_frequency) for signal in leads}
    if len(rates) != 1:
        raise FormatError(f"EDF voltage signals are sampled at different rates ({sorted(rates)} Hz)")
    rate = rates.pop()
    lengths = {len(signal.data) for signal in leads}
    if len(lengths) != 1:
        raise FormatError("EDF voltage signals are of different lengths")
    check_shape("EDF", len(leads), lengths.pop(), options.limits)
    signals = np.stack(
        [signal.data * _UNIT_MV[signal.physical_dimension.strip().lower()] for signal in leads]
    )
    patient = edf.patient
    try:
        sex = parse_sex({"F": "female", "M": "male"}.get(patient.sex, ""))
    except Exception:  # plain EDF: the patient field is free text
        sex = "U"
    try:
        acquired_at = datetime.combine(edf.startdate, edf.starttime)
    except Exception:  # anonymised EDF+ start date ("X")
        acquired_at = None
    yield Record(
        external_id=path.stem,
        signals=signals,
        gain_uv=None,
        sampling_rate=rate,
        lead_names=[_lead_name(signal.label) for signal in leads],
        sex=sex,
        acquired_at=acquired_at,
        identifiers=_identifiers(edf),
        source_record=path.name,
    )


def _identifiers(edf: Edf) -> dict[str, str]:
    """The local patient and recording fields, unless they hold only EDF+'s "unknown" placeholders."""
    found = {
        "patient": str(edf.local_patient_identification).strip(),
        "recording": str(edf.local_recording_identification).strip(),
    }
    return {
        key: value
        for key, value in found.items()
        if value and value.upper() not in {"X", "X X X X", "STARTDATE X X X X"}
    }
