"""Exam listings for coordinators: metadata only, never the waveform, never identifiers by default."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from annotations.models import Dataset, Exam
from annotations.roles import Role, has_role


def _require_coordinator(user) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise PermissionDenied


def exam_list(user, *, dataset: str | None = None) -> QuerySet[Exam]:
    _require_coordinator(user)
    exams = Exam.objects.select_related("dataset").only(
        "id",
        "external_id",
        "dataset__name",
        "age",
        "sex",
        "sampling_rate",
        "n_samples",
        "source_format",
        "imported_at",
    )
    if dataset:
        exams = exams.filter(dataset__name=dataset)
    return exams.order_by("dataset__name", "external_id")


def dataset_list(user) -> QuerySet[Dataset]:
    _require_coordinator(user)
    return Dataset.objects.order_by("name")
