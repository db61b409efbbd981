"""How well scored suggestions find reference labels, per class: pure numpy.

Inputs are per exam and class: ``truth[e, k]`` (the reference says class ``k`` is present; a reference
label set is complete, so a class not listed is absent), ``scores[e, k]`` in [0, 1] or NaN where the
provider did not score the class on that exam (no result, or "not assessable here"), and
``suggested[e, k]`` (the score reached the provider's threshold). An exam without a score is one where
nothing was suggested: sensitivity, specificity and PPV count it, the AUROC (a property of scores) is
taken over the exams that have one.

Intervals: percentile bootstrap over exams (:data:`CI_METHOD`). Every statistic of every class and
provider is computed on the same resamples (:func:`.bootstrap.bootstrap_weights`: a seed gives the
same exams drawn), so rows of one evaluation are comparable and a rerun with the seed gives the same
figures. Percentile rather than BCa: BCa's acceleration needs the jackknife of each statistic and
fails where a resample leaves a class without positives (NaN), common for rare classes here; the
percentile interval is taken over the resamples where the statistic is defined, whose share is kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .bootstrap import bootstrap_weights
from .reads import FloatArray, JsonMixin

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CI_METHOD = "percentile"
METRICS = ("sensitivity", "specificity", "ppv", "auroc")
NONE = "none"
CELLS_PER_STEP = 2_000_000  # resamples x exams computed at once

# When an exam carries several rhythm labels (CinC headers list sinus rhythm beside sinus tachycardia,
# or beside an episode of ventricular tachycardia), its rhythm row is the one that decides care first:
# ventricular before atrial before junctional before sinus, and a named sinus variant before plain
# sinus rhythm. A sinus pause is an event within a rhythm, not the rhythm, so it is not among them.
RHYTHM_PRECEDENCE = (
    "VT",
    "NSVT",
    "AIVR",
    "AFL",
    "AF",
    "MAT",
    "AT",
    "SVT",
    "JT",
    "JR",
    "EAR",
    "MAR",
    "ST",
    "SB",
    "SA",
    "SR",
)


@dataclass(frozen=True)
class ClassStatistics(JsonMixin):
    """Per class (arrays of length K): counts over all exams, the exams with a score (what the AUROC is
    over), and per metric of :data:`METRICS` the point estimate, the interval's bounds and the share of
    resamples in which the metric was defined (a resample may draw no positive of a rare class)."""

    positives: IntArray
    negatives: IntArray
    tp: IntArray
    fp: IntArray
    tn: IntArray
    fn: IntArray
    scored: IntArray
    point: dict[str, FloatArray]
    lower: dict[str, FloatArray]
    upper: dict[str, FloatArray]
    defined: dict[str, FloatArray]
    n_resamples: int
    seed: int
    confidence: float
    method: str = CI_METHOD


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def weighted_confusion(
    truth: npt.ArrayLike, suggested: npt.ArrayLike, weights: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(tp, fp, tn, fn), each (B, K): the exams counted ``weights[b, e]`` times (a bootstrap resample's
    draw counts; a row of ones is the sample itself)."""
    truth, suggested = np.asarray(truth, dtype=bool), np.asarray(suggested, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)  # integer counts: exact in float64 far past any dataset
    cells = [truth & suggested, ~truth & suggested, ~truth & ~suggested, truth & ~suggested]
    tp, fp, tn, fn = (w @ cell.astype(np.float64) for cell in cells)
    return tp, fp, tn, fn


