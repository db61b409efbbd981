"""The patient of each exam of a batch's reads, for resampling patients rather than exams."""

from __future__ import annotations

from annotations.models import Exam


def exam_patients(exam_ids: list[int]) -> list[str]:
    """Per exam (in the order given): its patient's pseudonymous id, or the exam itself where it names
    no patient, so that an exam without a patient is a unit of its own."""
    patients = dict(Exam.objects.filter(pk__in=exam_ids).values_list("pk", "patient_pseudo_id"))
    return [f"patient:{patients[e]}" if patients.get(e) else f"exam:{e}" for e in exam_ids]
