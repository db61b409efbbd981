"""Model suggestions: per-exam scores from each provider, and who was shown them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotations.models.batches import Assignment, ReviewBatch
from annotations.models.exams import Exam
from annotations.models.reading import Annotation
from annotations.models.taxonomy import DiagnosticClass

USER = settings.AUTH_USER_MODEL


class Suggestion(models.Model):
    """One provider's output for one exam; a new provider version adds a row, never erases one."""

    class Status(models.TextChoices):
        OK = "ok", _("Computed")
        FAILED = "failed", _("Failed")

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="suggestions")
    provider = models.CharField(max_length=100)
    provider_version = models.CharField(max_length=40)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    measurements = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["exam", "provider", "provider_version"], name="suggestion_unique_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_version} for exam {self.exam_id}"


class SuggestionScore(models.Model):
    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="scores")
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["suggestion", "diagnostic_class"], name="suggestion_score_unique"
            ),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="score_in_unit_range"),
        ]

    def __str__(self) -> str:
        return f"{self.diagnostic_class_id}: {self.score:.3f}"


class SuggestionExposure(models.Model):
    """A model suggestion shown to a reader on an assignment: who saw what, when, and at which stage."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="suggestion_exposures")
    suggestion = models.ForeignKey(Suggestion, on_delete=models.PROTECT, related_name="exposures")
    reader = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(
        max_length=10, choices=Annotation.Stage.choices, help_text=_("The read the suggestion was shown for.")
    )
    mode = models.CharField(max_length=12, choices=ReviewBatch.SuggestionMode.choices)
    shown_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["assignment", "shown_at"]
        constraints = [
            # Per reader: after a reassign the reader who opens the slot is a new pair of eyes.
            models.UniqueConstraint(
                fields=["assignment", "suggestion", "reader"], name="suggestion_exposure_once_per_reader"
            ),
            models.CheckConstraint(condition=Q(stage__in=["blind", "revised"]), name="exposure_stage_valid"),
        ]

    def __str__(self) -> str:
        return f"suggestion {self.suggestion_id} shown on assignment {self.assignment_id}"
