"""API for blind benchmarks: coordinators create and close them and read their labels; submitters
download the tracings, submit predictions and read their own figures beside the readers'."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import HasRole, IsCoordinator
from annotations.errors import Invalid
from annotations.models import Benchmark, BenchmarkSubmission
from annotations.roles import Role
from annotations.selectors.benchmarks import (
    benchmark_exam_ids,
    benchmark_get,
    benchmark_labels,
    benchmark_list,
    benchmark_readers,
    benchmark_release,
    leaderboard,
    quota_left,
    submission_get,
    submission_list,
    submission_view,
    visible_splits,
)
from annotations.services.benchmarks.create import WFDB_NAME, benchmark_close, benchmark_create
from annotations.services.benchmarks.submissions import submission_create
from annotations.views.benchmarks import parse_thresholds, submission_body_bytes, tracings_response
from ecgreview.client_address import client_ip
from ecgreview.json_body import StrictJSONParser


class IsCoordinatorOrSubmitter(HasRole):
    roles = frozenset({Role.COORDINATOR, Role.SUBMITTER})


class IsSubmitter(HasRole):
    roles = frozenset({Role.SUBMITTER})


class BenchmarkCreateSerializer(StrictSerializer):
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    label_source = serializers.ChoiceField(choices=Benchmark.LabelSource.values)
    private_fraction = serializers.FloatField(required=False, default=0.5, min_value=0.0, max_value=0.99)
    daily_quota = serializers.IntegerField(required=False, default=5, min_value=1, max_value=1000)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)


class SubmissionCreateSerializer(StrictSerializer):
    file = serializers.FileField(help_text="NPY (exams x classes, in the tracings' row order) or CSV.")
    model_name = serializers.CharField(max_length=100)
    model_version = serializers.CharField(max_length=60)
    thresholds = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=4000, help_text="One per class, commas."
    )
    threshold_rule = serializers.ChoiceField(
        choices=BenchmarkSubmission.ThresholdRule.values, required=False, default="submitted"
    )


def _object(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.JSONField(), help_text=help_text)


class BenchmarkSerializer(serializers.Serializer):
    """Reads a Benchmark as the context's `user` may see it; its own page adds readers, leaderboard, exams."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    release = serializers.IntegerField(source="release_id")
    label_source = serializers.ChoiceField(choices=Benchmark.LabelSource.values)
    classes = serializers.ListField(child=serializers.CharField(), help_text="The score columns, in order.")
    exam_count = serializers.IntegerField()
    private_count = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Benchmark.Status.choices)
    error = serializers.CharField(help_text="Why a failed benchmark could not be prepared; empty otherwise.")
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    daily_quota = serializers.IntegerField()
    tracings = _object("The tracings files: name, bytes, sha256.")
    splits_shown = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_splits_shown(self, benchmark: Benchmark) -> list[str]:
        return list(visible_splits(self.context["user"], benchmark))


class BenchmarkDetailSerializer(BenchmarkSerializer):
    """A benchmark's own page: every reader of the release scored against its labels, the finished
    submissions, and the exam ids in the tracings' row order (what the list leaves out)."""

    readers = serializers.SerializerMethodField()
    leaderboard = serializers.SerializerMethodField()
    exam_ids = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=_object("One reader's figures against the labels.")))
    def get_readers(self, benchmark: Benchmark) -> list[dict[str, Any]]:
        return benchmark_readers(self.context["user"], benchmark)

    @extend_schema_field(serializers.ListField(child=_object("One finished submission's summary.")))
    def get_leaderboard(self, benchmark: Benchmark) -> list[dict[str, Any]]:
        return leaderboard(self.context["user"], benchmark)

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), help_text="In row order."))
    def get_exam_ids(self, benchmark: Benchmark) -> list[str]:
        return benchmark_exam_ids(self.context["user"], benchmark)


class SubmissionSerializer(serializers.Serializer):
    """A submission and the figures its viewer may see (submission_view)."""

    id = serializers.IntegerField()
    benchmark = serializers.IntegerField()
    model_name = serializers.CharField()
    model_version = serializers.CharField()
    file_name = serializers.CharField()
    file_sha256 = serializers.CharField()
    threshold_rule = serializers.CharField()
    thresholds = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    results = _object("Per split: per class, macro and micro figures with their intervals.")


