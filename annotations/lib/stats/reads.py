"""The data representation every agreement function shares, and JSON helpers for its results.

A batch's reads are one array ``reads[r, e, c]`` (readers x exams x classes) of ``int8``:

* ``1``  the reader marked class ``c`` on exam ``e``;
* ``0``  the reader read exam ``e`` and did not mark class ``c``;
* ``-1`` (:data:`MISSING`) no read: the reader was not assigned the exam, skipped it, or the cell is
  otherwise unknown.

``int8`` rather than float-with-NaN because a batch of 100,000 exams x 73 classes x several readers is
then 7 MB per reader instead of 58 MB, and comparisons (``== 1``, ``>= 0``) are exact. :func:`as_reads`
accepts bool, integer or float input (NaN meaning missing) and converts it once, validating values.

Nothing in this package imports Django: it is plain numpy so that it can be tested, benchmarked and
reused (e.g. in a Celery worker or a notebook) without a database.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

#: Bumped whenever a formula, convention or default changes in a way that could change a stored
#: number; results saved later carry it so that old and new figures are never silently compared.
ALGORITHM_VERSION: Final[str] = "1.1.0"

#: Marker for "no read" in a reads array.
MISSING: Final[int] = -1

Reads = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _ratio(numerator: npt.ArrayLike, denominator: npt.ArrayLike, defined: npt.ArrayLike = True) -> FloatArray:
    """``numerator / denominator`` where ``defined`` and the denominator is non-zero, else NaN, silently."""
    num, den = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    ok = np.broadcast_to(np.asarray(defined, bool), num.shape) & (den != 0)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=ok)
    return out


class ReadsError(ValueError):
    """The input is not a valid reads array."""


def as_reads(values: npt.ArrayLike, *, ndim: int = 3) -> Reads:
    """Return ``values`` as a validated ``int8`` reads array (1, 0 or :data:`MISSING`).

    Float input may mark missing cells with NaN (or -1); boolean input has no missing cells. Any other
    value (2, 0.5, -3, inf) raises :class:`ReadsError` instead of being coerced, because a silently
    rounded label would corrupt every statistic downstream.
    """
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ReadsError(f"expected a {ndim}-dimensional array, got shape {array.shape}")
    if array.dtype == bool:
        out = array.astype(np.int8)
    elif np.issubdtype(array.dtype, np.floating):
        missing = np.isnan(array)
        filled = np.where(missing, MISSING, array)
        if not np.all(np.isin(filled, (0.0, 1.0, float(MISSING)))):
            raise ReadsError("float reads must be 0, 1, -1 or NaN")
        out = filled.astype(np.int8)
    elif np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < MISSING or array.max() > 1):
            raise ReadsError("integer reads must be 0, 1 or -1")
        out = array.astype(np.int8, copy=False)
    else:
        raise ReadsError(f"unsupported dtype {array.dtype}")
    return np.ascontiguousarray(out)


def reader_pairs(n_readers: int) -> list[tuple[int, int]]:
    """All unordered reader pairs ``(a, b)`` with ``a < b``, in the order pairwise results use."""
    return [(a, b) for a in range(n_readers) for b in range(a + 1, n_readers)]


def _jsonable(value: Any) -> Any:
    # NaN and inf are not JSON; None says "undefined" without a parser-specific extension.
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


class JsonMixin:
    """``to_dict()`` for result dataclasses: arrays become nested lists, NaN becomes ``None``."""

    def to_dict(self) -> dict[str, Any]:
        as_json: dict[str, Any] = _jsonable(self)
        return as_json
