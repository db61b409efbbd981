"""Corrections of submitted reads over the API: a reader amends their own, a coordinator returns one to its
reader (services.corrections). Every earlier revision is kept."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import IsCoordinator, IsReader
from annotations.api.reading import ReadingContextSerializer, SaveSerializer, _save_arguments, _valid
from annotations.api.schema import MAX_ID
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.reading.assignments import assignment_for_reader, reading_context
from annotations.services.corrections import MAX_REASON, annotation_amend, assignment_return


class AmendSerializer(SaveSerializer):
    reason = serializers.CharField(
        max_length=MAX_REASON, help_text="Why the read is amended: kept with the revision, and released."
    )


class AmendedSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    context = ReadingContextSerializer(help_text="The same exam, as its reader now sees it.")


class AmendView(APIView):
    permission_classes = [IsReader]

    @extend_schema(request=AmendSerializer, responses=AmendedSerializer)
    def post(self, request, pk: int):
        """Amend one's own submitted read

        Readers only, on their own assignment of an active batch (404 otherwise, also before a malformed
        body is answered; 409 with `batch_closed` for their own in a batch closed meanwhile). The body is a
        submit's (statements, comment, the `revision` last received) plus a required `reason` (400 when
        missing or blank). The amendment is a new revision of the read: the earlier ones stay in the trail
        and in releases (read_history.csv). In a two-stage batch it changes the revised read; the blind read
        is never changed. 409 when the read is not submitted, when an adjudicator has started on the exam
        (the message says so), or from an older revision (with the current `revision`); 400 for
        statements a submit would refuse. Audited; agreement and consensus are recomputed after it."""
        arguments = _save_arguments(request, pk, AmendSerializer)
        reason = _valid(AmendSerializer, request, pk)["reason"]
        arguments.pop("time_on_task_ms", None)  # the time on task stays the first read's
        amended = annotation_amend(actor=request.user, assignment=pk, reason=reason, **arguments)
        assignment = assignment_for_reader(request.user, pk)
        return Response({"revision": amended.revision, "context": reading_context(request.user, assignment)})


class ReturnSerializer(StrictSerializer):
    reader_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    exam_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    read_round = serializers.IntegerField(
        min_value=1, max_value=2, default=1, help_text="2 for a test-retest re-read."
    )
    reason = serializers.CharField(
        max_length=MAX_REASON, help_text="Why the read goes back: shown to its reader, kept, and released."
    )


class ReturnedSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    status = serializers.CharField()


class ReturnView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=ReturnSerializer, responses=ReturnedSerializer)
    def post(self, request, pk: int):
        """Return a submitted read to its reader

        Coordinators only (404 for an unknown batch, or when the reader holds no read of the exam in it).
        The read of exam `exam_id` by reader `reader_id` (ids as the batch's progress and exam table give
        them) becomes its reader's draft again, statements kept, with the `reason` (required, 400 without)
        shown to them on the exam and on their worklist; it no longer counts until they submit it again.
        The earlier revisions stay; in a two-stage batch the blind read stays stored and submitted. 409 when
        the batch is closed, the read is not submitted, or an adjudicator has started on the exam.
        Audited; agreement and consensus are recomputed after it."""
        batch = batch_for_coordinator(request.user, pk)
        incoming = ReturnSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        values = incoming.validated_data
        slot = assignment_return(
            actor=request.user,
            batch=batch,
            reader_id=values["reader_id"],
            exam_id=values["exam_id"],
            read_round=values["read_round"],
            reason=values["reason"],
        )
        return Response({"assignment_id": slot.pk, "status": slot.status})


urlpatterns = [
    path("v1/reading/assignments/<ref:pk>/amend/", AmendView.as_view(), name="api-reading-amend"),
    path("v1/batches/<int:pk>/returns/", ReturnView.as_view(), name="api-batch-return"),
]
