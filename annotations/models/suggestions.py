"""Model suggestions: per-exam scores from each provider, and who was shown them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
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
        # Each exam's newest computed suggestion of a provider, in exam order (the designer's stratified
        # sampling and score windows), without sorting every suggestion of the archive.
        indexes = [
            models.Index(
                fields=["provider", "status", "exam", "-computed_at", "-id"], name="suggestion_newest_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_version} for exam {self.exam_id}"


class SuggestionScore(models.Model):
    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="scores")
    diagnostic_class = models.ForeignKey(DiagnosticClass, on_delete=models.PROTECT, related_name="+")
    score = models.FloatField()

    class Meta:
        # No (class, score) index any more (migration 0021 dropped it): the designer's strata and score
        # window read each exam's newest score from LatestSuggestionScore; here scores are read by
        # suggestion (the unique index), and the class's own index serves PROTECT.
        constraints = [
            models.UniqueConstraint(
                fields=["suggestion", "diagnostic_class"], name="suggestion_score_unique"
            ),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="score_in_unit_range"),
        ]

    def __str__(self) -> str:
        return f"{self.diagnostic_class_id}: {self.score:.3f}"


class LatestSuggestionScore(models.Model):
    """Each exam's newest OK score of a class from a provider: of its suggestions with a score for the
    class, the one computed last (computed_at, then id). Kept beside the scores by the services that
    write them (services.suggestions.latest_scores_upsert), in their transaction: the designer's
    stratified preview merges a pool of millions of exams with one class of one provider here, in exam
    order from the unique index alone, where picking the newest among all suggestions and their scores
    at each request took 2.8 s at CODE-II size."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=100)
    # No index of its own: a class is deleted only with its taxonomy, rarely, and PROTECT's check may
    # scan; the rows are read by (provider, class, exam).
    diagnostic_class = models.ForeignKey(
        DiagnosticClass, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField(help_text=_("The suggestion's, to keep the newest on each write."))
    score = models.FloatField()

    class Meta:
        # The designer's score window (suggestion_min/max): the exams whose newest score lies in it are a
        # range of this index, read from it alone. SQLite builds it without the INCLUDE (W040 silenced).
        indexes = [
            models.Index(
                fields=["provider", "diagnostic_class", "score"],
                include=["exam"],
                name="latest_score_window_idx",
            )
        ]
        constraints = [
            # The score rides in the unique index so that one class of one provider reads in exam order
            # without the table. SQLite has no INCLUDE: migration 0020 gives it the same unique index
            # without the score (the upsert's ON CONFLICT needs one).
            models.UniqueConstraint(
                fields=["provider", "diagnostic_class", "exam"],
                include=["score"],
                name="latest_score_unique",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1), name="latest_score_in_unit_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.diagnostic_class_id} for exam {self.exam_id}: {self.score:.3f}"


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


class SuggestionRelevance(models.Model):
    """Where in the trace one class's score came from: relevance in [0, 1] per lead and time bin.

    Keyed by the provider's own code rather than a taxonomy class: a band is 12 x ~1000 bytes, and the
    scores' per-taxonomy copies would repeat it for every taxonomy showing the exam (readers' selectors
    map the code to their batch's class as scores are mapped). `data` is uint8 (0..255 for 0..1),
    lead-major: row i is lead i of STANDARD_LEADS (or the one band of all leads when leads == 1), bin j
    covers [j * bin_ms, (j + 1) * bin_ms) of the exam's own time axis.
    """

    class Method(models.TextChoices):
        PROVIDER = "provider", _("Model's own relevance")
        OCCLUSION = "occlusion", _("Occlusion sensitivity")

    suggestion = models.ForeignKey(Suggestion, on_delete=models.CASCADE, related_name="relevances")
    code = models.CharField(max_length=40, help_text=_("The provider's code for the class."))
    method = models.CharField(max_length=10, choices=Method.choices)
    leads = models.PositiveSmallIntegerField(help_text=_("12 bands, one per lead, or 1 for all leads."))
    bins = models.PositiveIntegerField()
    bin_ms = models.FloatField()
    peak = models.FloatField(
        default=1.0, help_text=_("The unnormalised maximum (for occlusion: the largest drop in score).")
    )
    data = models.BinaryField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["suggestion", "code", "method"], name="relevance_unique"),
            models.CheckConstraint(
                condition=Q(method__in=["provider", "occlusion"]), name="relevance_method"
            ),
            models.CheckConstraint(condition=Q(leads__in=[1, 12]), name="relevance_leads_1_or_12"),
            # 60 000 bins: ten minutes at 10 ms, more than any resting ECG; longer exams get wider bins.
            models.CheckConstraint(condition=Q(bins__gte=1, bins__lte=60_000), name="relevance_bins_range"),
            models.CheckConstraint(condition=Q(bin_ms__gt=0), name="relevance_bin_ms_positive"),
            models.CheckConstraint(condition=Q(peak__gte=0), name="relevance_peak_non_negative"),
            models.CheckConstraint(
                condition=Exact(Length("data"), F("leads") * F("bins")), name="relevance_data_matches_shape"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} relevance of {self.code} for suggestion {self.suggestion_id}"
