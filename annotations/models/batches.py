"""Review batches: which exams, which readers, and each reader's assignments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotations.models.exams import Exam
from annotations.models.taxonomy import Taxonomy

USER = settings.AUTH_USER_MODEL


# The seeds a design takes: what the seed column holds (a 64-bit signed integer), never negative (numpy's
# generators refuse a negative seed).
SEED_MAX = 2**63 - 1


class ReviewBatch(models.Model):
    class SuggestionMode(models.TextChoices):
        HIDDEN = "hidden", _("Hidden")
        TWO_STAGE = "two_stage", _("Two-stage: blind read first, then shown")
        SHOWN = "shown", _("Shown from the start")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        CLOSED = "closed", _("Closed")

    name = models.CharField(max_length=200)
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.PROTECT, related_name="batches")
    readers_per_exam = models.PositiveSmallIntegerField(default=2)
    suggestion_mode = models.CharField(
        max_length=12, choices=SuggestionMode.choices, default=SuggestionMode.HIDDEN
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    seed = models.BigIntegerField(default=0, help_text=_("Seed of the randomised design."))
    design = models.JSONField(
        default=dict, blank=True, help_text=_("Selection, gold/retest fractions, escalation rules.")
    )
    due_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # Counts the dashboard's list carries on each batch it shows (selectors.batches.overview), never
    # stored: declared so that the type checker knows them.
    exam_count: int
    read_count: int
    reads_done: int
    reads_skipped: int
    exams_disputed: int

    class Meta:
        verbose_name_plural = _("review batches")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(readers_per_exam__gte=1), name="batch_k_at_least_one"),
            models.CheckConstraint(
                condition=Q(suggestion_mode__in=["hidden", "two_stage", "shown"]),
                name="batch_suggestion_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "active", "closed"]), name="batch_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BatchExam(models.Model):
    """An exam's place in a batch: how many reads it needs and whether it is a hidden gold check."""

    batch = models.ForeignKey(ReviewBatch, on_delete=models.CASCADE, related_name="batch_exams")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="batch_memberships")
    target_reads = models.PositiveSmallIntegerField()
    is_gold = models.BooleanField(default=False)
    needs_adjudication = models.BooleanField(
        default=False,
        help_text=_("Set when the batch's escalation rule sends a disputed exam to adjudication."),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "exam"], name="batch_exam_unique"),
            models.CheckConstraint(condition=Q(target_reads__gte=1), name="batch_exam_target_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.exam_id}"


# Assignment.SkipCode's values, for its constraint (a nested class is out of Meta's reach).
SKIP_CODES = ["unreadable", "wrong_patient", "not_12_leads", "duplicate", "other", "system"]


class Assignment(models.Model):
    """One read to be done: a reader, an exam, a batch, and the place in the reader's queue."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not started")
        IN_PROGRESS = "in_progress", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        SKIPPED = "skipped", _("Skipped")

    class SkipCode(models.TextChoices):
        """Why a slot was skipped: a reader's choice from a short list (counted per batch and exported),
        free text only with OTHER; SYSTEM marks the system's closures (selectors.batches.closures), whose
        reason is the system's own, and is never among a reader's choices."""

        UNREADABLE = "unreadable", _("Tracing unreadable")
        WRONG_PATIENT = "wrong_patient", _("Wrong patient or lead placement suspected")
        NOT_12_LEADS = "not_12_leads", _("Not a 12-lead ECG")
        DUPLICATE = "duplicate", _("Duplicate exam")
        OTHER = "other", _("Other (say why)")
        SYSTEM = "system", _("Closed by the system")

    # batch and reader: indexed by the constraints and indexes below that begin with them (the queue slot,
    # one per reader and exam, the queue): a submit changes the status, which is no HOT update, so each
    # index is one more write.
    batch = models.ForeignKey(
        ReviewBatch, on_delete=models.PROTECT, related_name="assignments", db_index=False
    )
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="assignments")
    reader = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="assignments", db_index=False)
    read_round = models.PositiveSmallIntegerField(
        default=1, help_text=_("1 for the first read; 2 for a test-retest re-read of the same exam.")
    )
    position = models.PositiveIntegerField(help_text=_("Place in the reader's randomised queue."))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Empty unless skipped; skip_reason is the reader's text of an OTHER skip, or a system closure's reason.
    skip_code = models.CharField(
        max_length=16, choices=SkipCode.choices, blank=True, default="", db_default=""
    )
    skip_reason = models.CharField(max_length=300, blank=True)
    # Who closed a skipped slot: its reader, or the system (a reader who left, a retest withdrawn:
    # selectors.batches.closures). Told by this flag, never by the reason's words, which a reader may type.
    closed_by_system = models.BooleanField(
        default=False,
        db_default=False,
        help_text=_("Closed by the system, not skipped by its reader: nobody's skip, and no read."),
    )
    # An extra read the batch's escalation rule added to a disputed exam: it feeds the exam's consensus,
    # but agreement is measured on the designed reads alone, since extras go only to exams that disagreed.
    escalated = models.BooleanField(
        default=False,
        db_default=False,
        help_text=_("Added by escalation to a disputed exam: used for consensus, not for agreement."),
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)
    # The submitted read's time on task, copied from it when the slot is submitted: the dashboard's
    # quartiles then read the batch's slots alone. Joined to their reads, 300k slots took half of a
    # 100k-exam dashboard's time. None for a slot not submitted, and for reads imported from files,
    # whose time nobody measured (not 0 s, which would pull a reader's median down).
    time_on_task_ms = models.PositiveIntegerField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handed_on_as",
        help_text=_("The skipped slot a coordinator handed on to this reader."),
    )

    class Meta:
        ordering = ["batch", "reader", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "exam", "reader", "read_round"], name="assignment_one_per_reader_exam"
            ),
            models.UniqueConstraint(fields=["batch", "reader", "position"], name="assignment_queue_slot"),
            models.CheckConstraint(condition=Q(read_round__gte=1), name="assignment_round_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "in_progress", "submitted", "skipped"]),
                name="assignment_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="submitted") | Q(submitted_at__isnull=False),
                name="assignment_submitted_has_time",
            ),
            models.CheckConstraint(
                condition=Q(closed_by_system=False) | Q(status="skipped"),
                name="assignment_system_closure_is_skip",
            ),
            models.CheckConstraint(
                condition=Q(status="skipped", skip_code__in=SKIP_CODES)
                | (~Q(status="skipped") & Q(skip_code="")),
                name="assignment_skip_code_valid",
            ),
            models.CheckConstraint(
                condition=Q(skip_code="other", skip_reason__gt="")
                | Q(skip_code="system", closed_by_system=True)
                | (~Q(skip_code__in=["other", "system"]) & Q(skip_reason="") & Q(closed_by_system=False)),
                name="assignment_skip_text_only_other_or_system",
            ),
            models.CheckConstraint(
                condition=Q(status="submitted") | Q(time_on_task_ms__isnull=True),
                name="assignment_time_only_when_submitted",
            ),
        ]
        indexes = [
            # The reader's "next exam" query walks this index in queue order.
            models.Index(fields=["reader", "batch", "status", "position"], name="assignment_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} reader {self.reader_id} #{self.position}"
