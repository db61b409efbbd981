"""Exam listings for coordinators: metadata only, never the waveform, never identifiers by default."""

from __future__ import annotations

from django.db.models import QuerySet

from annotations.errors import Forbidden, NotFound
from annotations.lib.ecg.quality import EXAM_FLAGS
from annotations.models import BatchExam, Dataset, Exam, QualityGrade
from annotations.roles import Role, has_role


def _require_coordinator(user) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def exam_list(
    user, *, dataset: str | None = None, quality_grade: str | None = None, quality_flag: str | None = None
) -> QuerySet[Exam]:
    """quality_grade: good/acceptable/poor, or "none" for exams without a report; quality_flag: one of
    the report's exam flags. Unknown values filter nothing (the page offers only known ones)."""
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
        "quality_grade",
        "quality_flags",
    )
    if dataset:
        exams = exams.filter(dataset__name=dataset)
    if quality_grade in QualityGrade.values:
        exams = exams.filter(quality_grade=quality_grade)
    elif quality_grade == "none":
        exams = exams.filter(quality_grade="")
    if quality_flag in EXAM_FLAGS:
        exams = exams.filter(quality_flags__contains=f",{quality_flag},")
    return exams.order_by("dataset__name", "external_id")


def dataset_list(user) -> QuerySet[Dataset]:
    _require_coordinator(user)
    return Dataset.objects.order_by("name")


def dataset_names() -> list[str]:
    """Every dataset's name, for the choice lists of the coordinators' forms."""
    return list(Dataset.objects.order_by("name").values_list("name", flat=True))


def exam_for_coordinator(user, exam_id: int) -> tuple[Exam, list]:
    """One exam with its quality report and the batches holding it. Anyone but a coordinator gets 404:
    an exam page says which batches hold an exam, which readers must not learn."""
    if not has_role(user, Role.COORDINATOR):
        raise NotFound
    exam = Exam.objects.select_related("dataset").defer("identifiers").filter(pk=exam_id).first()
    if exam is None:
        raise NotFound
    memberships = (
        BatchExam.objects.filter(exam=exam).select_related("batch").order_by("batch__created_at", "batch_id")
    )
    return exam, [membership.batch for membership in memberships]