class SubmissionListSerializer(serializers.Serializer):
    quota_left = serializers.IntegerField()
    submissions = SubmissionSerializer(many=True)


class BenchmarkListView(APIView):
    permission_classes = [IsCoordinatorOrSubmitter]

    @extend_schema(operation_id="benchmarks_list", responses={200: BenchmarkSerializer(many=True)})
    def get(self, request):
        """List the benchmarks

        Coordinators and submitters. Each benchmark's classes, exam counts, status and tracings file."""
        listed = benchmark_list(request.user)[:200]
        return Response(BenchmarkSerializer(listed, many=True, context={"user": request.user}).data)


class BenchmarkCreateView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=BenchmarkCreateSerializer, responses={201: BenchmarkSerializer})
    def post(self, request, release_id: int):
        """Turn a finished release into a blind benchmark

        Coordinators only. `label_source`: consensus (exams every class of which the readers settled),
        consensus_adjudication (adjudicated ones too) or reference (the exams' imported reference labels).
        `private_fraction` of the exams, drawn with `seed`, form the hidden split. Answers at once with
        `status` "preparing": a task writes the tracings and scores the release's readers, then the
        benchmark is "open" (follow its GET); submissions are refused with 409 until then. Audited."""
        payload = BenchmarkCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        release = benchmark_release(request.user, release_id)
        benchmark = benchmark_create(
            actor=request.user, release=release, ip_address=client_ip(request), **payload.validated_data
        )
        context = {"user": request.user}
        return Response(BenchmarkSerializer(benchmark, context=context).data, status=status.HTTP_201_CREATED)


class BenchmarkDetailView(APIView):
    permission_classes = [IsCoordinatorOrSubmitter]

    @extend_schema(responses={200: BenchmarkDetailSerializer})
    def get(self, request, benchmark_id: int):
        """Get a benchmark: readers' figures and the leaderboard

        Every reader of the release scored against the benchmark's labels, and the finished submissions,
        on the public split; on the private split too once the benchmark is closed (coordinators always).
        No per-exam figure, ever."""
        benchmark = benchmark_get(request.user, benchmark_id)
        return Response(BenchmarkDetailSerializer(benchmark, context={"user": request.user}).data)


class BenchmarkCloseView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=None, responses={200: BenchmarkSerializer})
    def post(self, request, benchmark_id: int):
        """Close a benchmark

        Coordinators only. No more submissions; every figure of the private split is shown. Audited."""
        benchmark = benchmark_close(
            actor=request.user,
            benchmark=benchmark_get(request.user, benchmark_id),
            ip_address=client_ip(request),
        )
        return Response(BenchmarkSerializer(benchmark, context={"user": request.user}).data)


class BenchmarkLabelsView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses={(200, "text/csv"): bytes})
    def get(self, request, benchmark_id: int):
        """Download a benchmark's labels

        Coordinators only: exam_id, split and one 0/1 column per class, in row order."""
        benchmark = benchmark_get(request.user, benchmark_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["exam_id", "split", *benchmark.classes])
        for key, split, labels in benchmark_labels(request.user, benchmark):
            writer.writerow([key, split, *labels])
        return HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")


class BenchmarkTracingsView(APIView):
    permission_classes = [IsCoordinatorOrSubmitter]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, benchmark_id: int):
        """Download a benchmark's tracings

        CODE-15%'s HDF5 layout: `tracings` (exams, 4096, 12) float32 at 400 Hz and `exam_id`, in the row
        order an NPY submission follows. No label. Audited."""
        return tracings_response(request.user, benchmark_get(request.user, benchmark_id), client_ip(request))


class BenchmarkWfdbView(APIView):
    permission_classes = [IsCoordinatorOrSubmitter]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, benchmark_id: int):
        """Download a benchmark's tracings as WFDB records

        One zip: a record per exam named by its row (000000...), at the recorded rate and resolution, its
        header's comment naming the exam id; `exam_ids.csv` and `RECORDS` list them. No label. Audited."""
        benchmark = benchmark_get(request.user, benchmark_id)
        return tracings_response(request.user, benchmark, client_ip(request), WFDB_NAME)


