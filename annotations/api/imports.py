"""API for imports: POST creates a job from uploaded files (or paths under IMPORT_ROOT), GET reads it."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsCoordinator
from annotations.lib.formats.registry import FORMATS
from annotations.selectors.imports import import_job_get
from annotations.services.imports.jobs import import_job_create, import_job_progress
from annotations.services.imports.outcomes import AMPLITUDE_SCALE_MAX, AMPLITUDE_SCALE_MIN
from ecgreview.json_body import StrictJSONParser
from ecgreview.middleware import upload_body_bytes


@extend_schema_field({"type": "string", "format": "binary"})
class UploadedFile(serializers.FileField):
    """A file of a multipart upload: binary in the schema (the framework's default, a uri string, made a
    generated client send names instead of files)."""


class ImportCreateSerializer(StrictSerializer):
    dataset = serializers.SlugField(max_length=100)
    # Empty files pass here to be refused by name with the rest of the upload (services.imports.jobs).
    files = serializers.ListField(child=UploadedFile(allow_empty_file=True), required=False, default=list)
    paths = serializers.ListField(
        child=serializers.CharField(max_length=1000),
        required=False,
        default=list,
        help_text="Files or folders relative to IMPORT_ROOT (never outside it).",
    )
    format = serializers.ChoiceField(choices=["", *FORMATS], required=False, default="")
    skip_invalid = serializers.BooleanField(required=False, default=False)
    amplitude_scale = serializers.FloatField(
        required=False, default=1.0, min_value=AMPLITUDE_SCALE_MIN, max_value=AMPLITUDE_SCALE_MAX
    )


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    dataset = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    created = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    files_failed = serializers.IntegerField()
    duplicates = serializers.IntegerField(
        help_text="Records created with a waveform already stored under another dataset or exam id; "
        "their outcomes name the earlier exams (same_as) and the new one (exam)."
    )
    not_listed = serializers.IntegerField(help_text="Created or unchanged records counted but not listed.")
    finished = serializers.BooleanField()
    error = serializers.CharField()
    attempt = serializers.IntegerField(
        help_text="Runs started; above 1 the job was run again after the worker running it stopped."
    )
    outcomes = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Once finished: one row per file problem and record (file, record, outcome, message); "
        "'exam' is the record's exam id (created, unchanged, duplicate) or the stored exam a refused "
        "record clashes with, 'same_as' the earlier exams holding a duplicate's waveform.",
    )


def _job_data(job) -> dict:
    data = import_job_progress(job)
    if data["finished"]:
        data["outcomes"] = job.outcomes
    return data


class ImportJobCreateView(APIView):
    permission_classes = [IsCoordinator]
    parser_classes = [MultiPartParser, StrictJSONParser]
    max_body_bytes = staticmethod(upload_body_bytes)  # the upload's own cap (BodyLimitMiddleware)

    # One body type in the schema, multipart, which carries `paths` as well as `files`: a generated client
    # picks the encoding by the body's type, and openapi-python-client 0.29 writes an operation with two
    # body types that fails to import (it names `Unset` without importing it). JSON still works for paths.
    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer}, responses={201: ImportJobSerializer}
    )
    def post(self, request):
        """Import exams from uploaded files or server paths

        Coordinators only. Send multipart `files`, or `paths` relative to IMPORT_ROOT (multipart, or a
        JSON body), with the `dataset` to import into, and optionally the `format` (recognised from the
        content when left blank), `skip_invalid` and `amplitude_scale`. The uploads are saved and the job
        runs in the background: answers 201 with the job, to follow with its GET. 400 before any job exists
        for a bad dataset name, an unknown format, nothing to import, a path missing or outside the import
        root, or an upload over the size limits or that is an archive. Audited."""
        payload = ImportCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        files = request.FILES.getlist("files") if hasattr(request, "FILES") else []
        job = import_job_create(
            coordinator=request.user,
            dataset=data["dataset"],
            files=files,
            paths=data["paths"],
            source_format=data["format"],
            skip_invalid=data["skip_invalid"],
            amplitude_scale=data["amplitude_scale"],
        )
        job.refresh_from_db()
        return Response(ImportJobSerializer(_job_data(job)).data, status=status.HTTP_201_CREATED)


class ImportJobDetailView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=ImportJobSerializer)
    def get(self, request, pk: int):
        """Follow an import job

        Coordinators only (404 for an unknown job). Returns the job's status and its counts so far: records
        done of the total, created, unchanged, skipped and failed, files refused, and duplicates of
        waveforms already stored. Once `finished`, also `outcomes`: every problem, and the records created
        or unchanged up to a limit (`not_listed` counts the others)."""
        return Response(ImportJobSerializer(_job_data(import_job_get(request.user, pk))).data)


urlpatterns = [
    path("v1/imports/", ImportJobCreateView.as_view(), name="api-import-create"),
    path("v1/imports/<int:pk>/", ImportJobDetailView.as_view(), name="api-import-detail"),
]
