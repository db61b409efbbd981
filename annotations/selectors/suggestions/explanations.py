"""The relevance bands stored for an exam, for the coordinator's exam page: which model explained
which class, by which method. Readers get bands only through selectors.reading.explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from annotations.errors import Forbidden
from annotations.models import Exam, Suggestion, SuggestionRelevance
from annotations.roles import Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def exam_relevance_summary(user: User, exam: Exam) -> list[dict[str, Any]]:
    """Per OK suggestion of the exam, newest first: provider, version, and its bands as
    {code, method, leads, peak}; suggestions without bands are listed too (the button explains them)."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden(_("coordinators only"))
    suggestions = Suggestion.objects.filter(exam=exam, status=Suggestion.Status.OK).order_by(
        "-computed_at", "-id"
    )
    bands: dict[int, list[dict[str, Any]]] = {}
    for band in SuggestionRelevance.objects.filter(suggestion__in=suggestions).order_by("code", "method"):
        bands.setdefault(band.suggestion_id, []).append(
            {"code": band.code, "method": band.get_method_display(), "leads": band.leads, "peak": band.peak}
        )
    return [
        {"provider": s.provider, "version": s.provider_version, "bands": bands.get(s.pk, [])}
        for s in suggestions
    ]