class SubmissionListCreateView(APIView):
    permission_classes = [IsSubmitter]
    max_body_bytes = staticmethod(submission_body_bytes)  # the upload's own cap (BodyLimitMiddleware)
    # JSON too, so that a body without the file is told what is missing rather than 415.
    parser_classes = [MultiPartParser, StrictJSONParser]

    @extend_schema(responses={200: SubmissionListSerializer})
    def get(self, request, benchmark_id: int):
        """List your submissions to a benchmark

        Submitters: their own, newest first, with the figures they may see and the quota left today."""
        benchmark = benchmark_get(request.user, benchmark_id)
        submissions = [submission_view(request.user, s) for s in submission_list(request.user, benchmark)]
        listed = {"quota_left": quota_left(request.user, benchmark), "submissions": submissions}
        return Response(SubmissionListSerializer(listed).data)

    @extend_schema(
        request={"multipart/form-data": SubmissionCreateSerializer}, responses={201: SubmissionSerializer}
    )
    def post(self, request, benchmark_id: int):
        """Submit predictions

        Submitters only, multipart: `file` (NPY or CSV of per-class scores in [0, 1] for every exam),
        `model_name`, `model_version`, and `thresholds` (one per class, commas) or `threshold_rule`
        max_f1_public. A file that is not exactly that is refused with the reason, nothing stored; 429
        past the daily quota. Scored in the background: follow the submission's GET. Audited."""
        benchmark = benchmark_get(request.user, benchmark_id)
        payload = SubmissionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        upload = data["file"]
        if upload.size > settings.BENCHMARK_MAX_SUBMISSION_MB * 1024 * 1024:
            raise Invalid(_("the file is over %(mb)s MB") % {"mb": settings.BENCHMARK_MAX_SUBMISSION_MB})
        submission = submission_create(
            actor=request.user,
            benchmark=benchmark,
            data=upload.read(),
            file_name=upload.name,
            model_name=data["model_name"],
            model_version=data["model_version"],
            thresholds=parse_thresholds(data["thresholds"]),
            threshold_rule=data["threshold_rule"],
            ip_address=client_ip(request),
        )
        shown = submission_view(request.user, submission_get(request.user, submission.pk))
        return Response(SubmissionSerializer(shown).data, status=status.HTTP_201_CREATED)


class SubmissionDetailView(APIView):
    permission_classes = [IsCoordinatorOrSubmitter]

    @extend_schema(responses={200: SubmissionSerializer})
    def get(self, request, submission_id: int):
        """Get one submission and its figures

        The submitter's own (404 for anyone else's), any for coordinators. Per class, macro and micro:
        AUROC, AUPRC, and at its thresholds sensitivity, specificity, PPV and F1, each with a bootstrap
        95% interval by exam; the private split only once the benchmark is closed."""
        submission = submission_get(request.user, submission_id)
        return Response(SubmissionSerializer(submission_view(request.user, submission)).data)


urlpatterns = [
    path("v1/benchmarks/", BenchmarkListView.as_view(), name="api-benchmark-list"),
    path(
        "v1/releases/<int:release_id>/benchmark/", BenchmarkCreateView.as_view(), name="api-benchmark-create"
    ),
    path("v1/benchmarks/<int:benchmark_id>/", BenchmarkDetailView.as_view(), name="api-benchmark-detail"),
    path("v1/benchmarks/<int:benchmark_id>/close/", BenchmarkCloseView.as_view(), name="api-benchmark-close"),
    path(
        "v1/benchmarks/<int:benchmark_id>/labels.csv",
        BenchmarkLabelsView.as_view(),
        name="api-benchmark-labels",
    ),
    path(
        "v1/benchmarks/<int:benchmark_id>/tracings.hdf5",
        BenchmarkTracingsView.as_view(),
        name="api-benchmark-tracings",
    ),
    path(
        "v1/benchmarks/<int:benchmark_id>/tracings-wfdb.zip",
        BenchmarkWfdbView.as_view(),
        name="api-benchmark-tracings-wfdb",
    ),
    path(
        "v1/benchmarks/<int:benchmark_id>/submissions/",
        SubmissionListCreateView.as_view(),
        name="api-benchmark-submissions",
    ),
    path("v1/submissions/<int:submission_id>/", SubmissionDetailView.as_view(), name="api-submission-detail"),
]
