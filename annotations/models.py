"""The ECG Review data model.

Declarative only: every invariant that a database can hold is a constraint here, so it holds for every
writer (services, admin, a psql session). Behaviour lives in services (writes) and selectors (reads).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


# --- Taxonomy -----------------------------------------------------------------------------------------
class Taxonomy(models.Model):
    """A versioned list of diagnostic statements. Frozen once a batch uses it: change means new version."""

    key = models.SlugField(max_length=60, help_text=_("Short machine name, e.g. 'tnmg'."))
    version = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    language = models.CharField(max_length=10, default="en")
    provenance = models.TextField(blank=True)
    groups = models.JSONField(default=list, help_text=_("Group keys in display order."))
    exclusive_sets = models.JSONField(
        default=list,
        help_text=_(
            "Lists of codes that must not be chosen together; '*diagnostic*' stands for "
            "every diagnostic statement."
        ),
    )
    none_of_these = models.BooleanField(
        default=False,
        help_text=_(
            "A read that marks no statement is an answer: none of these is present (a closed list such "
            "as the six classes of the CODE studies). Otherwise a reader must mark at least one statement "
            "or skip."
        ),
    )
    content_sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(default=timezone.now)
    frozen_at = models.DateTimeField(null=True, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = _("taxonomies")
        ordering = ["key", "version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="taxonomy_key_version_unique"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="taxonomy_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key} {self.version})"


class DiagnosticClass(models.Model):
    class Kind(models.TextChoices):
        DIAGNOSTIC = "diagnostic", _("Diagnostic")
        QUALITY = "quality", _("Technical quality")

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="classes")
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=300)
    name_pt = models.CharField(max_length=300, blank=True)
    group = models.CharField(max_length=60)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.DIAGNOSTIC)
    maps = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "Codes of the same statement in other systems, e.g. {'ptbxl': 'CRBBB', "
            "'snomed': '59118001', 'code6': 'RBBB'}."
        ),
    )
    synonyms = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(help_text=_("Display order within the taxonomy."))

    class Meta:
        verbose_name_plural = _("diagnostic classes")
        ordering = ["taxonomy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "code"], name="class_code_unique_per_taxonomy"),
            models.UniqueConstraint(fields=["taxonomy", "position"], name="class_position_unique"),
            models.CheckConstraint(condition=Q(kind__in=["diagnostic", "quality"]), name="class_kind_valid"),
            models.CheckConstraint(condition=~Q(code=""), name="class_code_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


# --- Exams ----------------------------------------------------------------------------------------------
class Dataset(models.Model):
    """Where exams come from (CODE-15%, PTB-XL, a hospital's archive); external ids are unique within it."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    licence = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class QualityGrade(models.TextChoices):
    GOOD = "good", _("good")
    ACCEPTABLE = "acceptable", _("acceptable")
    POOR = "poor", _("poor")


# The exam-level flags of annotations/ecg/quality.py (EXAM_FLAGS), in its order, as people read them.
QUALITY_FLAG_CHOICES = [
    ("flat", _("flat lead (no signal)")),
    ("saturated", _("saturated lead")),
    ("baseline_wander", _("baseline wander")),
    ("noise", _("noise")),
    ("artefact", _("large artefact")),
    ("limb_leads_inconsistent", _("limb leads inconsistent (Einthoven/Goldberger)")),
    ("lead_reversal", _("possible limb-electrode reversal")),
]


class Exam(models.Model):
    """One ECG recording. The samples live in a content-addressed blob, never in this row."""

    class Sex(models.TextChoices):
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")
        UNKNOWN = "U", _("Unknown")

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="exams")
    external_id = models.CharField(max_length=200)
    patient_pseudo_id = models.CharField(max_length=100, blank=True)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    acquired_at = models.DateTimeField(null=True, blank=True)
    sampling_rate = models.FloatField(help_text=_("Samples per second per lead."))
    n_samples = models.PositiveIntegerField(help_text=_("Samples per lead."))
    lead_names = models.JSONField(
        default=list, help_text=_("Signals in the blob, in order: the 12 standard leads first.")
    )
    gain_uv = models.FloatField(help_text=_("Microvolts per stored integer step."))
    waveform_key = models.CharField(max_length=200, help_text=_("Key of the blob in waveform storage."))
    waveform_sha256 = models.CharField(max_length=64)
    source_format = models.CharField(max_length=30)
    source_sha256 = models.CharField(max_length=64, blank=True)
    source_record = models.CharField(max_length=300, blank=True)
    identifiers = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Identifying header fields, kept only when IDENTIFIERS_POLICY=keep; coordinators only."),
    )
    imported_at = models.DateTimeField(default=timezone.now)
    # Signal-quality report computed at import (annotations/ecg/quality.py); "" until computed (exams
    # imported before it existed: `manage.py quality_report --missing`). Grade and flags are columns
    # of their own so that lists and the batch designer filter on them in the database.
    quality_grade = models.CharField(
        max_length=12, choices=QualityGrade.choices, blank=True, default="", db_index=True
    )
    quality_flags = models.CharField(
        max_length=200, blank=True, default="", help_text=_("Exam-level quality flags, comma-delimited.")
    )
    quality_report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dataset", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="exam_external_id_unique"),
            models.CheckConstraint(condition=Q(sampling_rate__gt=0), name="exam_sampling_rate_positive"),
            models.CheckConstraint(condition=Q(n_samples__gt=0), name="exam_n_samples_positive"),
            models.CheckConstraint(condition=Q(gain_uv__gt=0), name="exam_gain_positive"),
            models.CheckConstraint(condition=Q(age__lte=130), name="exam_age_plausible"),
            models.CheckConstraint(condition=Q(sex__in=["F", "M", "U"]), name="exam_sex_valid"),
            models.CheckConstraint(
                condition=Q(quality_grade__in=["", "good", "acceptable", "poor"]),
                name="exam_quality_grade_valid",
            ),
        ]
        indexes = [models.Index(fields=["waveform_sha256"], name="exam_waveform_sha_idx")]

    def __str__(self) -> str:
        return f"{self.dataset.name}/{self.external_id}"

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate

    @property
    def quality_flag_labels(self) -> list[str]:
        labels = dict(QUALITY_FLAG_CHOICES)
        return [str(labels.get(flag, flag)) for flag in self.quality_flags.split(",") if flag]


