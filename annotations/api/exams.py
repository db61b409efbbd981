"""Exams over the API, for coordinators."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.api.suggestions import RationaleSerializer
from annotations.lib.ecg.quality import EXAM_FLAGS
from annotations.models import Exam
from annotations.selectors.exams.browse import (
    exam_for_coordinator,
    exam_reference_labels,
    exam_suggestions,
    exams_same_waveform,
)
from annotations.selectors.exams.listing import (
    EXACT_COUNT_LIMIT,
    SORTS,
    exam_count,
    exam_count_estimate,
    exam_filters_from,
    exam_list_refuse_unknown,
    exam_page,
)
from annotations.selectors.imports import exam_reference_findings
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
COUNT_LIMIT = EXACT_COUNT_LIMIT


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
    OpenApiParameter(
        "label_system",
        str,
        description="The reference label's code system, in any case (any system if blank); alone, the "
        "exams holding any label of that system.",
    ),
    OpenApiParameter(
        "label_code",
        str,
        description="Exams holding this reference label code, in any case; with no "
        "label_system, 'code15:rbbb' names the system too.",
    ),
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
        """List exams, filtered and sorted

        Coordinators only. One page of 100 exams matching the filters of the query parameters, in the sort
        asked for; `next` and `previous` lead to the pages beside it, filters and sort kept. `count` is
        exact up to a limit (its field says which) or with `count=exact`, and null past it, where
        `count_estimate` gives the database's estimate. 400 for a malformed date, a cursor this list did
        not make, a parameter it does not take or a grade, flag, sort or count it does not know."""
        params = request.query_params
        exam_list_refuse_unknown(params)
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
        answer = {
            "count": count,
            "count_estimate": count if count is not None else exam_count_estimate(request.user, filters),
            "next": f"{here}?{page.next_query}" if page.next_query else None,
            "previous": f"{here}?{page.previous_query}" if page.previous_query else None,
            "results": page.exams,
        }
        return Response(ExamPageSerializer(answer).data)


class ReferenceLabelSerializer(serializers.Serializer):
    code_system = serializers.CharField()
    code = serializers.CharField()
    likelihood = serializers.FloatField(allow_null=True)
    # Named like an attribute of DRF's Field: the serializer's metaclass moves it off the class.
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]


class ReferenceFindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    qualifiers = serializers.ListField(child=serializers.CharField())


class BatchRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()


class ExamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dataset = serializers.CharField(source="dataset.name")
    external_id = serializers.CharField()


class ExamScoreSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    score = serializers.FloatField()
    suggested = serializers.BooleanField(help_text="The score reaches the provider's threshold for the code.")
    rationale = RationaleSerializer(allow_null=True, help_text="Why a rule scored it; null where none given.")


class ExamSuggestionSerializer(serializers.Serializer):
    provider = serializers.CharField()
    version = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "failed"])
    error = serializers.CharField(allow_blank=True)
    computed_at = serializers.DateTimeField()
    scores = ExamScoreSerializer(many=True, help_text="One per statement code, highest first.")
    measurements = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Global measurements (heart_rate_bpm, pr_ms, qrs_axis_deg...).",
    )


class ExamDetailSerializer(ExamSerializer):
    lead_names = serializers.ListField(child=serializers.CharField())
    quality_flags = serializers.ListField(child=serializers.CharField())
    quality_report = serializers.DictField(help_text="Per lead and exam-level signal quality, from import.")
    reference_labels = ReferenceLabelSerializer(many=True, help_text="Never shown to readers.")
    reference_findings = ReferenceFindingSerializer(
        many=True,
        help_text="The reference labels as statements of the default taxonomy, with the qualifiers a device "
        "line gives them (an infarct line's wall and age). Never shown to readers.",
    )
    batches = BatchRefSerializer(many=True, help_text="The batches holding the exam.")
    same_waveform = ExamRefSerializer(many=True, help_text="Other exams holding the very same samples.")
    suggestions = ExamSuggestionSerializer(many=True, help_text="Every provider version's, newest first.")
    device_measurements = serializers.DictField(
        child=serializers.FloatField(),
        help_text="The recording device's global measurements as its file gave them (heart_rate_bpm, rr_ms, "
        "pr_ms, qrs_ms, qt_ms, qtc_ms by the device's own formula, qtc_bazett_ms, qtc_fridericia_ms, "
        "p_axis_deg, qrs_axis_deg, t_axis_deg, atrial_rate_bpm); empty when it gave none.",
    )

    class Meta(ExamSerializer.Meta):
        fields = [
            *ExamSerializer.Meta.fields,
            "lead_names",
            "quality_flags",
            "quality_report",
            "reference_labels",
            "reference_findings",
            "batches",
            "same_waveform",
            "suggestions",
            "device_measurements",
        ]


def _exam_detail(user, exam_id: int) -> dict:
    """What ExamDetailSerializer reads: the exam's own fields (the dataset as its row, whose name the
    serializer takes), the rows the selectors found, and each suggestion under the names the API gives."""
    exam, batches = exam_for_coordinator(user, exam_id)
    return {
        **{name: getattr(exam, name) for name in ExamSerializer.Meta.fields},
        "lead_names": exam.lead_names,
        "quality_flags": [flag for flag in exam.quality_flags.split(",") if flag],
        "quality_report": exam.quality_report or {},
        "reference_labels": exam_reference_labels(user, exam),
        "reference_findings": exam_reference_findings(exam),
        "batches": batches,
        "same_waveform": exams_same_waveform(user, exam),
        "suggestions": [
            {
                "provider": item["suggestion"].provider,
                "version": item["suggestion"].provider_version,
                "status": item["suggestion"].status,
                "error": item["suggestion"].error,
                "computed_at": item["suggestion"].computed_at,
                "scores": item["scores"],
                "measurements": {m["key"]: m["value"] for m in item["measurements"]},
            }
            for item in exam_suggestions(user, exam)
        ],
        "device_measurements": exam.device_measurements or {},
    }


class ExamDetailView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(operation_id="v1_exams_retrieve", responses=ExamDetailSerializer)
    def get(self, request, exam_id: int):
        """Get one exam as its page shows it

        Coordinators only (404 for an unknown exam). Returns the exam's metadata and lead names, its
        signal-quality report, its reference labels (never shown to readers), the batches holding it, the
        other exams holding the very same samples, what every provider version said of it, newest
        first (scores, measurements, or why it failed), and the recording device's own measurements. The
        samples come from the exam's waveform download (see the API's description)."""
        return Response(ExamDetailSerializer(_exam_detail(request.user, exam_id)).data)


urlpatterns = [
    path("v1/exams/", ExamListView.as_view(), name="api-exam-list"),
    path("v1/exams/<int:exam_id>/", ExamDetailView.as_view(), name="api-exam-detail"),
    path("v1/exams/<int:exam_id>/waveform/", exam_waveform, name="api-exam-waveform"),
]
