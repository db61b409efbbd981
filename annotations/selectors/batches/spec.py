"""The one way a batch request becomes a BatchSpec (and its criteria an ExamCriteria), whether it comes
from the designer form's cleaned data, the API's validated data or a management command's options.

Each source names its values as BatchSpec's and ExamCriteria's fields; what the sources differ in is
only how they say "not given" (a form's empty string, the API's null), which is settled here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from annotations.selectors.batches.plan import BatchSpec
from annotations.selectors.exams.selection import ExamCriteria

_CRITERIA_FIELDS = {f.name for f in fields(ExamCriteria)}
_SPEC_FIELDS = {f.name for f in fields(BatchSpec)} - {"criteria"}
# Optional text a form leaves as "": not given.
_BLANK_IS_NONE = ("stratify_provider", "stratify_code", "escalation")
# Left blank (a form's "", the API's null, a command without the option): the spec's default.
_BLANK_IS_DEFAULT = ("blind_measurements",)


def _labels(value: str | list[str] | None) -> list[str]:
    """Reference labels as a list; the designer form's field is one comma-separated string."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return list(value or [])


def exam_criteria(data: Mapping[str, Any] | None) -> ExamCriteria:
    """The criteria among ``data``'s keys (others are ignored); blanks mean any."""
    given = {name: value for name, value in (data or {}).items() if name in _CRITERIA_FIELDS}
    return ExamCriteria(
        **{
            **given,
            "datasets": list(given.get("datasets") or []),
            "sex": given.get("sex") or None,
            "reference_labels": _labels(given.get("reference_labels")),
            "quality_grades": list(given.get("quality_grades") or []),
            "quality_without": list(given.get("quality_without") or []),
        }
    )


def batch_spec(data: Mapping[str, Any]) -> BatchSpec:
    """The spec from ``data`` (BatchSpec's field names, ``criteria`` a mapping of ExamCriteria's); a field
    absent or left blank takes BatchSpec's default."""
    given = {name: value for name, value in data.items() if name in _SPEC_FIELDS}
    for name in _BLANK_IS_NONE:
        if name in given:
            given[name] = given[name] or None
    if "escalation_classes" in given:  # the designer form's field is one comma-separated string
        given["escalation_classes"] = _labels(given["escalation_classes"])
    if "escalation_weights" in given:
        given["escalation_weights"] = dict(given["escalation_weights"] or {})
    for name in (
        "escalation_cap",
        "escalation_trigger",
        "escalation_threshold",
        "consensus_method",
        "consensus_threshold",
        "latent_margin",
    ):
        if given.get(name) in (None, ""):  # left blank: the spec's default
            given.pop(name, None)
    for name in _BLANK_IS_DEFAULT:
        if given.get(name) in (None, ""):
            given.pop(name, None)
    given["independence_off_reason"] = str(given.get("independence_off_reason") or "").strip()
    for name in (
        "exclude_seen",
        "serial_comparison",
        "device_measurements_shown",
    ):  # an unticked form box is None
        if name in given:
            given[name] = bool(given[name])
    return BatchSpec(**given, criteria=exam_criteria(data.get("criteria")))
