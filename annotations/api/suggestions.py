"""Suggestion progress and evidence over the API, for coordinators."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.suggestions.evidence import batch_evidence
from annotations.selectors.suggestions.summary import batch_suggestion_progress


class BatchSuggestionsView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(batch_suggestion_progress(batch_for_coordinator(request.user, pk)))


class BatchEvidenceView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(batch_evidence(batch_for_coordinator(request.user, pk)))


urlpatterns = [
    path(
        "v1/batches/<int:pk>/suggestions/",
        BatchSuggestionsView.as_view(),
        name="api-batch-suggestions",
    ),
    path("v1/batches/<int:pk>/evidence/", BatchEvidenceView.as_view(), name="api-batch-evidence"),
]
