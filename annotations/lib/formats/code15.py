"""CODE-15% / CODE-test HDF5: `tracings` (N, 4096, 12) at 400 Hz, `exam_id` (N) or, when the file has
none (CODE-test), row i as exam id i; metadata in exams.csv.

The tracings are zero-padded to 4096 samples (centred); the padding is stripped and the true duration
recorded. All-zero tracings (CODE-15% ends each part with one) are reported and skipped. The published
files' amplitudes are about twice too large: ReadOptions.amplitude_scale says what to multiply by.

Speed matters here (hundreds of thousands of exams): the file is read in chunks of whole exams and
quantised per chunk with numpy, so records come out as int16 + gain, and memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.waveform import quantize_batch_mv
from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    RecordSkipped,
    check_record_count,
    check_shape,
    metadata_rows,
    parse_age,
)

name = "code15"
SAMPLING_RATE = 400.0
LABEL_COLUMNS = ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")
NORMAL_COLUMN = "normal_ecg"
# Booleans as pandas writes them, and as a spreadsheet in Portuguese (Brazil) saves them.
_TRUE = {"true", "1", "1.0", "yes", "verdadeiro"}
_FALSE = {"false", "0", "0.0", "falso"}


def _refuse_links_and_external_data(group: h5py.Group, where: str = "") -> None:
    """Walk the file by hard links only, refusing anything that would make h5py open another file."""
    for key in group:
        link = group.get(key, getlink=True)
        path = f"{where}/{key}"
        if isinstance(link, h5py.ExternalLink):
            raise FormatError(f"HDF5 external link {path} -> {link.filename}:{link.path} is refused")
        if isinstance(link, h5py.SoftLink):
            raise FormatError(f"HDF5 soft link {path} -> {link.path} is refused")
        item = group[key]
        if isinstance(item, h5py.Group):
            _refuse_links_and_external_data(item, path)
        elif isinstance(item, h5py.Dataset):
            if item.is_virtual:
                raise FormatError(f"HDF5 virtual dataset {path} is refused")
            if item.external:
                raise FormatError(f"HDF5 dataset {path} keeps its data in external files; refused")


# Declared bytes per stored byte. Real CODE files are stored raw (1x), and gzip of zero-padded tracings
# stays far below this; only unwritten chunks (read back as fill values) or a compression bomb exceed it.
_MAX_INFLATION = 100
_INFLATION_FLOOR = 64 * 1024 * 1024  # small files may be mostly fill value: nothing to fear below this


def _refuse_inflation(tracings: h5py.Dataset) -> None:
    """Refuse a 'tracings' that declares far more data than the file holds, before any of it is read.

    The per-record limits cannot catch it alone: a million records of 83,000 samples pass both, and a
    few kB of file would then be read back as terabytes of fill values."""
    declared = tracings.size * tracings.dtype.itemsize
    stored = tracings.id.get_storage_size()
    if declared > _INFLATION_FLOOR and declared > _MAX_INFLATION * max(stored, 1):
        raise FormatError(
            f"'tracings' declares {tracings.size} samples ({declared / 1e9:.1f} GB) but the file stores "
            f"{stored} bytes of them: expanding over {_MAX_INFLATION}x is refused"
        )


def _open(path: Path, options: ReadOptions) -> tuple[h5py.File, h5py.Dataset, h5py.Dataset | None]:
    """The file's ``tracings`` and ``exam_id`` datasets. A file without ``exam_id`` (CODE-test's
    ``ecg_tracings.hdf5`` has only ``tracings``) is read with row i as exam id ``i``, the numbering its
    label files use; ``exam_id`` is then None."""
    handle = h5py.File(path, "r")
    try:
        _refuse_links_and_external_data(handle)
        if "tracings" not in handle:
            raise FormatError("HDF5 file has no 'tracings' dataset (CODE layout)")
        tracings = handle["tracings"]
        exam_ids = handle["exam_id"] if "exam_id" in handle else None
        if tracings.ndim != 3 or tracings.shape[2] != 12:
            raise FormatError(f"'tracings' has shape {tracings.shape}, expected (exams, samples, 12)")
        if exam_ids is not None and exam_ids.shape != (tracings.shape[0],):
            raise FormatError(f"'exam_id' has shape {exam_ids.shape}, expected ({tracings.shape[0]},)")
        if tracings.dtype.kind not in "fi" or (exam_ids is not None and exam_ids.dtype.kind not in "iu"):
            kind = "none" if exam_ids is None else exam_ids.dtype
            raise FormatError(f"unexpected dtypes: tracings {tracings.dtype}, exam_id {kind}")
        check_record_count(tracings.shape[0], options.limits)
        check_shape("tracings", tracings.shape[2], tracings.shape[1], options.limits)
        _refuse_inflation(tracings)
    except Exception:
        handle.close()
        raise
    return handle, tracings, exam_ids


def count(path: Path, options: ReadOptions) -> int:
    handle, tracings, _ = _open(path, options)
    with handle:
        return int(tracings.shape[0])


def read_metadata(path: Path | None, trace_file: str) -> dict[int, dict[str, str]]:
    """exams.csv rows by exam_id, restricted to this HDF5 file when the CSV says which file holds each."""
    if path is None:
        return {}
    rows: dict[int, dict[str, str]] = {}
    # utf-8-sig: a table saved from a spreadsheet starts with a byte order mark, which would
    # otherwise become part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in metadata_rows(handle):
            if row.get("trace_file") and row["trace_file"] != trace_file:
                continue
            try:
                rows[int(float(row["exam_id"]))] = row
            except (KeyError, ValueError):
                raise FormatError(f"metadata {path.name}: a row has no numeric exam_id") from None
    return rows


def _labels(row: dict[str, str]) -> list[tuple[str, str]]:
    labels = [(name, column) for column in LABEL_COLUMNS if (row.get(column) or "").strip().lower() in _TRUE]
    if (row.get(NORMAL_COLUMN) or "").strip().lower() in _TRUE:
        labels.append((name, NORMAL_COLUMN))
    return labels


def _coverage(row: dict[str, str]) -> tuple[str, ...]:
    """The label columns the row fills in, 0 or 1 alike (CODE-test's table has no normal column)."""
    return tuple(
        f"{name}:{column}" for column in (*LABEL_COLUMNS, NORMAL_COLUMN) if (row.get(column) or "").strip()
    )


def _record(exam_id: int, samples: np.ndarray, gain: float, row: dict[str, str], where: str) -> Record:
    is_male = (row.get("is_male") or "").strip().lower()
    return Record(
        external_id=str(exam_id),
        signals=samples,
        gain_uv=float(gain),
        sampling_rate=SAMPLING_RATE,
        lead_names=list(STANDARD_LEADS),
        age=parse_age(row.get("age")),
        sex="M" if is_male in _TRUE else ("F" if is_male in _FALSE else "U"),
        patient_id=(row.get("patient_id") or "").strip().removesuffix(".0").removesuffix(",0"),
        labels=_labels(row),
        label_coverage=_coverage(row),
        source_record=where,
    )


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    metadata = read_metadata(options.metadata, path.name)
    handle, tracings, exam_ids = _open(path, options)
    with handle:
        per_exam = tracings.shape[1] * tracings.shape[2] * 4
        chunk = max(1, min(4096, options.chunk_bytes // per_exam))
        for start in range(0, tracings.shape[0], chunk):
            block = np.asarray(tracings[start : start + chunk], dtype=np.float32)
            if exam_ids is None:  # no exam_id dataset: row i is exam i
                ids = np.arange(start, start + block.shape[0], dtype=np.int64)
            else:
                ids = np.asarray(exam_ids[start : start + chunk])
            yield from _chunk_records(block, ids, start, metadata, options)


def _any_lead_nonzero(block: np.ndarray) -> np.ndarray:
    """(block != 0).any(axis=2), about 3x faster for 12 leads: numpy reduces a 12-wide last axis slowly,
    so each sample's 12 one-byte flags are read as three 4-byte words and OR-ed."""
    flags = np.ascontiguousarray(block != 0)
    if flags.shape[2] != 12:
        return flags.any(axis=2)
    words = flags.view(np.uint32)
    nonzero: np.ndarray = (words[:, :, 0] | words[:, :, 1] | words[:, :, 2]) != 0
    return nonzero


def _chunk_records(
    block: np.ndarray, ids: np.ndarray, start: int, metadata: dict[int, dict[str, str]], options: ReadOptions
) -> Iterator[Record | RecordError]:
    # Everything below is whole-chunk numpy on the file's own (exams, samples, leads) layout; only the
    # int16 result is transposed to the (leads, samples) rows blobs are stored in (half the bytes).
    if options.amplitude_scale != 1.0:
        block *= np.float32(options.amplitude_scale)
    peaks = np.maximum(block.max(axis=(1, 2)), -block.min(axis=(1, 2)))  # NaN/inf show up here
    finite = np.isfinite(peaks)
    nonzero = _any_lead_nonzero(block)  # (exams, samples): a sample where any lead is not zero
    has_signal = nonzero.any(axis=1)
    first = nonzero.argmax(axis=1)
    last = nonzero.shape[1] - nonzero[:, ::-1].argmax(axis=1)
    samples, gains, ok = quantize_batch_mv(block, peaks_mv=peaks)
    samples = samples.transpose(0, 2, 1)
    for offset, exam_id in enumerate(ids.tolist()):
        where = f"row {start + offset}"
        if not finite[offset]:
            yield RecordError(str(exam_id), f"{where}: NaN or infinite samples")
        elif not has_signal[offset]:
            yield RecordSkipped(str(exam_id), f"{where}: all-zero tracing, skipped")
        elif not ok[offset]:
            yield RecordError(str(exam_id), f"{where}: amplitude beyond +-32 mV at 1 uV per step")
        else:
            trimmed = np.ascontiguousarray(samples[offset, :, first[offset] : last[offset]])
            yield _record(exam_id, trimmed, gains[offset], metadata.get(exam_id, {}), where)
