"""API for label releases: list and create (POST queues the build), read one, download its files."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsCoordinator
from annotations.api.schema import MAX_ID
from annotations.selectors.releases.builds import (
    release_batches,
    release_get,
    release_insufficient,
    release_list,
    release_not_read,
    release_progress,
    release_pseudonym_key,
    release_undecided,
)
from annotations.services.releases.builds import (
    TARGETS,
    release_create,
    release_file_open,
)
from annotations.views.releases import release_zip_response
from ecgreview.client_address import client_ip


class ReleaseCreateSerializer(StrictSerializer):
    batches = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1
    )
    target = serializers.ChoiceField(choices=list(TARGETS), required=False, default="")
    hdf5 = serializers.BooleanField(required=False, default=True)
    native_rate = serializers.BooleanField(required=False, default=False)
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)


class ReleaseFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()


class ReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    shards_done = serializers.IntegerField(help_text="Tracings shards written so far (a large release).")
    shards_total = serializers.IntegerField(help_text="Tracings shards of a large release; 0: one file.")
    finished = serializers.BooleanField()
    error = serializers.CharField()
    exam_count = serializers.IntegerField()
    target = serializers.CharField()
    taxonomy = serializers.CharField()
    batches = serializers.ListField(child=serializers.IntegerField())
    options = serializers.DictField()
    software_version = serializers.CharField()
    created_at = serializers.CharField()
    files = ReleaseFileSerializer(many=True, help_text="Every file, once the release is done; else empty.")


class BatchLetterSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    letter = serializers.CharField(help_text="Reader A, B…: the name the batch's adjudication pages give.")


class PseudonymSerializer(serializers.Serializer):
    pseudonym = serializers.CharField(help_text="As the files write it: R01.. readers, A01.. adjudicators.")
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True, help_text="The person's name as the account gives it now.")
    batch_letters = BatchLetterSerializer(
        many=True, help_text="The reader's name on each of the release's batches' adjudication pages."
    )


class UndecidedSerializer(serializers.Serializer):
    exams = serializers.IntegerField(help_text="Exams with at least one undecided class.")
    cells = serializers.IntegerField(help_text="Undecided (exam, class) cells, empty in consensus.csv.")


class ReleaseDetailSerializer(ReleaseSerializer):
    pseudonym_key = PseudonymSerializer(
        many=True, help_text="Who each pseudonym of the files is, as they were written; never in the files."
    )
    undecided = UndecidedSerializer(
        allow_null=True,
        help_text="What the release leaves undecided (disputes open when it was built); null until done.",
    )
    not_read = serializers.IntegerField(
        allow_null=True,
        help_text="Exams of its batches with no submitted read when it was built: no row in its files, "
        "each named in the dataset card's not_read; null until done.",
    )
    insufficient_reads = serializers.IntegerField(
        allow_null=True,
        help_text="Exams with fewer reads than their batch's consensus needs when it was built: a row with "
        "every class empty, each named in the dataset card's insufficient_reads; null until done.",
    )


def _ip(request) -> str | None:
    return client_ip(request)  # the real client behind the trusted proxies


class ReleaseListCreateView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=ReleaseSerializer(many=True))
    def get(self, request):
        """List the label releases

        Coordinators only. The 200 newest releases, newest first, each with its status and build progress,
        batches, taxonomy, options and, once done, its files with their sizes and SHA-256."""
        rows = [release_progress(release) for release in release_list(request.user)[:200]]
        return Response(ReleaseSerializer(rows, many=True).data)

    @extend_schema(request=ReleaseCreateSerializer, responses={201: ReleaseSerializer})
    def post(self, request):
        """Release the consensus labels of one or more batches

        Coordinators only. Send the `batches` to release together, and optionally a `target` to map the
        labels to (code15 or ptbxl-scp; the batches' own taxonomy when blank), `hdf5` (the tracings as HDF5
        too, the default; resampled to 400 Hz unless `native_rate`) and a `name`. The build runs in the
        background: answers 201 with the release, to follow with its GET; a build that fails (exams
        recorded at several rates with `native_rate`...) leaves the release failed, with its `error`. 400
        with the reason when the batches cannot be released together: an unknown batch, different
        taxonomies, an exam in two of them, or two copies of one waveform. Audited."""
        payload = ReleaseCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        batches = release_batches(request.user, data["batches"])
        release = release_create(
            actor=request.user,
            batches=batches,
            target=data["target"],
            hdf5=data["hdf5"],
            native_rate=data["native_rate"],
            name=data["name"],
            ip_address=_ip(request),
        )
        release = release_get(request.user, release.pk)
        return Response(ReleaseSerializer(release_progress(release)).data, status=status.HTTP_201_CREATED)


class ReleaseDetailView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=ReleaseDetailSerializer)
    def get(self, request, pk: int):
        """Get one release, with its pseudonym key

        Coordinators only (404 for an unknown release). The release as listed, plus who each pseudonym of
        its files is (R01... readers, A01... adjudicators; a key that is never written into the files) and,
        once it is done, how many exams and cells it leaves undecided."""
        release = release_get(request.user, pk)
        data = {
            **release_progress(release),
            "pseudonym_key": release_pseudonym_key(release),
            "undecided": release_undecided(release),
            "not_read": release_not_read(release),
            "insufficient_reads": release_insufficient(release),
        }
        return Response(ReleaseDetailSerializer(data).data)


class ReleaseFileView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int, name: str):
        """Download one file of a release

        Coordinators only. `name` is one of the release's `files`, as SHA256SUMS lists them; the bytes come
        as application/octet-stream, to check against the file's SHA-256. 404 for an unknown release or
        file, and before the release is done. Every download is audited with the caller's address."""
        release = release_get(request.user, pk)
        try:
            handle = release_file_open(
                actor=request.user, release=release, name=name, ip_address=_ip(request)
            )
        except FileNotFoundError:
            raise Http404("no such file in this release") from None
        # Always the declared application/octet-stream: a script downloads bytes to check against the
        # manifest's SHA-256, and a type guessed from the name (text/csv, ...) would break the schema.
        return FileResponse(
            handle,
            as_attachment=True,
            # The file's own name, the one SHA256SUMS lists.
            filename=name,
            content_type="application/octet-stream",
        )


class ReleaseZipView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, pk: int):
        """Download a whole release as one zip

        Coordinators only. Every file of the release, SHA256SUMS included, in one folder release-<id>/ of
        one zip, so that `sha256sum -c SHA256SUMS` in the unzipped folder checks them all; the same release
        always gives the same bytes. 404 for an unknown release and before it is done. Audited like a file
        download."""
        return release_zip_response(request.user, release_get(request.user, pk), _ip(request))


urlpatterns = [
    path("v1/releases/", ReleaseListCreateView.as_view(), name="api-release-list"),
    path("v1/releases/<int:pk>/", ReleaseDetailView.as_view(), name="api-release-detail"),
    path("v1/releases/<int:pk>/files/<str:name>", ReleaseFileView.as_view(), name="api-release-file"),
    path("v1/releases/<int:pk>/zip", ReleaseZipView.as_view(), name="api-release-zip"),
]
