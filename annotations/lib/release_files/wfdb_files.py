"""Tracings as WFDB records in one zip, for tools that read PhysioNet's format rather than HDF5.

Each exam is a record named by its row (000000, 000001, ... the order of the HDF5 file and of an NPY
submission's rows), at its recorded rate and resolution: format 16, the stored integers unchanged, the
gain in steps per millivolt. Its header's comment names the exam id, and ``exam_ids.csv`` maps every
record to its exam id; ``RECORDS`` lists them, as PhysioNet's databases do. The zip's entries carry a
fixed time, so the same exams give the same bytes.
"""

from __future__ import annotations

import csv
import functools
import io
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from annotations.lib.lazy_imports import HEAVY_IMPORT

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _wfdb() -> Any:  # wfdb ships no types
    """wfdb, imported where a benchmark's tracings are written: it pulls in pandas, which a web process
    that only serves pages never needs (tests/platform/test_settings.py)."""
    with HEAVY_IMPORT:
        import wfdb

    return wfdb


@functools.cache
def _record_class() -> type:
    """wfdb's Record, remembering which header fields a layout writes. wfdb works that list out anew
    three times per record through pandas lookups (15 of the 19 ms a 12-lead record costs); every exam
    of a benchmark has the same fields set, so the first record's list serves the rest, and wfdb still
    checks each record's values and writes its files."""
    wfdb = _wfdb()
    layouts: dict[tuple[object, ...], tuple[list[str], dict[str, Any]]] = {}

    class LayoutRecord(wfdb.Record):  # type: ignore[name-defined,misc]
        def get_write_fields(self) -> tuple[list[str], dict[str, Any]]:
            key = (self.n_sig, bool(self.comments), tuple(self.fmt or ()))
            if key not in layouts:
                layouts[key] = super().get_write_fields()
            record_fields, signal_fields = layouts[key]
            return list(record_fields), dict(signal_fields)

    return LayoutRecord


def _write_record(
    folder: str, name: str, samples: np.ndarray, rate: float, gain_uv: float, leads: list[str], exam_id: str
) -> None:
    """What ``wfdb.wrsamp`` does for stored integers (``d_signal``), through the remembering Record."""
    signals = samples.shape[0]
    record = _record_class()(
        record_name=name,
        d_signal=np.ascontiguousarray(samples.T.astype(np.int16)).astype(np.int64),
        fs=float(rate),
        fmt=["16"] * signals,
        units=["mV"] * signals,
        sig_name=[str(lead) for lead in leads[:signals]],
        adc_gain=[1000.0 / gain_uv] * signals,
        baseline=[0] * signals,
        comments=[f"exam_id: {exam_id}"],
    )
    record.set_d_features()
    record.set_defaults()
    record.wrsamp(write_dir=folder, expanded=False)


def record_name(row: int) -> str:
    return f"{row:06d}"


def write_wfdb_zip(path: Path, records: Iterable[tuple[str, np.ndarray, float, float, list[str]]]) -> int:
    """Write (exam id, stored samples (signals, samples) int16, rate Hz, µV per step, lead names) as
    WFDB records in a zip at ``path``; returns how many."""
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\n")
    writer.writerow(["record", "exam_id"])
    names = []
    with zipfile.ZipFile(path, "w") as archive, tempfile.TemporaryDirectory() as folder:
        for row, (exam_id, samples, rate, gain_uv, leads) in enumerate(records):
            name = record_name(row)
            _write_record(folder, name, samples, rate, gain_uv, leads, exam_id)
            for suffix in (".hea", ".dat"):
                _add(archive, name + suffix, (Path(folder) / (name + suffix)).read_bytes())
            writer.writerow([name, exam_id])
            names.append(name)
        _add(archive, "RECORDS", ("\n".join(names) + "\n").encode())
        _add(archive, "exam_ids.csv", index.getvalue().encode())
    return len(names)