class ReferenceLabel(models.Model):
    """A label that came with the exam (dataset metadata, device statements): never shown to readers."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="reference_labels")
    code_system = models.CharField(max_length=30, help_text=_("e.g. code15, ptbxl, snomed."))
    code = models.CharField(max_length=60)
    likelihood = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exam", "code_system", "code"], name="reference_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code_system}:{self.code}"


# --- Review batches ---------------------------------------------------------------------------------
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


class Assignment(models.Model):
    """One read to be done: a reader, an exam, a batch, and the place in the reader's queue."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not started")
        IN_PROGRESS = "in_progress", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        SKIPPED = "skipped", _("Skipped")

    batch = models.ForeignKey(ReviewBatch, on_delete=models.PROTECT, related_name="assignments")
    exam = models.ForeignKey(Exam, on_delete=models.PROTECT, related_name="assignments")
    reader = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="assignments")
    read_round = models.PositiveSmallIntegerField(
        default=1, help_text=_("1 for the first read; 2 for a test-retest re-read of the same exam.")
    )
    position = models.PositiveIntegerField(help_text=_("Place in the reader's randomised queue."))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=300, blank=True)
    assigned_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)
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
        ]
        indexes = [
            # The reader's "next exam" query walks this index in queue order.
            models.Index(fields=["reader", "batch", "status", "position"], name="assignment_queue_idx"),
            models.Index(fields=["batch", "exam"], name="assignment_batch_exam_idx"),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} reader {self.reader_id} #{self.position}"


class Annotation(models.Model):
    """A reader's read of an assignment. Two-stage batches keep the blind read beside the revised one."""

    class Stage(models.TextChoices):
        BLIND = "blind", _("Read before any suggestion was shown")
        REVISED = "revised", _("Read after the suggestion was shown")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="annotations")
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
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="labels")
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    uncertain = models.BooleanField(default=False)

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

    annotation = models.ForeignKey(Annotation, on_delete=models.PROTECT, related_name="revisions")
    revision = models.PositiveIntegerField()
    status = models.CharField(max_length=10)
    labels = models.JSONField(default=list, help_text=_("[{code, uncertain}] as saved."))
    comment = models.TextField(blank=True)
    time_on_task_ms = models.PositiveIntegerField(default=0)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["annotation", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["annotation", "revision"], name="annotation_revision_unique"),
        ]

    def __str__(self) -> str:
        return f"annotation {self.annotation_id} revision {self.revision}"


# --- Suggestions, consensus, adjudication ------------------------------------------------------------
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


# --- Audit ----------------------------------------------------------------------------------------------
class AuditEvent(models.Model):
    """Append-only record of every write. Database triggers refuse UPDATE and DELETE on this table."""

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_idx"),
            models.Index(fields=["action", "occurred_at"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"


# --- Imports --------------------------------------------------------------------------------------------
class ImportJob(models.Model):
    """One import started from the upload page or the API, run by a Celery task; its per-record outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    coordinator = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="import_jobs")
    dataset_name = models.SlugField(max_length=100, help_text=_("Dataset the exams go to (created if new)."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    source_format = models.CharField(max_length=30, blank=True, help_text=_("Empty: detected per file."))
    paths = models.JSONField(default=list, help_text=_("Files to import, relative to IMPORT_ROOT."))
    options = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0, help_text=_("Records found in the files."))
    created = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    files_failed = models.PositiveIntegerField(default=0)
    outcomes = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "[{file, record, outcome, message}] per record, and per file ignored; outcome "
            "created/unchanged/skipped/error/ignored."
        ),
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="import_job_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} ({self.status})"


# --- Reading ----------------------------------------------------------------------------------------
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


# --- Agreement and adjudication (issue 6) ---------------------------------------------------------------
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
        EXCLUSIVE = "exclusive", _("Consensus would break an exclusive set")

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


# --- Label releases (issue 8) ---------------------------------------------------------------------------
class Release(models.Model):
    """A versioned, immutable export of consensus labels, reads and tracings, with its dataset card.

    Written once by the build task: a finished release has no update path in any service, and its
    files' SHA-256 checksums are kept here as well as in the SHA256SUMS file beside them.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    name = models.CharField(max_length=200)
    coordinator = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="releases")
    batches = models.ManyToManyField(ReviewBatch, related_name="releases")
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.PROTECT, related_name="releases")
    target = models.CharField(
        max_length=60, blank=True, help_text=_("Taxonomy key the columns are mapped to; empty: the batches'.")
    )
    options = models.JSONField(default=dict, blank=True, help_text=_("{hdf5: bool, native_rate: bool}"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    files = models.JSONField(default=list, blank=True, help_text=_("[{name, bytes, sha256}] once built."))
    exam_count = models.PositiveIntegerField(default=0)
    software_version = models.CharField(max_length=40)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="release_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"release #{self.pk} {self.name} ({self.status})"
