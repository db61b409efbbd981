"""Exam pages for coordinators: the list with quality filters and one exam's quality report."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path

from annotations.models import QUALITY_FLAG_CHOICES, QualityGrade
from annotations.roles import Role
from annotations.selectors.exams.browse import dataset_list, exam_for_coordinator, exam_list
from annotations.views.access import role_required


@role_required(Role.COORDINATOR)
def exams(request):
    dataset = request.GET.get("dataset") or None
    grade = request.GET.get("quality") or None
    flag = request.GET.get("flag") or None
    listed = exam_list(request.user, dataset=dataset, quality_grade=grade, quality_flag=flag)
    page = Paginator(listed, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "annotations/exams/list.html",
        {
            "page": page,
            "datasets": dataset_list(request.user),
            "dataset": dataset,
            "quality": grade,
            "flag": flag,
            "grades": QualityGrade.choices,
            "flags": QUALITY_FLAG_CHOICES,
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
        },
    )


# Coordinators only; everyone else gets 404 from the selector (a reader must not learn which batches
# hold an exam, not even that the page exists for it). Declared for the access-matrix test.
exam_detail.required_roles = frozenset({Role.COORDINATOR})


urlpatterns = [
    path("exams/", exams, name="exams"),
    path("exams/<int:exam_id>/", exam_detail, name="exam-detail"),
]
