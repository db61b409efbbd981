"""The one check of a batch's exam criteria beyond each field's own: the designer page's form and the API's
serializer both ask it, so the same criteria are refused in the same words on both.

Pure: it takes the criteria as ExamCriteria names them (the page's "score_window" already split into
suggestion_provider and suggestion_code) and returns, per field, why they cannot be honoured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# A range whose low end is above its high end matches nothing: refused, naming the low end, rather than
# answered "no exam matches" (the bounds were swapped).
RANGES = (
    ("age_min", "age_max", gettext_lazy("the lowest age is above the highest")),
    ("suggestion_min", "suggestion_max", gettext_lazy("the lowest score is above the highest")),
    ("imported_from", "imported_to", gettext_lazy("the earliest import date is after the latest")),
    ("acquired_from", "acquired_to", gettext_lazy("the earliest acquisition date is after the latest")),
)


def criteria_problems(criteria: Mapping[str, Any]) -> dict[str, str]:
    """Field name -> why these criteria cannot be honoured; empty when they can."""
    problems = {
        low: str(message)
        for low, high, message in RANGES
        if criteria.get(low) is not None and criteria.get(high) is not None and criteria[low] > criteria[high]
    }
    return {**_window_problems(criteria), **problems}


def _window_problems(criteria: Mapping[str, Any]) -> dict[str, str]:
    """A score window names both the model and the statement whose score it bounds: the selection applies
    it only then, so bounds without them would be dropped and every exam match."""
    provider, code = criteria.get("suggestion_provider"), criteria.get("suggestion_code")
    bounded = criteria.get("suggestion_min") is not None or criteria.get("suggestion_max") is not None
    if provider and code:
        return {}
    if not (provider or code):
        return (
            {"suggestion_provider": _("choose the model score whose window these bounds are")}
            if bounded
            else {}
        )
    missing = "suggestion_provider" if not provider else "suggestion_code"
    return {
        missing: _(
            "a score window needs both suggestion_provider (the model) and suggestion_code (the "
            "statement whose score it bounds)"
        )
    }
