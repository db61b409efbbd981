"""Specific agreement per class and whole-exam agreement on the exams that carry a finding, as the stored
agreement result keeps them (annotations.lib.stats.specific computes them).

Their intervals are a percentile bootstrap over exams drawn with the seed and number of resamples of the
batch's other intervals, so with readers fixed they come from the very same resamples. Specific agreement
stays over exams with the two-way method (exams and readers) too; the exams-with-a-finding rates then get
the two-way interval the kappas get (the default from three readers on), and ``interval`` names it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from annotations.lib.stats.bootstrap import UNIT_PATIENTS, BootstrapResult
from annotations.lib.stats.specific import SpecificAgreement, specific_agreement
from annotations.selectors.agreement.patients import exam_patients
from annotations.selectors.agreement.summary import ReadsSnapshot


def _num(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


@dataclass(frozen=True)
class SpecificParts:
    """Extra keys of each class row, in the snapshot's class order, and the batch's exams-with-a-finding
    figures (stored as ``results["exams_with_findings"]``)."""

    class_fields: list[dict[str, Any]]
    exams: dict[str, Any]


def _class_fields(result: SpecificAgreement, c: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for prefix, point, interval, defined in (
        ("positive", result.positive, result.positive_ci, result.positive_defined),
        ("negative", result.negative, result.negative_ci, result.negative_defined),
    ):
        fraction = float(defined[c])
        fields |= {
            f"{prefix}_specific_agreement": _num(point[c]),
            f"{prefix}_specific_agreement_ci": [_num(interval[0, c]), _num(interval[1, c])],
            f"{prefix}_specific_agreement_defined": fraction,
            f"{prefix}_specific_agreement_ci_partial": bool(0.0 < fraction < 1.0),
        }
    return fields | {
        "prevalence_index": _num(result.prevalence_index[c]),
        "bias_index": _num(result.bias_index[c]),
    }


def specific_agreement_parts(snapshot: ReadsSnapshot, boot: BootstrapResult) -> SpecificParts:
    """The figures of the snapshot's reads, intervals drawn as ``boot``'s were (see the module docstring)."""
    result = specific_agreement(
        snapshot.reads,
        n_resamples=boot.n_resamples,
        seed=boot.seed,
        confidence=boot.confidence,
        method=boot.method,
        clusters=exam_patients(snapshot.exam_ids) if boot.unit == UNIT_PATIENTS else None,
    )
    exams = {
        "n": result.n_exams_with_findings,
        "exact_match_rate": _num(result.exact_match_rate_with_findings),
        "exact_match_rate_ci": [_num(v) for v in result.exact_match_rate_with_findings_ci],
        "mean_jaccard": _num(result.mean_jaccard_with_findings),
        "mean_jaccard_ci": [_num(v) for v in result.mean_jaccard_with_findings_ci],
        "interval": boot.method,
    }
    return SpecificParts([_class_fields(result, c) for c in range(len(snapshot.class_ids))], exams)
