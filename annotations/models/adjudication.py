"""Adjudication: signed decisions on disputed classes, and who opened which case."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotations.models.batches import ReviewBatch
from annotations.models.exams import Exam
from annotations.models.taxonomy import DiagnosticClass

USER = settings.AUTH_USER_MODEL


class Adjudication(models.Model):
    """A human decision on one disputed class of one exam; recomputation never overwrites it."""

    batch = models.ForeignKey(ReviewBatch, on_delete=models.PROTECT, related_name="adjudications")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="+")
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    adjudicator = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    value = models.BooleanField()
    rationale = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "exam", "diagnostic_class"], name="adjudication_unique"),
        ]

    def __str__(self) -> str:
        return f"exam {self.exam_id} class {self.diagnostic_class_id}: {self.value}"


class AdjudicationView(models.Model):
    """An adjudicator opened (or decided) the adjudication case of an exam: from then on they know the
    exam was disputed and how the pseudonymous readers voted, so they are never handed it to read, in
    any batch (selectors.blinding). Written once per adjudicator, batch and exam; never changed."""

    batch = models.ForeignKey(ReviewBatch, on_delete=models.PROTECT, related_name="+")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="+")
    adjudicator = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "exam", "adjudicator"], name="adjudication_view_once"),
        ]
        indexes = [models.Index(fields=["adjudicator", "exam"], name="adjudication_view_user_idx")]

    def __str__(self) -> str:
        return f"exam {self.exam_id} of batch {self.batch_id} seen by {self.adjudicator_id}"
