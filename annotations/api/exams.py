"""Exams over the API, for coordinators."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.lib.ecg.quality import EXAM_FLAGS
from annotations.models import Exam
from annotations.selectors.exams.listing import (
    SORTS,
    exam_count,
    exam_count_estimate,
    exam_filters_from,
    exam_page,
)
from annotations.views.exams import exam_waveform


class ExamSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.name")

    class Meta:
        model = Exam
        fields = [
            "id",
            "dataset",
            "external_id",
            "age",
            "sex",
            "sampling_rate",
            "n_samples",
            "source_format",
            "imported_at",
            "acquired_at",
            "quality_grade",
        ]


# Rows per page; pages are keyset pages (annotations.selectors.exams.listing), followed by `next`.
PAGE_SIZE = 100
# Up to this many matches `count` is exact; past it, counting every match of millions of exams on every
# page cost a second, so `count` is null unless ?count=exact asks, and `count_estimate` says how many.
COUNT_LIMIT = 1_000


class ExamPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        allow_null=True,
        help_text=f"Exams the filters keep, over every page: exact up to {COUNT_LIMIT:,}, or whenever "
        "count=exact is asked; null past that (see count_estimate).",
    )
    count_estimate = serializers.IntegerField(
        help_text="`count` when it is known; otherwise PostgreSQL's planner estimate of it, which can be "
        "far off when filters combine.",
    )
    next = serializers.URLField(allow_null=True, help_text="The next page, filters and sort kept.")
    previous = serializers.URLField(allow_null=True)
    results = ExamSerializer(many=True)


_PARAMETERS = [
    OpenApiParameter("dataset", str, description="A dataset's name, compared exactly."),
    OpenApiParameter("acquired_from", OpenApiTypes.DATE, description="Acquired on or after (YYYY-MM-DD)."),
    OpenApiParameter("acquired_to", OpenApiTypes.DATE, description="Acquired on or before (YYYY-MM-DD)."),
    OpenApiParameter("quality", str, enum=["good", "acceptable", "poor", "none"]),
    OpenApiParameter("flag", str, enum=list(EXAM_FLAGS)),
    OpenApiParameter("label_system", str, description="The reference label's code system (any if blank)."),
    OpenApiParameter("label_code", str, description="Exams holding this reference label code."),
    OpenApiParameter("sort", str, enum=[f"{sign}{name}" for name in SORTS for sign in ("", "-")]),
    OpenApiParameter("after", str, description="A cursor from `next`."),
    OpenApiParameter("before", str, description="A cursor from `previous`."),
    OpenApiParameter(
        "count",
        str,
        enum=["exact"],
        description="`exact` counts every match, however many: slow on millions of exams.",
    ),
]


class ExamListView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(operation_id="v1_exams_list", parameters=_PARAMETERS, responses=ExamPageSerializer)
    def get(self, request):
        params = request.query_params
        filters = exam_filters_from(params)
        page = exam_page(
            request.user,
            filters,
            after=params.get("after", ""),
            before=params.get("before", ""),
            size=PAGE_SIZE,
        )
        here = request.build_absolute_uri(request.path)
        exact = params.get("count") == "exact"
        count = exam_count(request.user, filters, limit=None if exact else COUNT_LIMIT)
        return Response(
            {
                "count": count,
                "count_estimate": count if count is not None else exam_count_estimate(request.user, filters),
                "next": f"{here}?{page.next_query}" if page.next_query else None,
                "previous": f"{here}?{page.previous_query}" if page.previous_query else None,
                "results": ExamSerializer(page.exams, many=True).data,
            }
        )


urlpatterns = [
    path("v1/exams/", ExamListView.as_view(), name="api-exam-list"),
    path("v1/exams/<int:exam_id>/waveform/", exam_waveform, name="api-exam-waveform"),
]
