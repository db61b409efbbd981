"""A model's per-class scores (or a reader's 0/1 calls) against a benchmark's labels: AUROC, AUPRC, and at
thresholds sensitivity, specificity, PPV and F1, per class with macro and micro averages, each with a
percentile bootstrap 95% interval over exams.

Pure numpy. Every figure is a function of per-exam weights (1 for the point estimate, how often the
exam was drawn for a resample), so the point estimate and the resamples share one code path and the
replicates equal scikit-learn's figures with ``sample_weight`` set to the draw counts (tested).

* AUROC is the Mann-Whitney statistic with tied scores counted one half (scikit-learn's roc_auc_score).
* AUPRC is average precision, the step sum over distinct thresholds of precision times the recall
  gained (scikit-learn's average_precision_score), not the trapezoid, which overstates it.
* A prediction is positive where the score reaches its threshold (score >= threshold).
* Micro averages pool every (exam, class) cell; macro averages are the mean of the classes' figures
  over the classes where the figure is defined.

Intervals: percentile, over the resamples where the figure is defined (a resample without a positive
has no sensitivity); all classes share the resamples, as exams are drawn whole.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .bootstrap import bootstrap_weights

RANKED = ("auroc", "auprc")
AT_THRESHOLD = ("sensitivity", "specificity", "ppv", "f1")
METRICS = RANKED + AT_THRESHOLD
CELLS_PER_STEP = 4_000_000  # resamples x exams x classes held at once


@dataclass(frozen=True)
class Figure:
    value: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass
class Scored:
    """Per class code, and "macro" and "micro": metric -> Figure; ``n`` exams, ``positives`` per class."""

    classes: list[str]
    n: int
    positives: dict[str, int]
    figures: dict[str, dict[str, Figure]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "positives": self.positives,
            "figures": {
                row: {metric: fig.as_dict() for metric, fig in metrics.items()}
                for row, metrics in self.figures.items()
            },
        }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _tie_groups(sorted_scores: np.ndarray) -> np.ndarray:
    """Start index of each run of equal scores in a sorted vector."""
    starts = np.ones(len(sorted_scores), dtype=bool)
    starts[1:] = sorted_scores[1:] != sorted_scores[:-1]
    return np.flatnonzero(starts)


def ranked_figures(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """AUROC and average precision of one vector of cells, for each row of ``weights`` (resamples x
    cells): arrays of one value per row, NaN where a row holds no positive (or, for AUROC, no negative)."""
    order = np.argsort(-scores, kind="stable")
    starts = _tie_groups(scores[order])
    y = truth[order].astype(np.float64)
    w = weights[:, order].astype(np.float64)
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * (1.0 - y), starts, axis=1)
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    # Descending scores: a positive outranks the negatives of every later group, and ties half of its own.
    neg_below = total_neg[:, None] - np.cumsum(neg, axis=1)
    u = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    auroc = _ratio(u, total_pos * total_neg)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    precision = _ratio(tp, tp + fp)
    precision = np.where(pos > 0, precision, 0.0)
    auprc = _ratio((pos * precision).sum(axis=1), total_pos)
    return {"auroc": auroc, "auprc": auprc}


def counts_at(truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """(tp, fp, fn, tn) per row of ``weights`` over cells."""
    y, p = truth.astype(bool), predicted.astype(bool)
    w = weights.astype(np.float64)
    return tuple(w @ (a & b).astype(np.float64) for a, b in ((y, p), (~y, p), (y, ~p), (~y, ~p)))


def threshold_figures(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
) -> dict[str, np.ndarray]:
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def _check(truth: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> None:
    if truth.shape != scores.shape or truth.ndim != 2:
        raise ValueError(f"labels {truth.shape} and scores {scores.shape} differ in shape")
    if thresholds.shape != (truth.shape[1],):
        raise ValueError(f"{thresholds.shape[0]} thresholds for {truth.shape[1]} classes")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")


def _all_figures(
    truth: np.ndarray, scores: np.ndarray, predicted: np.ndarray, weights: np.ndarray, ranked: bool
) -> dict[int | str, dict[str, np.ndarray]]:
    """row ("class index", "macro", "micro") -> metric -> one value per row of weights."""
    out: dict[int | str, dict[str, np.ndarray]] = {}
    n_classes = truth.shape[1]
    per_class_counts = []
    for k in range(n_classes):
        counts = counts_at(truth[:, k], predicted[:, k], weights)
        per_class_counts.append(counts)
        out[k] = threshold_figures(*counts)
        if ranked:
            out[k].update(ranked_figures(truth[:, k], scores[:, k], weights))
    pooled = [np.asarray(sum(c[i] for c in per_class_counts)) for i in range(4)]
    out["micro"] = threshold_figures(*pooled)
    if ranked:
        flat = np.repeat(weights, n_classes, axis=1)
        out["micro"].update(ranked_figures(truth.ravel(), scores.ravel(), flat))
    metrics = METRICS if ranked else AT_THRESHOLD
    with np.errstate(invalid="ignore"), _quiet():
        out["macro"] = {
            m: np.nanmean(np.stack([out[k][m] for k in range(n_classes)]), axis=0) for m in metrics
        }
    return out


class _quiet:
    """nanmean warns on an all-NaN slice; that NaN is the answer (undefined everywhere)."""

    def __enter__(self) -> None:
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._catch.__exit__(*exc)


def _value(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def score(
    truth: npt.ArrayLike,
    scores: npt.ArrayLike,
    thresholds: npt.ArrayLike,
    *,
    classes: list[str],
    ranked: bool = True,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Scored:
    """Every figure of ``scores`` (exams x classes) against ``truth`` (0/1, same shape) at ``thresholds``
    (one per class). ``ranked=False`` for 0/1 calls (a reader), which have no ranking to measure."""
    y = np.asarray(truth, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    _check(y, s, t)
    predicted = s >= t
    n_exams, n_classes = y.shape
    point = _all_figures(y, s, predicted, np.ones((1, n_exams)), ranked)
    per_step = max(1, CELLS_PER_STEP // max(1, n_exams * n_classes))
    weights = bootstrap_weights(n_exams, n_resamples, seed) if n_exams else np.zeros((0, 0))
    replicates: list[dict[int | str, dict[str, np.ndarray]]] = []
    for start in range(0, n_resamples if n_exams else 0, per_step):
        replicates.append(_all_figures(y, s, predicted, weights[start : start + per_step], ranked))
    tail = 100 * (1 - confidence) / 2
    result = Scored(
        classes=list(classes), n=n_exams, positives={c: int(y[:, k].sum()) for k, c in enumerate(classes)}
    )
    names = {k: code for k, code in enumerate(classes)} | {"macro": "macro", "micro": "micro"}
    for row, name in names.items():
        result.figures[name] = {}
        for metric, values in point[row].items():
            draws = np.concatenate([r[row][metric] for r in replicates]) if replicates else np.array([])
            draws = draws[~np.isnan(draws)]
            low = high = None
            if len(draws):
                low, high = (float(v) for v in np.percentile(draws, [tail, 100 - tail]))
            result.figures[name][metric] = Figure(_value(values[0]), low, high)
    return result


def thresholds_max_f1(truth: npt.ArrayLike, scores: npt.ArrayLike) -> np.ndarray:
    """Per class, the threshold (one of the scores) at which ``score >= threshold`` has the highest F1;
    of equal F1s the highest threshold. A class without a positive gets 1.0 (nothing called)."""
    y = np.asarray(truth, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    out = np.ones(y.shape[1])
    for k in range(y.shape[1]):
        order = np.argsort(-s[:, k], kind="stable")
        sk, yk = s[order, k], y[order, k]
        ends = np.append(_tie_groups(sk)[1:], len(sk)) - 1
        tp = np.cumsum(yk)[ends]
        called = ends + 1
        positives = yk.sum()
        if positives == 0:
            continue
        f1 = 2 * tp / (called + positives)
        out[k] = sk[ends][int(np.argmax(f1))]
    return out
