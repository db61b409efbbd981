"""Adjudication over the API: the adjudicator's queue and one disputed case (read it, sign decisions)."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsAdjudicator
from annotations.selectors.adjudication import (
    adjudication_case,
    adjudication_queue,
)
from annotations.services.adjudication import (
    AdjudicationError,
    Decision,
    StaleAdjudication,
    adjudication_decide,
    adjudication_view_record,
)
from annotations.views.adjudication import adjudication_waveform


class QueueItemSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    batch_name = serializers.CharField()
    exam_id = serializers.IntegerField()
    exam_label = serializers.CharField()
    open_classes = serializers.IntegerField()
    escalated = serializers.BooleanField()


class AdjudicationQueueView(APIView):
    permission_classes = [IsAdjudicator]

    # A list of queue items (it was declared as one object, which every client reading the schema broke on).
    @extend_schema(operation_id="v1_adjudication_queue", responses=QueueItemSerializer(many=True))
    def get(self, request):
        return Response([asdict(item) for item in adjudication_queue(request.user)])


class DecisionSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    value = serializers.BooleanField()


class DecideSerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)
    rationale = serializers.CharField(allow_blank=True, required=False, default="", max_length=4000)
    version = serializers.IntegerField(min_value=0)


def _case_data(case) -> dict:
    return {
        "batch": case.batch.pk,
        "exam": {
            "id": case.exam.pk,
            "label": str(case.exam),
            "sampling_rate": case.exam.sampling_rate,
            "n_samples": case.exam.n_samples,
            "lead_names": case.exam.lead_names,
        },
        "version": case.version,
        "disputed": [asdict(d) for d in case.disputed],
        "agreed_present": [
            {"code": code, "name": name, "method": method} for code, name, method in case.agreed
        ],
        "suggestion_provider": case.suggestion_provider,
        # Readers' comments and uncertainty marks, under the same pseudonyms as the votes.
        "readers": [asdict(note) for note in case.readers],
        "added": case.added,
        "addable": case.addable,
        # Every signed decision, newest first: who, when, what, why, at which version.
        "history": [asdict(entry) for entry in case.history],
    }


class AdjudicationCaseView(APIView):
    permission_classes = [IsAdjudicator]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, batch_id: int, exam_id: int):
        case = adjudication_case(request.user, batch_id, exam_id)
        # From now on this adjudicator knows the exam was disputed: never handed it to read.
        adjudication_view_record(actor=request.user, batch=case.batch, exam_id=exam_id)
        return Response(_case_data(case))

    @extend_schema(request=DecideSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, batch_id: int, exam_id: int):
        case = adjudication_case(request.user, batch_id, exam_id)
        incoming = DecideSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            adjudication_decide(
                actor=request.user,
                batch=case.batch,
                exam_id=exam_id,
                decisions=[Decision(code=d["code"], value=d["value"]) for d in data["decisions"]],
                rationale=data["rationale"],
                version=data["version"],
            )
        except StaleAdjudication as error:
            return Response({"detail": str(error), "version": error.current}, status=status.HTTP_409_CONFLICT)
        except (AdjudicationError, PermissionError) as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(_case_data(adjudication_case(request.user, batch_id, exam_id)))


urlpatterns = [
    path("v1/adjudication/", AdjudicationQueueView.as_view(), name="api-adjudication-queue"),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/",
        AdjudicationCaseView.as_view(),
        name="api-adjudication-case",
    ),
    path(
        "v1/adjudication/<int:batch_id>/<int:exam_id>/waveform/",
        adjudication_waveform,
        name="api-adjudication-waveform",
    ),
]
