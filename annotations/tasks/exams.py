"""Exam signal-quality reports, computed off the request."""

from __future__ import annotations

from celery import shared_task

from annotations.services.exams.quality import exams_quality_run


@shared_task(acks_late=True, name="annotations.tasks.exams_quality")
def exams_quality(exam_ids: list[int]) -> int:
    return exams_quality_run(exam_ids)
