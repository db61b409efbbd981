"""Tracings for model training in the CODE convention: ``tracings`` N x 4096 x 12, float32, 400 Hz.

The CODE / CODE-15% datasets store each 12-lead exam resampled to 400 Hz and zero-padded, centred, to
4096 samples (a 10 s exam is 4000 samples with 48 zeros on each side); a model trained on them reads
these files unchanged. Longer exams are centre-cropped to 4096. ``--native-rate`` keeps the recorded
rate instead (every exam must share it) and pads, centred, to the longest exam.

Byte reproducibility: HDF5 stamps object headers with creation and modification times unless told not
to, so every dataset is created with ``track_times=False``; the file format version is pinned
(``libver``) so that a library upgrade cannot silently change the layout; no compression filter is used
(none is needed for determinism with gzip either, but contiguous storage also keeps the writer simple
and the reader fast). Rows are written in the order given, which the caller aligns with the CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from annotations.lib.ecg import resample as ecg_resample

CODE_RATE_HZ = 400.0
CODE_LENGTH = 4096
N_LEADS = 12
LIBVER = ("v110", "v110")


def resample(signals: np.ndarray, rate_hz: float, target_hz: float) -> np.ndarray:
    """(samples, leads) at rate_hz -> (samples', leads) at target_hz (see :mod:`...ecg.resample`).

    The ratio is limited to a denominator of 10 000, not the providers' 1000: releases already written
    used it, and an odd rate would otherwise give a different number of samples.
    """
    return ecg_resample.resample(signals, rate_hz, target_hz, axis=0, max_denominator=10_000)


def fit_length(signals: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad (centred; an odd remainder goes to the end) or centre-crop (samples, leads) to length."""
    return ecg_resample.fit_length(signals, length, axis=0)


def code_tracing(
    samples: np.ndarray,
    *,
    gain_uv: float,
    rate_hz: float,
    target_hz: float | None = CODE_RATE_HZ,
    length: int = CODE_LENGTH,
) -> np.ndarray:
    """One exam's stored int16 (signals, samples) -> float32 (length, 12) in millivolts.

    The first 12 signals are the standard leads in the standard order (I, II, III, aVR, aVL, aVF,
    V1-V6), as every exam stores them; any extra signals (a rhythm strip) are left out.
    """
    millivolts = samples[:N_LEADS].T.astype(np.float64) * (gain_uv / 1000.0)
    if target_hz is not None:
        millivolts = resample(millivolts, rate_hz, target_hz)
    return fit_length(millivolts, length).astype(np.float32)


class TracingsWriter:
    """Writes ``tracings`` (N, length, 12) plus ``exam_id`` and ``dataset`` (N,) row by row.

    The file is created complete up front (contiguous, zero fill) and each call to ``write`` fills the
    next rows, so memory holds one chunk of rows, never the whole array.
    """

    def __init__(
        self,
        path: Path,
        *,
        n_rows: int,
        length: int = CODE_LENGTH,
        rate_hz: float = CODE_RATE_HZ,
        exam_ids: list[bytes] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.n_rows = n_rows
        self.length = length
        self.row = 0
        self.file = h5py.File(path, "w", libver=LIBVER, track_order=False)
        self.tracings = self.file.create_dataset(
            "tracings",
            shape=(n_rows, length, N_LEADS),
            dtype="<f4",
            track_times=False,
            fillvalue=0.0,
        )
        self.ids: dict[str, h5py.Dataset] = {}
        self.file.attrs["sampling_rate_hz"] = float(rate_hz)
        self.file.attrs["length"] = int(length)
        self.file.attrs["unit"] = "mV"
        self.file.attrs["leads"] = np.array(
            [b"I", b"II", b"III", b"aVR", b"aVL", b"aVF", b"V1", b"V2", b"V3", b"V4", b"V5", b"V6"]
        )
        for key, value in sorted((attrs or {}).items()):
            self.file.attrs[key] = value

    def write_ids(self, name: str, values: list[bytes]) -> None:
        """A (N,) fixed-length byte-string dataset (fixed length: variable-length strings go to a global
        heap whose layout is less predictable)."""
        width = max((len(v) for v in values), default=1) or 1
        self.ids[name] = self.file.create_dataset(
            name, data=np.array(values, dtype=f"S{width}"), track_times=False
        )

    def write(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        end = self.row + len(rows)
        if end > self.n_rows:
            raise ValueError(f"more rows than announced ({end} > {self.n_rows})")
        self.tracings[self.row : end] = rows
        self.row = end

    def close(self) -> None:
        if self.file:
            self.file.close()
            self.file = None

    def __enter__(self) -> TracingsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
