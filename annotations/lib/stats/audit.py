"""A re-adjudication audit's statistics: how often the released labels differ from a blinded re-read of a
simple random sample of the released exams, per class, and how well one adjudicator agrees with another.

Arrays are ``[exams, classes]`` of 1, 0 or :data:`MISSING` (-1): a released cell that is undecided, or an
audit cell with no reads or a tie among its auditors, is left out of the counts and counted apart, since
neither says what the label is. The audit label is the reference: an "error" is a released cell the
audit's majority contradicts, which is an error of the release only where the audit is right.

The sample is drawn without replacement from a finite population of ``population`` exams. The Wilson
interval used here ignores that (it is for an infinite population), so it is conservative: the finite
population correction ``sqrt((N - n) / (N - 1))`` that would narrow it is reported beside it, and with
the population size lets a reader scale the rate to an expected number of wrong labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .bootstrap import cluster_weights
from .coefficients import cohen_kappa_from_confusion
from .readers import wilson_interval
from .reads import MISSING, JsonMixin, _ratio

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Resamples of the percentile bootstrap of the adjudicators' kappa.
KAPPA_RESAMPLES = 2000


def audit_majority(
    positive: npt.ArrayLike, total: npt.ArrayLike
) -> tuple[npt.NDArray[np.int8], npt.NDArray[Any]]:
    """(labels, ties): per cell 1 where more than half of the ``total`` audit reads marked it, 0 where fewer
    did, and MISSING for a tie or no read; ``ties`` flags the ties."""
    pos, tot = np.asarray(positive, dtype=np.int64), np.asarray(total, dtype=np.int64)
    ties = (tot > 0) & (2 * pos == tot)
    labels = np.where(2 * pos > tot, 1, 0).astype(np.int8)
    labels[ties | (tot == 0)] = MISSING
    return labels, ties


@dataclass(frozen=True)
class AuditErrorRates(JsonMixin):
    """Per class (arrays of length ``classes``; intervals ``[2, classes]``) the released labels against
    the audit's: ``compared`` cells both decided, ``errors`` of them differing, ``false_positives``
    (released 1, audit 0) over ``audit_negatives`` and ``false_negatives`` (released 0, audit 1) over
    ``audit_positives``; ``released_undecided`` and ``audit_ties`` count the cells left out."""

    sample: int
    population: int
    finite_population_correction: float
    compared: IntArray
    errors: IntArray
    error_rate: FloatArray
    error_ci: FloatArray
    false_positives: IntArray
    audit_negatives: IntArray
    false_positive_rate: FloatArray
    false_positive_ci: FloatArray
    false_negatives: IntArray
    audit_positives: IntArray
    false_negative_rate: FloatArray
    false_negative_ci: FloatArray
    released_undecided: IntArray
    audit_ties: IntArray
    estimated_errors: FloatArray  # error_rate x population: the expected wrong labels of the class
    estimated_errors_ci: FloatArray


def _rate(count: IntArray, n: IntArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    return _ratio(count, n), wilson_interval(count, n, confidence)


def audit_error_rates(
    released: npt.ArrayLike,
    audited: npt.ArrayLike,
    ties: npt.ArrayLike,
    *,
    population: int,
    confidence: float = 0.95,
) -> AuditErrorRates:
    """The error rates of the released labels of a sample against the audit's labels (both ``[exams,
    classes]`` of 1, 0, MISSING; ``ties`` the audit's tied cells, :func:`audit_majority`)."""
    rel, aud = np.asarray(released, dtype=np.int8), np.asarray(audited, dtype=np.int8)
    if rel.shape != aud.shape or rel.ndim != 2:
        raise ValueError("released and audited must be [exams, classes] arrays of one shape")
    if population < rel.shape[0]:
        raise ValueError("the population cannot be smaller than the sample")
    both = (rel != MISSING) & (aud != MISSING)
    fp = (both & (rel == 1) & (aud == 0)).sum(axis=0)
    fn = (both & (rel == 0) & (aud == 1)).sum(axis=0)
    negatives = (both & (aud == 0)).sum(axis=0)
    positives = (both & (aud == 1)).sum(axis=0)
    compared = both.sum(axis=0)
    error_rate, error_ci = _rate(fp + fn, compared, confidence)
    n = rel.shape[0]
    return AuditErrorRates(
        sample=n,
        population=int(population),
        finite_population_correction=float(np.sqrt((population - n) / (population - 1)))
        if population > 1
        else 0.0,
        compared=compared,
        errors=fp + fn,
        error_rate=error_rate,
        error_ci=error_ci,
        false_positives=fp,
        audit_negatives=negatives,
        false_positive_rate=_rate(fp, negatives, confidence)[0],
        false_positive_ci=_rate(fp, negatives, confidence)[1],
        false_negatives=fn,
        audit_positives=positives,
        false_negative_rate=_rate(fn, positives, confidence)[0],
        false_negative_ci=_rate(fn, positives, confidence)[1],
        released_undecided=((rel == MISSING) & (aud != MISSING)).sum(axis=0),
        audit_ties=np.asarray(ties, dtype=bool).sum(axis=0),
        estimated_errors=error_rate * population,
        estimated_errors_ci=error_ci * population,
    )


def _kappa_interval(
    original: npt.NDArray[np.bool_],
    auditor: npt.NDArray[np.bool_],
    exams: npt.ArrayLike,
    seed: int,
    confidence: float,
) -> list[float | None]:
    """Percentile bootstrap of kappa over exams (an exam's classes were decided together, so they are
    resampled together); resamples where kappa is undefined are left out."""
    weights = cluster_weights(exams, KAPPA_RESAMPLES, seed).astype(np.float64)
    cells = np.stack(
        [~original & ~auditor, ~original & auditor, original & ~auditor, original & auditor], axis=1
    )
    confusion = (weights @ cells.astype(np.float64)).reshape(-1, 2, 2)
    kappas = cohen_kappa_from_confusion(confusion)
    kappas = kappas[~np.isnan(kappas)]
    if not len(kappas):
        return [None, None]
    tail = (1.0 - confidence) / 2.0
    return [float(v) for v in np.quantile(kappas, [tail, 1.0 - tail])]


def adjudicator_agreement(
    original: npt.ArrayLike,
    auditor: npt.ArrayLike,
    exams: npt.ArrayLike,
    *,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """One adjudicator's decisions against another's reading of the same cells (booleans, one per cell;
    ``exams`` the exam of each cell): cells, exams, agreements, percent agreement with its Wilson interval,
    Cohen's kappa with a seeded percentile bootstrap interval over exams. None where undefined."""
    first, second = np.asarray(original, dtype=bool), np.asarray(auditor, dtype=bool)
    n = len(first)
    out: dict[str, Any] = {
        "cells": n,
        "exams": len(np.unique(np.asarray(exams))),
        "agreements": int((first == second).sum()),
    }
    if not n:
        return {
            **out,
            "agreement": None,
            "agreement_ci": [None, None],
            "kappa": None,
            "kappa_ci": [None, None],
        }
    confusion = np.array(
        [
            [(~first & ~second).sum(), (~first & second).sum()],
            [(first & ~second).sum(), (first & second).sum()],
        ]
    )
    kappa = float(cohen_kappa_from_confusion(confusion))
    low, high = wilson_interval(out["agreements"], n, confidence)
    return {
        **out,
        "agreement": out["agreements"] / n,
        "agreement_ci": [float(low), float(high)],
        "kappa": None if np.isnan(kappa) else kappa,
        "kappa_ci": _kappa_interval(first, second, exams, seed, confidence),
    }