def weighted_auroc(truth: npt.ArrayLike, scores: npt.ArrayLike, weights: npt.ArrayLike) -> FloatArray:
    """ROC AUC per resample and class, (B, K), over the exams with a score; NaN where a resample has no
    positive or no negative among them. Ties count one half (the area with ties drawn as diagonals).

    Hand-written rather than scikit-learn's roc_auc_score with sample_weight (which gives the same
    numbers, see the tests): that sorts the scores again for each of B x K calls, while the order of a
    class's scores is the same in every resample. Sorted once, a resample's Mann-Whitney count is the
    weight of its positives in each tie group times the weight of negatives below the group, plus half
    the negatives within it: a few cumulative sums over a (B, exams) array."""
    truth, scores = np.asarray(truth, dtype=bool), np.asarray(scores, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    out = np.full((w.shape[0], truth.shape[1]), np.nan)
    for k in range(truth.shape[1]):
        out[:, k] = _auroc_one_class(truth[:, k], scores[:, k], w)
    return out


def _auroc_one_class(truth: BoolArray, scores: FloatArray, w: FloatArray) -> FloatArray:
    scored = np.flatnonzero(~np.isnan(scores))
    if scored.size == 0:
        return np.full(w.shape[0], np.nan)
    order = scored[np.argsort(scores[scored], kind="stable")]
    ordered = scores[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    positive = truth[order]
    w_pos = np.add.reduceat(w[:, order] * positive, starts, axis=1)
    w_neg = np.add.reduceat(w[:, order] * ~positive, starts, axis=1)
    below = np.cumsum(w_neg, axis=1) - w_neg
    u = (w_pos * (below + 0.5 * w_neg)).sum(axis=1)
    return _ratio(u, w_pos.sum(axis=1) * w_neg.sum(axis=1))


def _metrics(
    truth: BoolArray, scores: FloatArray, suggested: BoolArray, w: npt.NDArray[np.number[Any]]
) -> dict[str, FloatArray]:
    tp, fp, tn, fn = weighted_confusion(truth, suggested, w)
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "auroc": weighted_auroc(truth, scores, w),
    }


# Point estimates and their intervals for one class share the same resamples; the steps are
# commented where they happen, and splitting them would pass the resample matrices around.
def class_statistics(
    truth: npt.ArrayLike,
    scores: npt.ArrayLike,
    suggested: npt.ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ClassStatistics:
    """Counts, point estimates and percentile bootstrap intervals over exams for every class.
    ``n_resamples`` 0 gives point estimates with NaN intervals."""
    truth, suggested = np.asarray(truth, dtype=bool), np.asarray(suggested, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if not (truth.shape == scores.shape == suggested.shape and truth.ndim == 2):
        raise ValueError("truth, scores and suggested must be (exams, classes) arrays of one shape")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if n_resamples < 0:
        raise ValueError("n_resamples must be 0 or more")
    n_exams, n_classes = truth.shape
    counts = [
        c[0].round().astype(np.int64) for c in weighted_confusion(truth, suggested, np.ones((1, n_exams)))
    ]
    point = {
        name: values[0] for name, values in _metrics(truth, scores, suggested, np.ones((1, n_exams))).items()
    }
    nan = np.full(n_classes, np.nan)
    lower = {name: nan.copy() for name in METRICS}
    upper = {name: nan.copy() for name in METRICS}
    defined = {name: np.zeros(n_classes) for name in METRICS}
    if n_resamples and n_exams:
        weights = bootstrap_weights(n_exams, n_resamples, seed)
        # A few resamples at a time: each step holds some (resamples, exams) float arrays, which for all
        # resamples of a large dataset would not fit (1000 x 100,000 exams is 800 MB apiece).
        step = max(1, CELLS_PER_STEP // n_exams)
        parts = [
            _metrics(truth, scores, suggested, weights[b : b + step]) for b in range(0, n_resamples, step)
        ]
        replicates = {name: np.concatenate([part[name] for part in parts]) for name in METRICS}
        tail = (1.0 - confidence) / 2.0
        for name, values in replicates.items():
            with warnings.catch_warnings():  # a class undefined in every resample: NaN, as meant
                warnings.simplefilter("ignore", RuntimeWarning)
                lower[name], upper[name] = np.nanquantile(values, [tail, 1.0 - tail], axis=0)
            defined[name] = (~np.isnan(values)).mean(axis=0)
    tp, fp, tn, fn = counts
    return ClassStatistics(
        positives=truth.sum(axis=0).astype(np.int64),
        negatives=(~truth).sum(axis=0).astype(np.int64),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        scored=(~np.isnan(scores)).sum(axis=0).astype(np.int64),
        point=point,
        lower=lower,
        upper=upper,
        defined=defined,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
    )


def stacked(
    scores: Sequence[npt.ArrayLike], suggested: Sequence[npt.ArrayLike]
) -> tuple[FloatArray, BoolArray]:
    """The providers as one: a class is suggested where any provider suggests it, its score is the
    highest any provider gave (NaN where none scored it)."""
    stack = np.stack([np.asarray(s, dtype=np.float64) for s in scores])
    with warnings.catch_warnings():  # no provider scored the cell: NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        best = np.nanmax(stack, axis=0)
    return best, np.stack([np.asarray(s, dtype=bool) for s in suggested]).any(axis=0)


def truth_rhythm(truth: npt.ArrayLike, codes: Sequence[str]) -> list[str]:
    """Per exam, the first of ``codes`` (rhythm codes in order of precedence, the columns of ``truth``)
    that the reference names, or :data:`NONE`."""
    truth = np.asarray(truth, dtype=bool)
    first = truth.argmax(axis=1)
    return [codes[i] if truth[e, i] else NONE for e, i in enumerate(first)]


def top_rhythm(scores: npt.ArrayLike, suggested: npt.ArrayLike, codes: Sequence[str]) -> list[str]:
    """Per exam, the suggested rhythm with the highest score (equal scores: the first in ``codes``, the
    columns, in order of precedence), or :data:`NONE` when no rhythm is suggested."""
    scores, suggested = np.asarray(scores, dtype=np.float64), np.asarray(suggested, dtype=bool)
    ranked = np.where(suggested, np.nan_to_num(scores, nan=-np.inf), -np.inf)
    best = ranked.argmax(axis=1)  # argmax keeps the first of equal maxima
    return [codes[i] if suggested[e, i] else NONE for e, i in enumerate(best)]


def rhythm_labels(order: Sequence[str], *columns: Sequence[str]) -> list[str]:
    """The rows and columns of a rhythm confusion matrix: the labels of ``order`` that occur in
    ``columns``, then any others in order of appearance, then :data:`NONE`."""
    present = [label for column in columns for label in column]
    labels = [code for code in order if code in set(present)]
    labels += [code for code in dict.fromkeys(present) if code not in labels and code != NONE]
    return [*labels, NONE]


def rhythm_confusion(truth: Sequence[str], found: Sequence[str], labels: Sequence[str]) -> IntArray:
    """The confusion matrix over ``labels``: rows the reference's rhythm, columns the suggested one."""
    index = {code: i for i, code in enumerate(labels)}
    cells = np.array(
        [index[t] * len(labels) + index[f] for t, f in zip(truth, found, strict=True)], dtype=np.intp
    )
    return np.bincount(cells, minlength=len(labels) ** 2).reshape(len(labels), len(labels)).astype(np.int64)


def estimate_text(value: Mapping[str, Any], brackets: str = "[]") -> str:
    """One figure as a report prints it: "0.80 [0.33-1.00]*", the star where some resamples left it
    undefined; "-" when there is none. The command's text uses [], the markdown table ()."""
    if value["value"] is None:
        return "-"
    if value["lower"] is None:
        return f"{value['value']:.2f}"
    partial = "*" if value["defined"] < 1 else ""
    return (
        f"{value['value']:.2f} {brackets[0]}{value['lower']:.2f}-{value['upper']:.2f}{brackets[1]}{partial}"
    )
