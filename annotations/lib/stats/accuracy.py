"""Each reader's sensitivity and specificity against a reference, with Wilson intervals, and their drift
over their own reads in submission order.

Binary arrays: the reader's label (1 marked, 0 not) and the reference's (1, 0, or :data:`MISSING` where it
has none: an undecided consensus cell, a tie of the other readers), cell by cell; a reference cell that is
missing is left out and counted. The drift test is a logistic regression of a right call on the read's
place in the reader's sequence (0 first, 1 last), fitted on counts per read; its Wald p-value is
statsmodels' ``Logit``'s. The cells of one read count as independent calls there, which they nearly are
when a read marks one or two findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .readers import wilson_interval
from .reads import MISSING

__all__ = [
    "MISSING",
    "Confusion",
    "Drift",
    "Quarter",
    "SensSpec",
    "Trend",
    "confusion_counts",
    "drift_from_counts",
    "logistic_trend",
    "majority_of_others",
    "reader_drift",
    "sens_spec",
]

QUARTERS = 4


@dataclass(frozen=True)
class SensSpec:
    """Sensitivity TP/(TP+FN) and specificity TN/(TN+FP), each with its 95% Wilson interval; NaN where the
    denominator is 0 (nothing to measure, which 0 would misstate)."""

    sensitivity: float
    sensitivity_low: float
    sensitivity_high: float
    specificity: float
    specificity_low: float
    specificity_high: float


def _proportion(k: int, n: int, confidence: float) -> tuple[float, float, float]:
    if n <= 0:
        return math.nan, math.nan, math.nan
    low, high = wilson_interval(k, n, confidence)
    return k / n, float(low), float(high)


def sens_spec(*, tp: int, fp: int, fn: int, tn: int, confidence: float = 0.95) -> SensSpec:
    return SensSpec(
        *_proportion(tp, tp + fn, confidence),
        *_proportion(tn, tn + fp, confidence),
    )


@dataclass(frozen=True)
class Confusion:
    """Counts of a reader against a reference; ``n_left_out`` reference cells were missing."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    n_left_out: int = 0

    def figures(self, confidence: float = 0.95) -> SensSpec:
        return sens_spec(tp=self.tp, fp=self.fp, fn=self.fn, tn=self.tn, confidence=confidence)


def _binary(values: npt.ArrayLike, name: str, missing: bool = False) -> npt.NDArray[np.int64]:
    array = np.asarray(values, dtype=np.int64)
    allowed = (0, 1, MISSING) if missing else (0, 1)
    if array.size and not np.isin(array, allowed).all():
        raise ValueError(f"{name} must hold {', '.join(map(str, allowed))} only")
    return array


def confusion_counts(reader: npt.ArrayLike, reference: npt.ArrayLike) -> Confusion:
    """The reader's calls against the reference, cell by cell (arrays of one shape)."""
    said = _binary(reader, "reader")
    truth = _binary(reference, "reference", missing=True)
    if said.shape != truth.shape:
        raise ValueError(f"reader and reference differ in shape: {said.shape} and {truth.shape}")
    known = truth != MISSING
    return Confusion(
        tp=int(((said == 1) & (truth == 1)).sum()),
        fp=int(((said == 1) & (truth == 0)).sum()),
        fn=int(((said == 0) & (truth == 1)).sum()),
        tn=int(((said == 0) & (truth == 0)).sum()),
        n_left_out=int((~known).sum()),
    )


def majority_of_others(positive: npt.ArrayLike, total: npt.ArrayLike, min_others: int = 2) -> np.ndarray:
    """The leave-one-out reference of a cell from the other reads' votes: 1 where more than half marked
    it, 0 where fewer, :data:`MISSING` on a tie or with fewer than ``min_others`` other reads."""
    positive, total = np.asarray(positive, np.int64), np.asarray(total, np.int64)
    out = np.where(2 * positive > total, 1, 0)
    return np.where((2 * positive == total) | (total < min_others), MISSING, out)


@dataclass(frozen=True)
class Trend:
    """Log-odds of a right call from the reader's first read to their last (``slope``), its standard
    error and two-sided Wald p-value, over ``n`` calls; NaN where it cannot be estimated (no calls, all
    right or all wrong, or a fit that does not converge)."""

    slope: float
    se: float
    p_value: float
    n: int


