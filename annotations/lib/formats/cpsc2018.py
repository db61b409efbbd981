"""CPSC-2018 MATLAB files: a struct ECG{sex, age, data} with data 12 x N float millivolts at 500 Hz.

There is no header: the rate and lead order are the challenge's documented ones. Labels are not in the
file (they live in the challenge's REFERENCE.csv).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.formats.base import (
    FormatError,
    ReadOptions,
    Record,
    RecordError,
    check_shape,
    parse_age,
    parse_sex,
)
from annotations.lib.formats.inflate import check_mat_v5

name = "cpsc2018"
SAMPLING_RATE = 500.0


def count(path: Path, options: ReadOptions) -> int:
    return 1


def _declared_shape(path: Path) -> None:
    """whosmat reads only the variable headers: refuse absurd declarations before loading anything."""
    try:
        variables = scipy.io.whosmat(str(path))
    except Exception as error:  # scipy raises several types for a malformed .mat
        raise FormatError(f"not a readable MATLAB file ({error})") from None
    if [name_ for name_, _, _ in variables] != ["ECG"]:
        raise FormatError(f"MATLAB file holds {[v[0] for v in variables]}, expected one struct 'ECG'")


def _field(struct: Any, key: str) -> Any:
    try:
        value = struct[key]
    except (ValueError, KeyError):
        raise FormatError(f"ECG struct has no field {key!r}") from None
    return value


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    # scipy inflates a compressed variable whole, in memory, even to list its name (whosmat).
    check_mat_v5(path, options.limits)
    _declared_shape(path)
    try:
        ecg = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=True)["ECG"]
    except Exception as error:
        raise FormatError(f"not a readable MATLAB file ({error})") from None
    data = np.asarray(
        _field(ecg, "data").item() if hasattr(_field(ecg, "data"), "item") else _field(ecg, "data")
    )
    if data.dtype == object:
        data = np.asarray(data.item())
    if data.ndim != 2 or data.shape[0] != 12:
        raise FormatError(f"ECG.data has shape {data.shape}, expected (12, samples)")
    check_shape("ECG.data", data.shape[0], data.shape[1], options.limits)
    if not np.issubdtype(data.dtype, np.number):
        raise FormatError(f"ECG.data holds {data.dtype}, not numbers")
    yield Record(
        external_id=path.stem,
        signals=data.astype(np.float64),
        sampling_rate=SAMPLING_RATE,
        lead_names=list(STANDARD_LEADS),
        age=parse_age(_scalar(_field(ecg, "age"))),
        sex=parse_sex(_scalar(_field(ecg, "sex"))),
        source_record=path.name,
    )


def _scalar(value: object) -> Any:
    array = np.asarray(value)
    while array.dtype == object and array.size == 1:
        array = np.asarray(array.item())
    return array.item() if array.size == 1 else None
