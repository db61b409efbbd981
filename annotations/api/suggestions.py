"""Suggestion progress and evidence over the API, for coordinators."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.selectors.evidence import batch_evidence
from annotations.selectors.progress import batch_for_coordinator
from annotations.selectors.suggestions import batch_suggestion_progress


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
