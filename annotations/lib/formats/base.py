"""The common interface of the format readers.

A reader is a module-level object with `name`, `count(path, options)` and `read(path, options)`. `read`
yields one `Record` per exam, or a `RecordError` for one record it could not read while the rest of the
file is fine (the service decides whether that fails the file or, with skip-invalid, is reported).
Problems with the file as a whole (hostile structure, limits, unreadable) raise `FormatError`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np

from annotations.lib.ecg.leads import (
    STANDARD_LEADS,
    LeadError,
    arrange_leads,
    canonical_lead_name,
    leads_doubled,
)


class FormatError(ValueError):
    """The file cannot be imported at all; the message says why (the service adds the file name)."""


@dataclass(frozen=True)
class Limits:
    """Hard limits checked against what a file *declares*, before anything large is read."""

    max_file_bytes: int = 2048 * 1024 * 1024
    # XML formats (aECG, MUSE, Philips): text is ~5x larger than the samples it holds, and a real
    # 10 s 12-lead export is under 1 MB, so XML gets its own, smaller ceiling.
    max_xml_bytes: int = 64 * 1024 * 1024
    # What a compressed container that is inflated whole may inflate to (a deflated DICOM dataset): a
    # 10 s 12-lead waveform is ~120 kB, so a file that inflates past this is refused before parsing.
    max_inflated_bytes: int = 256 * 1024 * 1024
    max_samples_per_lead: int = 10_000_000
    max_signals: int = 64
    max_records_per_file: int = 5_000_000


@dataclass(frozen=True)
class ReadOptions:
    limits: Limits = field(default_factory=Limits)
    metadata: Path | None = None  # exams.csv (CODE) or ptbxl_database.csv (PTB-XL)
    amplitude_scale: float = 1.0  # CODE HDF5 only: multiply the stored values (published files are ~2x)
    chunk_bytes: int = 8 * 1024 * 1024  # how much of a multi-record file is held in memory at once


@dataclass
class RepresentativeBeat:
    """The cart's representative beat (GE's median, Philips' mean beat, aECG's and DICOM's derived series,
    SCP-ECG's section 5 reference beat), as the file stores it: (leads, samples) integers of gain_uv
    microvolts per step (one value or one per lead). `source` is what the file calls it, for provenance."""

    signals: np.ndarray
    sampling_rate: float
    lead_names: list[str]
    gain_uv: float | np.ndarray
    source: str

    def standard_uv(self) -> dict[str, list[int]] | None:
        """The 12 standard leads in whole microvolts (the limb leads a cart left out derived from I and
        II, as for the rhythm), or None when the beat cannot give them (a lead missing, lengths that
        differ, a rate or a sample that is not a finite number): a beat is shown only whole."""
        signals = np.asarray(self.signals)
        if signals.ndim != 2 or signals.shape[1] < 2 or signals.shape[0] != len(self.lead_names):
            return None
        if not (math.isfinite(self.sampling_rate) and self.sampling_rate > 0):
            return None
        gain = np.broadcast_to(np.asarray(self.gain_uv, dtype=np.float64), (signals.shape[0],))
        microvolts = signals.astype(np.float64) * gain[:, None]
        if not np.isfinite(microvolts).all():
            return None
        try:
            arranged, names, _ = arrange_leads(list(self.lead_names), microvolts)
        except LeadError:
            return None
        return {
            name: [round(float(v)) for v in row] for name, row in zip(names[:12], arranged[:12], strict=True)
        }


@dataclass
class Record:
    """One exam as read from a file, before storage.

    signals: (signals, samples); the 12 standard leads first in standard order, extra signals after
    (see `standardized`). Either float millivolts (gain_uv None) or integers with gain_uv microvolts
    per step (one value, or one per signal).
    """

    external_id: str
    signals: np.ndarray
    sampling_rate: float
    lead_names: list[str]
    gain_uv: float | np.ndarray | None = None
    age: int | None = None
    sex: str = "U"  # F, M or U
    acquired_at: datetime | None = None
    patient_id: str = ""
    # (code_system, code) pairs, or (code_system, code, likelihood) where the source grades them (PTB-XL).
    labels: list[tuple[Any, ...]] = field(default_factory=list)
    # What the source gave a value for, present or absent: "system:code" (a CODE label column filled in
    # with 0 or 1) or "system" (PTB-XL's scp_codes, a reading against its whole vocabulary). A code covered
    # and not in `labels` is absent, even when the record has no label at all.
    label_coverage: tuple[str, ...] = ()
    identifiers: dict[str, str] = field(default_factory=dict)
    source_record: str = ""
    # The recording device's own global measurements, by the keys of DEVICE_MEASUREMENTS.
    device_measurements: dict[str, float] = field(default_factory=dict)
    # The cart's representative beat, where the file carries one (kept for the blind reader's panel).
    beat: RepresentativeBeat | None = None
    # What the reader adjusted to make the file's data consistent, said in the import report beside the
    # created record (a 0-based sample span, a trailing calibration pulse trimmed).
    notes: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[1])


class RecordError(Exception):
    """One record of a file could not be read; `record` names it and `reason` says why."""

    def __init__(self, record: str, reason: str) -> None:
        super().__init__(f"record {record}: {reason}")
        self.record = record
        self.reason = reason


class RecordSkipped(RecordError):
    """A record left out on purpose (e.g. an all-zero padding tracing): reported, never fails the file."""


class Reader(Protocol):
    name: str

    def count(self, path: Path, options: ReadOptions) -> int: ...

    def read(self, path: Path, options: ReadOptions) -> Iterator[Record | RecordError]: ...


def standardized(record: Record) -> Record:
    """Leads in standard order with missing limb leads derived; checks shape, values and rate.

    Raises RecordError naming the record. Integer samples whose augmented leads had to be derived come
    back doubled, with the gain halved, so they stay exact.
    """
    where = record.external_id
    signals = np.asarray(record.signals)
    if signals.ndim != 2 or signals.shape[1] == 0:
        raise RecordError(where, f"signals must be (signals, samples) with samples, got {signals.shape}")
    if not (math.isfinite(record.sampling_rate) and record.sampling_rate > 0):
        raise RecordError(where, f"sampling rate {record.sampling_rate!r} is not a positive number")
    if np.issubdtype(signals.dtype, np.floating) and not np.isfinite(signals).all():
        raise RecordError(where, "NaN or infinite samples")
    if tuple(record.lead_names) == STANDARD_LEADS:  # already standard (CODE HDF5): nothing to arrange
        record.signals = signals
        return record
    try:
        arranged, names, derived = arrange_leads(list(record.lead_names), signals)
    except LeadError as error:
        raise RecordError(where, str(error)) from None
    gain = record.gain_uv
    if gain is not None and np.ndim(gain) > 0:
        per_signal = dict(zip(record.lead_names, np.asarray(gain, dtype=np.float64), strict=True))
        try:
            gain = _gains_in_order(per_signal, names, derived)
        except LeadError as error:
            raise RecordError(where, str(error)) from None
    if gain is not None and leads_doubled(signals.dtype, derived):
        gain = np.asarray(gain, dtype=np.float64) / 2
    record.signals, record.lead_names, record.gain_uv = arranged, names, gain
    return record


def _gains_in_order(per_signal: dict[str, float], names: list[str], derived: list[str]) -> np.ndarray:
    """Per-signal gains rearranged like the signals; derived leads need I and II on one gain."""
    by_name = {canonical_lead_name(name) or name.strip(): gain for name, gain in per_signal.items()}
    if derived and by_name["I"] != by_name["II"]:
        raise LeadError("leads I and II have different gains; cannot derive the limb leads exactly")
    return np.array([by_name.get(name, by_name.get("I")) for name in names], dtype=np.float64)


# How far back from the end the calibration block is looked for: 1-2 s at the highest rates carts use.
CALIBRATION_WINDOW = 8192


def calibration_tail_start(signals: np.ndarray, pulse_counts: float | np.ndarray) -> int:
    """Where a cart's trailing calibration block begins (zeros on every lead, a pulse of exactly 1 mV,
    `pulse_counts` per lead, zeros again), or the full length when there is none. Philips carts append it
    to each 11-s buffer and some aECG writers keep it; it is no part of the patient's ECG. Only the last
    CALIBRATION_WINDOW samples are examined, so a long record costs no copy of itself."""
    n: int = signals.shape[1]
    offset = max(0, n - CALIBRATION_WINDOW)
    tail = signals[:, offset:]
    pulse = np.broadcast_to(np.asarray(pulse_counts, dtype=float), (signals.shape[0],))
    flat = np.all(tail == 0, axis=0)
    at_pulse = np.all(np.abs(tail - pulse[:, None]) <= 0.5, axis=0)
    end: int = tail.shape[1]
    while end > 0 and flat[end - 1]:
        end -= 1
    pulse_end = end
    while end > 0 and at_pulse[end - 1]:
        end -= 1
    if pulse_end - end < 10 or end == 0 or not flat[end - 1]:
        return n
    while end > 0 and flat[end - 1]:
        end -= 1
    return offset + end


def calibration_tail_note(samples: int, rate: float) -> str:
    seconds = samples / rate
    return f"the trailing 1 mV calibration pulse and the zeros around it ({seconds:.2f} s) were trimmed"


def check_shape(where: str, n_signals: int, n_samples: int, limits: Limits) -> None:
    """Refuse declared sizes beyond the configured limits, before reading the samples."""
    if n_signals > limits.max_signals:
        raise FormatError(
            f"{where}: declares {n_signals} signals, more than the limit of {limits.max_signals}"
        )
    if n_samples > limits.max_samples_per_lead:
        raise FormatError(
            f"{where}: declares {n_samples} samples per lead, more than the limit of "
            f"{limits.max_samples_per_lead}"
        )
    if n_signals < 1 or n_samples < 1:
        raise FormatError(f"{where}: declares {n_signals} signals of {n_samples} samples")


def check_record_count(n_records: int, limits: Limits) -> None:
    if n_records > limits.max_records_per_file:
        raise FormatError(
            f"declares {n_records} records, more than the limit of {limits.max_records_per_file}"
        )


def safe_member(folder: Path, name: str) -> Path:
    """A file named inside an archive or header, which must stay inside `folder` (no '..', no absolute)."""
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts or name.strip() == "":
        raise FormatError(f"refers to {name!r}, which points outside its folder")
    resolved = (folder / candidate).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise FormatError(f"refers to {name!r}, which points outside its folder")
    return resolved


def csv_delimiter(header: str) -> str:
    """The separator a CSV table's header line uses most, of comma, semicolon and tab (comma if none): a
    spreadsheet in a language with a decimal comma (Portuguese, German...) saves "CSV" with semicolons,
    and a table passed through one must not be refused for having a single column."""
    delimiter = max((",", ";", "\t"), key=header.count)
    return delimiter if header.count(delimiter) else ","


def metadata_rows(handle: TextIO) -> csv.DictReader[str]:
    """The rows of a metadata table (CODE's exams.csv, PTB-XL's database) by column name, separated as
    its header is (csv_delimiter). The handle is opened with newline="" (and utf-8-sig)."""
    header = handle.readline()
    handle.seek(0)
    return csv.DictReader(handle, delimiter=csv_delimiter(header))


# Where the readers keep a birth date among a record's identifiers (by the file's own field names for
# DICOM and MUSE), and the ways the formats write one: HL7 TS and DICOM DA (YYYYMMDD[hhmmss]), ISO 8601
# (Philips), MM-DD-YYYY (MUSE).
BIRTH_DATE_KEYS = ("birth_date", "PatientBirthDate", "DateofBirth")
_BIRTH_DATE_FORMATS = (("%Y%m%d", 8), ("%Y-%m-%d", 10), ("%m-%d-%Y", 10), ("%m/%d/%Y", 10))


def _birth_date(text: str) -> date | None:
    text = text.strip()
    for pattern, width in _BIRTH_DATE_FORMATS:
        try:
            return datetime.strptime(text[:width], pattern).date()
        except ValueError:
            continue
    return None


def age_from_birth(identifiers: dict[str, str], acquired_at: datetime | None) -> int | None:
    """Whole years from the birth date among `identifiers` to the exam's date: what a file that gives no
    age (CalECG aECG, Philips PageWriter) still says of it. None without both dates, or if implausible."""
    if acquired_at is None:
        return None
    text = next((identifiers[key] for key in BIRTH_DATE_KEYS if identifiers.get(key)), None)
    born = _birth_date(text) if text else None
    if born is None:
        return None
    on = acquired_at.date()
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return years if 0 <= years <= 130 else None


def parse_age(value: object) -> int | None:
    """An age in years from whatever a header holds ('56', 56.0, '042Y', '56,0', 'NaN'); None if
    implausible."""
    if value is None:
        return None
    text = str(value).strip().upper().rstrip("Y")
    if "," in text and "." not in text:  # a decimal comma, as a spreadsheet in Portuguese writes it
        text = text.replace(",", ".", 1)
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0 or number > 130:
        return None
    return int(number)


def parse_sex(value: object) -> str:
    text = str(value or "").strip().lower()
    if text in {"f", "female", "woman"}:
        return "F"
    if text in {"m", "male", "man"}:
        return "M"
    return "U"


# The global measurements a cart prints on its ECG and writes into its file (GE MUSE, DICOM, Philips), by
# the keys the measurement provider uses: key -> (the plausible range, both ends included). A value outside
# it is how devices write "not measured" (0, 999, -1) and is dropped rather than shown as a measurement.
# qtc_ms is the device's QTc by its own configured formula, which the files do not always name.
DEVICE_MEASUREMENTS: dict[str, tuple[float, float]] = {
    "heart_rate_bpm": (10, 400),
    "atrial_rate_bpm": (10, 600),
    "rr_ms": (150, 6000),
    "pr_ms": (40, 600),
    "qrs_ms": (20, 400),
    "qt_ms": (100, 900),
    "qtc_ms": (100, 900),
    "qtc_bazett_ms": (100, 900),
    "qtc_fridericia_ms": (100, 900),
    "p_axis_deg": (-180, 360),
    "qrs_axis_deg": (-180, 360),
    "t_axis_deg": (-180, 360),
}


def device_measurements(values: Mapping[str, object]) -> dict[str, float]:
    """The plausible numbers among a file's measurement fields ({key: text or number}), axes folded into
    -180..180 as the cart prints them; blanks, text and out-of-range values are left out."""
    out: dict[str, float] = {}
    for key, raw in values.items():
        try:
            value = float(str(raw).strip().replace(",", "."))
        except ValueError:
            continue
        low, high = DEVICE_MEASUREMENTS[key]
        if not (math.isfinite(value) and low <= value <= high) or (value == 0 and not key.endswith("_deg")):
            continue
        if key.endswith("_deg") and value > 180:
            value -= 360
        out[key] = int(value) if value.is_integer() else value
    return out
