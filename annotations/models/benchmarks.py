"""Blind benchmarks: a published release's exams and labels frozen for scoring models whose builders never
see the labels, beside the release's own readers scored against the same labels."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotations.models.exams import Exam
from annotations.models.releases import Release

USER = settings.AUTH_USER_MODEL


class Benchmark(models.Model):
    """Frozen at creation: which exams, in which order, which split, which labels. It is "preparing" until
    a task has written its tracings and scored the release's readers, then open, then closed."""

    class LabelSource(models.TextChoices):
        CONSENSUS = "consensus", _("Consensus where the readers settled every class")
        ADJUDICATED = "consensus_adjudication", _("Consensus and adjudication")
        REFERENCE = "reference", _("Imported reference labels")

    class Status(models.TextChoices):
        PREPARING = "preparing", _("Preparing")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        # Its tracings could not be written in BENCHMARK_PREPARE_TRIES tries: `error` says why.
        FAILED = "failed", _("Failed")

    name = models.CharField(max_length=200)
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="benchmarks")
    label_source = models.CharField(max_length=30, choices=LabelSource.choices)
    classes = models.JSONField(help_text=_("The class codes, in the order of every file's columns."))
    exam_count = models.PositiveIntegerField()
    private_count = models.PositiveIntegerField()
    split_seed = models.PositiveIntegerField()
    daily_quota = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREPARING)
    tracings = models.JSONField(default=dict, blank=True, help_text=_("{name, bytes, sha256} of the HDF5."))
    readers = models.JSONField(
        default=list,
        blank=True,
        help_text=_("[{reader, kind, n, public: figures, private: figures}] scored while preparing."),
    )
    prepare_tries = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="benchmarks_created")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["preparing", "open", "closed", "failed"]),
                name="benchmark_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error=""), name="benchmark_failed_says_why"
            ),
            models.CheckConstraint(
                condition=Q(label_source__in=["consensus", "consensus_adjudication", "reference"]),
                name="benchmark_label_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(private_count__lte=models.F("exam_count")), name="benchmark_private_within"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["preparing", "open", "failed"], closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="benchmark_closed_when",
            ),
        ]

    def __str__(self) -> str:
        return f"benchmark #{self.pk} {self.name}"


class BenchmarkExam(models.Model):
    """One exam of a benchmark: its row in every file, its id there, its split and its labels (0/1 per
    class, in the benchmark's class order). The labels are read by coordinators and the scoring only."""

    class Split(models.TextChoices):
        PUBLIC = "public", _("Public")
        PRIVATE = "private", _("Private")

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="exams")
    row = models.PositiveIntegerField()
    exam_key = models.CharField(max_length=300)
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="+")
    split = models.CharField(max_length=10, choices=Split.choices)
    labels = models.JSONField()

    class Meta:
        ordering = ["benchmark", "row"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "row"], name="benchmark_exam_row_unique"),
            models.UniqueConstraint(fields=["benchmark", "exam_key"], name="benchmark_exam_key_unique"),
            models.CheckConstraint(condition=Q(split__in=["public", "private"]), name="benchmark_exam_split"),
        ]

    def __str__(self) -> str:
        return f"benchmark #{self.benchmark_id} row {self.row}"


class BenchmarkSubmission(models.Model):
    """A model's scores for every exam of a benchmark, and their figures once scored. The scores are the
    checked file's numbers as an NPY (float64), whatever form was uploaded."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class ThresholdRule(models.TextChoices):
        SUBMITTED = "submitted", _("The submitted thresholds")
        MAX_F1_PUBLIC = "max_f1_public", _("The thresholds that maximise F1 on the public split")

    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="submissions")
    submitter = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="benchmark_submissions")
    model_name = models.CharField(max_length=100)
    model_version = models.CharField(max_length=60)
    file_name = models.CharField(max_length=200)
    file_sha256 = models.CharField(max_length=64)
    scores = models.BinaryField()
    threshold_rule = models.CharField(max_length=20, choices=ThresholdRule.choices)
    thresholds = models.JSONField(
        null=True, blank=True, help_text=_("Per class; for the F1 rule, once scored.")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    results = models.JSONField(default=dict, blank=True, help_text=_("{public: figures, private: figures}"))
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["submitter", "benchmark", "created_at"], name="submission_quota_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="submission_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(threshold_rule__in=["submitted", "max_f1_public"]), name="submission_rule_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"submission #{self.pk} {self.model_name} {self.model_version}"
