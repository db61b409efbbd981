"""How much the marks readers flagged as uncertain move agreement: Fleiss' kappa per class with them
counted as positives (what every other figure does), as absent, and with their cells left out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .reads import MISSING, as_reads
from .stats import agreement


@dataclass(frozen=True)
class UncertainSensitivity:
    marks: npt.NDArray[np.int64]  # [c]: uncertain marks per class
    as_positive: npt.NDArray[np.float64]  # [c]: Fleiss' kappa, uncertain marks present
    as_absent: npt.NDArray[np.float64]  # [c]: uncertain marks absent
    left_out: npt.NDArray[np.float64]  # [c]: the uncertain cells missing (exams left with one read drop)


def uncertain_sensitivity(reads: npt.ArrayLike, uncertain: npt.ArrayLike) -> UncertainSensitivity:
    """``reads[r, e, c]`` (1 present, 0 absent, MISSING unread) and ``uncertain[r, e, c]`` (True where a
    present mark was flagged uncertain)."""
    reads = as_reads(reads)
    flagged = np.asarray(uncertain, dtype=bool) & (reads == 1)
    absent, missing = reads.copy(), reads.copy()
    absent[flagged] = 0
    missing[flagged] = MISSING
    return UncertainSensitivity(
        marks=flagged.sum(axis=(0, 1)).astype(np.int64),
        as_positive=agreement(reads).classes.fleiss_kappa,
        as_absent=agreement(absent).classes.fleiss_kappa,
        left_out=agreement(missing).classes.fleiss_kappa,
    )
