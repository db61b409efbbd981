"""PhysioNet WFDB records (.hea + .dat/.mat, any number of signal files), and PTB-XL folders.

wfdb reads the samples; this module checks first what wfdb trusts: that every signal file the header
names stays in the record's folder, that declared sizes are within limits, and that each signal file
holds exactly the samples the header declares (wfdb would silently pad or truncate).
"""

from __future__ import annotations

import ast
import math
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import wfdb

from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    check_record_count,
    check_shape,
    metadata_rows,
    parse_age,
    parse_sex,
    safe_member,
)

name = "wfdb"
# Bytes per sample of the WFDB storage formats wfdb reads (212: 3 bytes per 2 samples, 310/311: 4 per 3).
_BYTES_PER_SAMPLE = {
    "8": 1,
    "16": 2,
    "61": 2,
    "80": 1,
    "160": 2,
    "24": 3,
    "32": 4,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}
_UNIT_UV = {
    "mv": 1000.0,
    "uv": 1.0,
    "µv": 1.0,
    "microvolts": 1.0,
    "millivolts": 1000.0,
    "v": 1e6,
    "nv": 1e-3,
    "": 1000.0,
}
_DX = re.compile(r"^\s*dx\s*:\s*(.*)$", re.I)
_AGE = re.compile(r"^\s*age\s*:\s*(.*)$", re.I)
_SEX = re.compile(r"^\s*sex\s*:\s*(.*)$", re.I)
# The PTB Diagnostic ECG Database dates its records only in a comment, day first ("# ECG date: 01/10/1990":
# the same record's infarction is "29-Sep-90" and its catheterisation "16-Oct-90").
_ECG_DATE = re.compile(r"^\s*ecg date\s*:\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$", re.I)


def count(path: Path, options: ReadOptions) -> int:
    return 1


_MAX_HEADER_BYTES = 1024 * 1024


