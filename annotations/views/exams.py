"""Exam pages for coordinators: the list with quality filters, and one exam's page (its ECG, reference
labels, quality report and batches) with the waveform download that page draws from."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from annotations.errors import Invalid
from annotations.models import QUALITY_FLAG_CHOICES, QualityGrade
from annotations.roles import Role, has_role
from annotations.selectors.exams import listing
from annotations.selectors.exams.browse import (
    dataset_list,
    exam_for_coordinator,
    exam_for_waveform,
    exam_measurements_compared,
    exam_model_outputs,
    exam_reference_labels,
    exam_suggestions,
    exams_same_waveform,
)
from annotations.selectors.exams.listing import (
    ExamFilters,
    ExamPage,
    exam_count,
    exam_count_estimate,
    exam_filters_from,
    exam_page,
)
from annotations.selectors.suggestions.explanations import exam_relevance_summary
from annotations.services.suggestions import occlusion_suggestions
from annotations.views.access import api_login_required, role_required
from annotations.views.reading import waveform_response

# Rows per page. The list is read by keyset (annotations.selectors.exams.listing): no page numbers, no
# exact count past EXACT_COUNT_LIMIT matches, only the pages before and after.
PAGE_SIZE = 50
SORT_CHOICES = [
    ("dataset", _("dataset, then exam")),
    ("-dataset", _("dataset, then exam (descending)")),
    ("date", _("acquired, oldest first")),
    ("-date", _("acquired, newest first")),
    ("external_id", _("exam id")),
    ("-external_id", _("exam id (descending)")),
    ("quality", _("signal quality, worst first")),
    ("-quality", _("signal quality, best first")),
]


def _estimate_past(user, filters: ExamFilters, limit: int) -> int | None:
    """The planner's estimate of the matches, when it is above the limit the exact count stopped at; a
    lower estimate (stale statistics) would contradict the "more than" it stands beside."""
    estimate = exam_count_estimate(user, filters)
    return estimate if estimate > limit else None


@role_required(Role.COORDINATOR)
def exams(request):
    error = ""
    try:
        filters = exam_filters_from(request.GET)
        page = exam_page(
            request.user,
            filters,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            size=PAGE_SIZE,
        )
    except Invalid as refused:
        error, filters = refused.message, ExamFilters()
        page = ExamPage(exams=[], filters=filters)
    count = exam_count(request.user, filters, limit=listing.EXACT_COUNT_LIMIT)
    return render(
        request,
        "annotations/exams/list.html",
        {
            "page": page,
            "filters": filters,
            "error": error,
            "datasets": dataset_list(request.user),
            "grades": QualityGrade.choices,
            "flags": QUALITY_FLAG_CHOICES,
            "sorts": SORT_CHOICES,
            "count": count,
            "count_limit": listing.EXACT_COUNT_LIMIT,
            "count_estimate": _estimate_past(request.user, filters, listing.EXACT_COUNT_LIMIT)
            if count is None
            else count,
        },
    )


def exam_detail(request, exam_id: int):
    exam, batches = exam_for_coordinator(request.user, exam_id)
    report = exam.quality_report or {}
    labels = dict(QUALITY_FLAG_CHOICES)
    leads = [
        {"name": name, **values, "flag_labels": [labels.get(flag, flag) for flag in values.get("flags", [])]}
        for name, values in (report.get("leads") or {}).items()
    ]
    return render(
        request,
        "annotations/exams/detail.html",
        {
            "exam": exam,
            "batches": batches,
            "report": report,
            "leads": leads,
            "flag_labels": [labels.get(flag, flag) for flag in report.get("flags", [])],
            "residuals": sorted((report.get("residuals") or {}).items()),
            "same_waveform": exams_same_waveform(request.user, exam),
            "reference_labels": exam_reference_labels(request.user, exam),
            "model_outputs": exam_model_outputs(request.user, exam),
            "suggestions": exam_suggestions(request.user, exam),
            "measurements": exam_measurements_compared(request.user, exam),
            "explanations": exam_relevance_summary(request.user, exam),
            "occlusion_offered": bool(occlusion_suggestions(exam)),
            "waveform_url": reverse("api-exam-waveform", args=[exam.pk]),
            # The view preferences are the readers' and adjudicators' (api/reading.ReadsEcgs); a
            # coordinator without either role gets the standard view and saves nothing.
            "keeps_preferences": any(
                has_role(request.user, role) for role in (Role.READER, Role.ADJUDICATOR)
            ),
        },
    )


# Coordinators only; everyone else gets 404 from the selector (a reader must not learn which batches
# hold an exam, not even that the page exists for it). Declared for the access-matrix test.
exam_detail.required_roles = frozenset({Role.COORDINATOR})  # type: ignore[attr-defined]


@api_login_required
@role_required(Role.COORDINATOR)
@require_GET
def exam_waveform(request, exam_id: int):
    """The exam's samples for the exam page, in the readers' wire format and caching; coordinators only.
    The scope names the viewer, so the ETag never matches a reader's or an adjudicator's of one exam."""
    exam = exam_for_waveform(request.user, exam_id)
    return waveform_response(request, exam, f"exam:{request.user.pk}:{exam.pk}")


urlpatterns = [
    path("exams/", exams, name="exams"),
    path("exams/<int:exam_id>/", exam_detail, name="exam-detail"),
]
