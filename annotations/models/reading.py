"""Reading: a reader's annotation of one assignment, its labels and every revision."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotations.models.batches import Assignment
from annotations.models.taxonomy import DiagnosticClass

USER = settings.AUTH_USER_MODEL


class Annotation(models.Model):
    """A reader's read of an assignment. Two-stage batches keep the blind read beside the revised one."""

    class Stage(models.TextChoices):
        BLIND = "blind", _("Read before any suggestion was shown")
        REVISED = "revised", _("Read after the suggestion was shown")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    # Indexed by annotation_one_per_stage (assignment, stage): a lone index would be one more per read.
    assignment = models.ForeignKey(
        Assignment, on_delete=models.PROTECT, related_name="annotations", db_index=False
    )
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.BLIND)
    is_current = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    comment = models.TextField(blank=True)
    time_on_task_ms = models.PositiveIntegerField(default=0)
    revision = models.PositiveIntegerField(default=1, help_text=_("Bumped by every save."))
    suggestion_shown_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"], condition=Q(is_current=True), name="annotation_one_current"
            ),
            models.UniqueConstraint(fields=["assignment", "stage"], name="annotation_one_per_stage"),
            models.CheckConstraint(
                condition=Q(stage__in=["blind", "revised"]), name="annotation_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "submitted"]), name="annotation_status_valid"
            ),
            models.CheckConstraint(condition=Q(revision__gte=1), name="annotation_revision_positive"),
        ]

    def __str__(self) -> str:
        return f"annotation of assignment {self.assignment_id} ({self.stage}, {self.status})"


class AnnotationLabel(models.Model):
    # Indexed by annotation_label_unique (annotation, class).
    annotation = models.ForeignKey(
        Annotation, on_delete=models.CASCADE, related_name="labels", db_index=False
    )
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    uncertain = models.BooleanField(default=False)
    # Among those the statement declares (DiagnosticClass.qualifiers), in the vocabulary's order
    # (annotations.lib.qualifiers); the reading service checks them, a JSON list having no portable check.
    qualifiers = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotation", "diagnostic_class"], name="annotation_label_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"label {self.diagnostic_class_id} of annotation {self.annotation_id}"


class AnnotationRevision(models.Model):
    """Append-only snapshot of an annotation after each save: no read is ever silently changed."""

    class Kind(models.TextChoices):
        SAVE = "save", _("Draft saved")
        SUBMIT = "submit", _("Submitted")
        AMEND = "amend", _("Amended by its reader")
        RETURNED = "returned", _("Returned to its reader")

    # Indexed by annotation_revision_unique (annotation, revision).
    annotation = models.ForeignKey(
        Annotation, on_delete=models.PROTECT, related_name="revisions", db_index=False
    )
    revision = models.PositiveIntegerField()
    status = models.CharField(max_length=10)
    labels = models.JSONField(default=list, help_text=_("[{code, uncertain, qualifiers}] as saved."))
    comment = models.TextField(blank=True)
    time_on_task_ms = models.PositiveIntegerField(default=0)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    # What made this revision; an amendment and a return say why (required there, by the constraint).
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SAVE)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["annotation", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["annotation", "revision"], name="annotation_revision_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["save", "submit", "amend", "returned"]),
                name="annotation_revision_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["save", "submit"]) | ~Q(reason=""),
                name="annotation_revision_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"annotation {self.annotation_id} revision {self.revision}"


class ReaderPreference(models.Model):
    """How one reader likes the ECG drawn (layout, paper speed, gain, lead names), kept on the server so
    it follows them to another machine. Only values the reading API validated are stored."""

    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="reader_preference")
    values = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"reader preferences of user {self.user_id}"