def _no_trend(n: int) -> Trend:
    return Trend(math.nan, math.nan, math.nan, n)


def logistic_trend(
    successes: npt.ArrayLike, trials: npt.ArrayLike, position: npt.ArrayLike, *, max_iter: int = 50
) -> Trend:
    """Binomial logistic regression of right calls (``successes`` of ``trials`` per read) on the read's
    ``position``, by Newton-Raphson: the cell-by-cell Logit fit, grouped by read."""
    k = np.asarray(successes, float)
    m = np.asarray(trials, float)
    x = np.asarray(position, float)
    n, right = int(m.sum()), float(k.sum())
    if n == 0 or right in (0.0, float(n)) or np.ptp(x[m > 0]) == 0:
        return _no_trend(n)
    design = np.column_stack([np.ones_like(x), x])
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            beta, covariance = _newton(design, k, m, math.log(right / (n - right)), max_iter)
    except (np.linalg.LinAlgError, ArithmeticError):  # separated: the calls flip once, never back
        return _no_trend(n)
    se = math.sqrt(covariance[1, 1])
    if not (math.isfinite(se) and se > 0):
        return _no_trend(n)
    return Trend(float(beta[1]), se, math.erfc(abs(beta[1] / se) / math.sqrt(2.0)), n)


def _newton(
    design: np.ndarray, k: np.ndarray, m: np.ndarray, start: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, their covariance) of the binomial logit; ArithmeticError when it does not converge."""
    beta = np.array([start, 0.0])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        information = design.T @ (design * (m * p * (1 - p))[:, None])
        step = np.linalg.solve(information, design.T @ (k - m * p))
        beta = beta + step
        if not np.all(np.isfinite(beta)):
            break
        if np.max(np.abs(step)) < 1e-10:
            p = 1.0 / (1.0 + np.exp(-(design @ beta)))
            return beta, np.linalg.inv(design.T @ (design * (m * p * (1 - p))[:, None]))
    raise ArithmeticError("the logistic fit did not converge")


@dataclass(frozen=True)
class Quarter:
    """One quarter of a reader's reads, in submission order: its reads and counts over its cells."""

    n_reads: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else math.nan


@dataclass(frozen=True)
class Drift:
    quarters: list[Quarter]
    sensitivity_trend: Trend  # right calls on reference-positive cells
    specificity_trend: Trend  # right calls on reference-negative cells


def _per_read(said: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per read (row): tp, fn, tn, fp over its cells with a reference."""
    return tuple(((said == a) & (truth == b)).sum(axis=1) for a, b in ((1, 1), (0, 1), (0, 0), (1, 0)))


def reader_drift(rank: npt.ArrayLike, said: npt.ArrayLike, reference: npt.ArrayLike) -> Drift:
    """One reader's drift: ``said[i, c]`` and ``reference[i, c]`` are read i's cells (classes), and
    ``rank[i]`` its place in the reader's submission order (0 first)."""
    said = _binary(said, "reader")
    truth = _binary(reference, "reference", missing=True)
    if said.ndim != 2 or said.shape != truth.shape:
        raise ValueError("said and reference must be reads x classes of one shape")
    return drift_from_counts(rank, *_per_read(said, truth))


def drift_from_counts(
    rank: npt.ArrayLike, tp: npt.ArrayLike, fn: npt.ArrayLike, tn: npt.ArrayLike, fp: npt.ArrayLike
) -> Drift:
    """:func:`reader_drift` from each read's counts over its cells. Quarters split the reads, in
    submission order, into four runs of near-equal length; the trends are fitted separately on
    reference-positive cells (sensitivity) and reference-negative ones (specificity), pooled over
    classes."""
    order = np.argsort(np.asarray(rank), kind="stable")
    tp, fn, tn, fp = (np.asarray(x, np.int64)[order] for x in (tp, fn, tn, fp))
    n_reads = len(order)
    position = np.arange(n_reads) / max(n_reads - 1, 1)
    quarters = [
        Quarter(len(part), int(tp[part].sum()), int(fp[part].sum()), int(fn[part].sum()), int(tn[part].sum()))
        for part in np.array_split(np.arange(n_reads), QUARTERS)
    ]
    return Drift(
        quarters=quarters,
        sensitivity_trend=logistic_trend(tp, tp + fn, position),
        specificity_trend=logistic_trend(tn, tn + fp, position),
    )