def _check_signal_file_names(header_path: Path) -> None:
    """Signal file names must stay in the record's folder; checked on the text, before wfdb parses it."""
    if header_path.stat().st_size > _MAX_HEADER_BYTES:
        raise FormatError(f"WFDB header {header_path.name} is over {_MAX_HEADER_BYTES // 1024} KiB")
    lines = [
        line
        for line in header_path.read_text(encoding="latin-1").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for line in lines[1:]:
        file_name = line.split()[0]
        try:
            safe_member(header_path.parent, file_name)
        except FormatError as error:
            raise FormatError(f"WFDB header {header_path.name}: signal file {error}") from None


def _header(path: Path, options: ReadOptions) -> tuple[Any, Path]:
    header_path = path if path.suffix == ".hea" else path.with_suffix(".hea")
    if header_path.is_file():
        _check_signal_file_names(header_path)
    try:
        header = wfdb.rdheader(str(header_path.with_suffix("")))
    except FileNotFoundError:
        raise FormatError(f"WFDB header {header_path.name} not found") from None
    except Exception as error:  # wfdb raises bare ValueErrors and others on malformed headers
        raise FormatError(f"WFDB header {header_path.name} cannot be parsed ({error})") from None
    if isinstance(header, wfdb.MultiRecord) or getattr(header, "seg_name", None):
        raise FormatError("multi-segment WFDB records are not supported")
    if header.sig_len is None:
        raise FormatError("WFDB header declares no sample count")
    check_shape(header.record_name, header.n_sig, header.sig_len, options.limits)
    return header, header_path.parent


def _check_signal_files(header: Any, folder: Path) -> None:
    """Each signal file inside the folder and exactly as long as the header says."""
    per_file: dict[str, list[int]] = {}
    for index, file_name in enumerate(header.file_name):
        per_file.setdefault(file_name, []).append(index)
    for file_name, indices in per_file.items():
        try:
            file_path = safe_member(folder, file_name)
        except FormatError as error:
            raise FormatError(f"WFDB header {error}") from None
        if not file_path.is_file():
            raise FormatError(f"signal file {file_name} named by the header is missing")
        fmt = header.fmt[indices[0]]
        if file_path.stat().st_size == 0:
            raise FormatError(f"signal file {file_name} named by the header is empty (0 bytes)")
        if fmt not in _BYTES_PER_SAMPLE:
            raise FormatError(f"signal file {file_name}: WFDB format {fmt} is not supported")
        frames = sum(int(header.samps_per_frame[i] or 1) for i in indices)
        offset = int(header.byte_offset[indices[0]] or 0)
        expected = offset + math.ceil(header.sig_len * frames * _BYTES_PER_SAMPLE[fmt])
        actual = file_path.stat().st_size
        if file_path.suffix.lower() == ".mat":
            _check_mat_v4(file_path, offset, len(indices), header.sig_len)
        if actual != expected:
            raise FormatError(
                f"signal file {file_name} holds {actual} bytes but the header declares "
                f"{header.sig_len} samples of {frames} signal(s) in format {fmt} ({expected} bytes): "
                "the sample count does not match the data"
            )


def _check_mat_v4(file_path: Path, offset: int, n_signals: int, n_samples: int) -> None:
    """A MATLAB v4 signal file (PhysioNet/CinC .mat) carries its own matrix shape, rows = signals and
    columns = samples: it must agree with the header, or the samples would be read into the wrong leads
    (11 rows under 12 declared leads holds the same bytes and shifts every lead)."""
    if offset < 20:
        return  # no room for a MAT v4 header: the file is raw samples
    with open(file_path, "rb") as handle:
        head = handle.read(20)
    if head.startswith(b"MATLAB 5.0"):
        raise FormatError(f"signal file {file_path.name} is a MATLAB v5 file; WFDB reads MATLAB v4 only")
    kind, rows, columns, imaginary, name_length = struct.unpack("<5i", head)
    if not (0 <= kind < 5000 and kind % 10 == 0 and imaginary in (0, 1) and 0 < name_length <= 64):
        return  # not a MAT v4 header (a raw file with a byte offset): the size check decides
    if 20 + name_length != offset:
        raise FormatError(
            f"signal file {file_path.name}: its MAT v4 header ends at byte {20 + name_length}, the .hea "
            f"says the samples start at byte {offset}"
        )
    if (rows, columns) != (n_signals, n_samples):
        raise FormatError(
            f"signal file {file_path.name}: its MAT v4 header says {rows} x {columns} (rows x columns), the "
            f".hea declares {n_signals} signals x {n_samples} samples"
        )


def _comments(comments: list[str]) -> tuple[int | None, str, list[tuple[str, str]], list[str]]:
    """Age, sex and SNOMED `# Dx:` codes from header comments; everything else is free text."""
    age, sex = None, "U"
    labels: list[tuple[str, str]] = []
    free: list[str] = []
    for line in comments:
        if match := _DX.match(line):
            labels.extend(("snomed", code.strip()) for code in match.group(1).split(",") if code.strip())
        elif match := _AGE.match(line):
            age = parse_age(match.group(1))
        elif match := _SEX.match(line):
            sex = parse_sex(match.group(1))
        elif line.strip():
            free.append(line.strip())
    return age, sex, labels, free


def _gains_uv(header: Any) -> np.ndarray:
    gains = []
    for index, adc_gain in enumerate(header.adc_gain):
        unit = (header.units[index] or "").strip().lower()
        if unit not in _UNIT_UV:
            raise FormatError(
                f"signal {header.sig_name[index]}: unit {header.units[index]!r} is not a voltage"
            )
        if not adc_gain:
            adc_gain = 200.0  # the WFDB default when a header gives none
        gains.append(_UNIT_UV[unit] / float(adc_gain))
    return np.asarray(gains)


def _acquired_at(header: Any) -> datetime | None:
    if header.base_date is not None and header.base_time is not None:
        return datetime.combine(header.base_date, header.base_time)
    for line in header.comments or []:
        if match := _ECG_DATE.match(line):
            day, month, year = map(int, match.groups())
            try:
                return datetime(year, month, day)  # the day only: its time is not known
            except ValueError:
                return None
    return None


@contextmanager
def _record_line_readable(path: Path) -> Iterator[tuple[Path, list[str]]]:
    """The header to read, and what was done to it. The Georgia set (PhysioNet/CinC 2020) writes its
    record line as `E00015.mat 12 500 5000`: a record name wfdb's parser refuses, so the header and its
    signal files are copied to a temporary folder with the record line naming `E00015`, and read there."""
    header_path = path if path.suffix == ".hea" else path.with_suffix(".hea")
    if not header_path.is_file() or header_path.stat().st_size > _MAX_HEADER_BYTES:
        yield path, []
        return
    text = header_path.read_text(encoding="latin-1")
    quirk = re.compile(rf"^(\s*){re.escape(header_path.stem)}\.mat(?=\s)", re.MULTILINE)
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    first = lines[0] if lines else ""
    if not quirk.match(first):
        yield path, []
        return
    _check_signal_file_names(header_path)
    with tempfile.TemporaryDirectory(prefix="wfdb-record-line-") as folder:
        fixed = Path(folder) / header_path.name
        fixed.write_text(quirk.sub(rf"\g<1>{header_path.stem}", text, count=1), encoding="latin-1")
        for line in lines[1:]:
            name = line.split()[0]
            if (header_path.parent / name).is_file() and not (Path(folder) / name).exists():
                shutil.copyfile(header_path.parent / name, Path(folder) / name)
        yield (
            fixed,
            [
                f"the WFDB record line names {header_path.stem}.mat (as the Georgia set's headers do); "
                f"read as record {header_path.stem}"
            ],
        )


def read_record(path: Path, options: ReadOptions, *, external_id: str | None = None) -> Record:
    with _record_line_readable(path) as (readable, notes):
        record = _read_record(readable, options, external_id=external_id)
    record.notes.extend(notes)
    return record


def _read_record(path: Path, options: ReadOptions, *, external_id: str | None = None) -> Record:
    header, folder = _header(path, options)
    _check_signal_files(header, folder)
    try:
        record = wfdb.rdrecord(str(folder / header.record_name), physical=False, return_res=32)
    except Exception as error:
        raise FormatError(f"WFDB record {header.record_name} cannot be read ({error})") from None
    digital = np.asarray(record.d_signal).T  # (signals, samples)
    if digital.shape != (header.n_sig, header.sig_len):
        raise FormatError(
            f"WFDB record {header.record_name}: read {digital.shape}, header declares "
            f"({header.n_sig}, {header.sig_len})"
        )
    baseline = np.asarray(record.baseline, dtype=np.int64)[:, None]
    age, sex, labels, free = _comments(list(header.comments or []))
    identifiers = {"header_comments": "\n".join(free)} if free else {}
    return Record(
        external_id=external_id or header.record_name,
        signals=digital.astype(np.int64) - baseline,
        gain_uv=_gains_uv(header),
        sampling_rate=float(header.fs),
        lead_names=[str(n) for n in header.sig_name],
        age=age,
        sex=sex,
        acquired_at=_acquired_at(header),
        labels=labels,
        identifiers=identifiers,
        source_record=header.record_name,
    )


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    yield read_record(path, options)


class PtbXl:
    """A PTB-XL folder: ptbxl_database.csv plus the records its filename_hr/filename_lr columns name."""

    name = "ptbxl"

    @staticmethod
    def _rows(path: Path, options: ReadOptions) -> list[dict[str, str]]:
        database = options.metadata or path / "ptbxl_database.csv"
        # utf-8-sig: a table saved from a spreadsheet starts with a byte order mark, which would
        # otherwise become part of the first column's name.
        with open(database, newline="", encoding="utf-8-sig") as handle:
            rows = list(metadata_rows(handle))
        check_record_count(len(rows), options.limits)
        if rows and "ecg_id" not in rows[0]:
            raise FormatError(f"{database.name} has no ecg_id column")
        return rows

    def count(self, path: Path, options: ReadOptions) -> int:
        return len(self._rows(path, options))

    @staticmethod
    def _record_path(folder: Path, row: dict[str, str]) -> Path:
        """The 500 Hz record when it is there, else the 100 Hz one; both must stay inside the folder.
        Each is looked for where the database puts it (records500/00000/00001_hr), then beside the
        database (00001_hr): a browser uploads a chosen folder's files without their folders, and
        PTB-XL's record names are unique across its folders."""
        named = (row.get("filename_hr") or "", row.get("filename_lr") or "")
        candidates = [name for name in named if name.strip()]
        checked = [safe_member(folder, name + ".hea") for name in candidates]
        checked += [folder / path.name for path in checked]
        for candidate in checked:
            if candidate.is_file():
                return candidate
        raise FormatError(f"none of the record files {candidates} exist")

    def read(self, path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
        for row in self._rows(path, options):
            ecg_id = (row.get("ecg_id") or "").strip()
            try:
                record = read_record(self._record_path(path, row), options, external_id=ecg_id)
            except FormatError as error:
                yield RecordError(ecg_id, str(error))
                continue
            record.labels = [*record.labels, *_scp_codes(row.get("scp_codes") or "", ecg_id)]
            if "scp_codes" in row:  # an empty dict is a reading that found none of PTB-XL's statements
                record.label_coverage = (*record.label_coverage, "ptbxl")
            record.age = parse_age(row.get("age")) if row.get("age") else record.age
            sex = (row.get("sex") or "").strip()
            record.sex = {"0": "M", "0.0": "M", "1": "F", "1.0": "F"}.get(sex, record.sex)
            record.patient_id = (row.get("patient_id") or "").strip().removesuffix(".0").removesuffix(",0")
            if row.get("recording_date"):
                record.acquired_at = _parse_datetime(row["recording_date"]) or record.acquired_at
            free = {key: row[key] for key in ("report", "nurse", "site", "device") if row.get(key)}
            record.identifiers = {**record.identifiers, **free}
            yield record


def _scp_codes(text: str, ecg_id: str) -> list[tuple[Any, ...]]:
    """PTB-XL's scp_codes column is a Python dict literal {code: likelihood}; literal_eval, never eval."""
    if not text.strip():
        return []
    if len(text) > 4000:  # literal_eval of a huge or deeply nested literal can exhaust the parser
        raise FormatError(f"ecg_id {ecg_id}: scp_codes is implausibly long ({len(text)} characters)")
    try:
        codes = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise FormatError(f"ecg_id {ecg_id}: scp_codes {text[:60]!r} is not a dict of codes") from None
    if not isinstance(codes, dict):
        raise FormatError(f"ecg_id {ecg_id}: scp_codes is not a dict of codes")
    return [("ptbxl", str(code), _likelihood(value)) for code, value in codes.items()]


def _likelihood(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


ptbxl = PtbXl()
