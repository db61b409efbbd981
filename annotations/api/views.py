"""The JSON API: session-authenticated, every endpoint behind IsAuthenticated (settings)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api import serializers
from annotations.api.permissions import IsCoordinator
from annotations.roles import user_roles
from annotations.selectors.exams import exam_list
from annotations.selectors.taxonomy import taxonomy_classes, taxonomy_get, taxonomy_list
from annotations.selectors.worklist import reader_worklist


class MeView(APIView):
    @extend_schema(responses=serializers.MeSerializer)
    def get(self, request):
        roles = sorted(role.value for role in user_roles(request.user))
        return Response(
            serializers.MeSerializer({"username": request.user.get_username(), "roles": roles}).data
        )


class TaxonomyListView(generics.ListAPIView):
    serializer_class = serializers.TaxonomySerializer

    def get_queryset(self):
        return taxonomy_list()


class TaxonomyDetailView(generics.RetrieveAPIView):
    serializer_class = serializers.TaxonomyDetailSerializer

    def get_object(self):
        taxonomy = taxonomy_get(self.kwargs["pk"])
        taxonomy.classes_in_order = taxonomy_classes(taxonomy)
        taxonomy.class_count = len(taxonomy.classes_in_order)
        return taxonomy


class WorklistView(APIView):
    @extend_schema(responses=serializers.WorklistEntrySerializer(many=True))
    def get(self, request):
        entries = reader_worklist(request.user)
        return Response(serializers.WorklistEntrySerializer(entries, many=True).data)


class ExamListView(generics.ListAPIView):
    serializer_class = serializers.ExamSerializer
    permission_classes = [IsCoordinator]

    def get_queryset(self):
        return exam_list(self.request.user, dataset=self.request.query_params.get("dataset") or None)
