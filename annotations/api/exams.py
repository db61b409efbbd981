"""Exams over the API, for coordinators."""

from __future__ import annotations

from django.urls import path
from rest_framework import generics, serializers

from annotations.api.permissions import IsCoordinator
from annotations.models import Exam
from annotations.selectors.exams.browse import exam_list


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
        ]


class ExamListView(generics.ListAPIView):
    serializer_class = ExamSerializer
    permission_classes = [IsCoordinator]

    def get_queryset(self):
        return exam_list(self.request.user, dataset=self.request.query_params.get("dataset") or None)


urlpatterns = [
    path("v1/exams/", ExamListView.as_view(), name="api-exam-list"),
]
