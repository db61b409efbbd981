"""What a coordinator's "return a read" form names: the exam of the batch it means."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.models import BatchExam

if TYPE_CHECKING:
    from annotations.models import ReviewBatch


def batch_exam_named(batch: ReviewBatch, text: str) -> int:
    """The id of the batch's exam written as the dashboard's exam table writes it ("dataset/external
    id"), or by its external id alone where that names one exam of the batch. Invalid otherwise."""
    text = (text or "").strip()
    if not text:
        raise Invalid(_("name the exam, as the exam table writes it"))
    named = Q(exam__external_id=text)
    for i, char in enumerate(text):
        if char == "/":  # a dataset's name or an external id may hold a slash too: every split is tried
            named |= Q(exam__dataset__name=text[:i], exam__external_id=text[i + 1 :])
    found = list(BatchExam.objects.filter(named, batch=batch).values_list("exam_id", flat=True)[:2])
    if not found:
        raise Invalid(_("no exam “%(exam)s” in this batch") % {"exam": text})
    if len(found) > 1:
        raise Invalid(_("“%(exam)s” names several exams of this batch: add its dataset") % {"exam": text})
    return found[0]
