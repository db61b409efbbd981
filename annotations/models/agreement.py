"""Agreement: per-batch results, consensus labels and the disputes left for adjudication."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotations.models.batches import ReviewBatch
from annotations.models.exams import Exam
from annotations.models.taxonomy import DiagnosticClass


class Consensus(models.Model):
    """The agreed value of one class for one exam of a batch, and how it was reached."""

    class Method(models.TextChoices):
        UNANIMOUS = "unanimous", _("Unanimous")
        MAJORITY = "majority", _("Majority")
        ADJUDICATED = "adjudicated", _("Adjudicated")
        LATENT = "latent", _("Latent-truth estimate")
        SINGLE = "single", _("Single read")

    batch = models.ForeignKey(ReviewBatch, on_delete=models.CASCADE, related_name="consensus")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="+")
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    value = models.BooleanField()
    method = models.CharField(max_length=12, choices=Method.choices)
    positive_votes = models.PositiveSmallIntegerField()
    total_votes = models.PositiveSmallIntegerField()
    probability = models.FloatField(null=True, blank=True)
    algorithm_version = models.CharField(max_length=40)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = _("consensus labels")
        constraints = [
            models.UniqueConstraint(fields=["batch", "exam", "diagnostic_class"], name="consensus_unique"),
            models.CheckConstraint(
                condition=Q(positive_votes__lte=F("total_votes")), name="consensus_votes_consistent"
            ),
            models.CheckConstraint(
                condition=Q(method__in=["unanimous", "majority", "adjudicated", "latent", "single"]),
                name="consensus_method_valid",
            ),
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | (Q(probability__gte=0) & Q(probability__lte=1)),
                name="consensus_probability_in_unit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"exam {self.exam_id} class {self.diagnostic_class_id}: {self.value} ({self.method})"


class AgreementResult(models.Model):
    """The latest agreement statistics of a batch, and what they were computed from.

    One row per batch, replaced in place by every recomputation: the figures are a pure function of the
    reads (which are append-only, with their own history) and of the algorithm version, so keeping old
    results would only keep numbers that can be recomputed. ``read_count`` and ``latest_submission_at``
    say which reads the result saw; the periodic sweep recomputes a batch whose reads have moved on.
    """

    batch = models.OneToOneField(ReviewBatch, on_delete=models.CASCADE, related_name="agreement")
    algorithm_version = models.CharField(max_length=40)
    read_count = models.PositiveIntegerField(
        help_text=_("Submitted first reads the result was computed from.")
    )
    latest_submission_at = models.DateTimeField(null=True, blank=True)
    exam_count = models.PositiveIntegerField(default=0)
    reader_count = models.PositiveSmallIntegerField(default=0)
    disputed_count = models.PositiveIntegerField(default=0)
    results = models.JSONField(
        default=dict, help_text=_("Per-class statistics with intervals, reader pairs, per-reader metrics.")
    )
    computed_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"agreement of batch {self.batch_id} ({self.read_count} reads)"


class DisputedLabel(models.Model):
    """A class of an exam that readers left undecided (a tie, an uncertain latent estimate) or that an
    escalated exam's readers disagree on: what the adjudicator is asked to decide.

    Rewritten for the batch by every recomputation; the human decision lives in Adjudication, which
    recomputation never touches.
    """

    class Reason(models.TextChoices):
        TIE = "tie", _("Readers tied")
        UNCERTAIN = "uncertain", _("Latent estimate uncertain")
        ESCALATED = "escalated", _("Exam escalated to adjudication")
        OVERRULED = "overruled", _("Latent estimate contradicts the readers' unanimous answer")
        EXCLUSIVE = (
            "exclusive",
            _(
                "Exclusive set: the consensus would name two of its statements, "
                "or none where the readers named one"
            ),
        )

    batch = models.ForeignKey(ReviewBatch, on_delete=models.CASCADE, related_name="disputed_labels")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="+")
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    positive_votes = models.PositiveSmallIntegerField()
    total_votes = models.PositiveSmallIntegerField()
    probability = models.FloatField(
        null=True, blank=True, help_text=_("Latent-truth (Dawid-Skene) estimate.")
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "exam", "diagnostic_class"], name="disputed_label_unique"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=["tie", "uncertain", "escalated", "overruled", "exclusive"]),
                name="disputed_label_reason_valid",
            ),
            models.CheckConstraint(
                condition=Q(positive_votes__lte=F("total_votes")), name="disputed_label_votes_consistent"
            ),
        ]
        indexes = [models.Index(fields=["batch", "exam"], name="disputed_label_exam_idx")]

    def __str__(self) -> str:
        return f"exam {self.exam_id} class {self.diagnostic_class_id} disputed ({self.reason})"
