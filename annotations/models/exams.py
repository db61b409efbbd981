"""Exams: datasets, the recordings themselves (waveform stored beside them) and their reference labels."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Dataset(models.Model):
    """Where exams come from (CODE-15%, PTB-XL, a hospital's archive); external ids are unique within it."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    licence = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        # "Demo" and "demo" would be two datasets every list shows side by side: one name in any case.
        constraints = [models.UniqueConstraint(Lower("name"), name="dataset_name_any_case_unique")]

    def __str__(self) -> str:
        return self.name


class QualityGrade(models.TextChoices):
    GOOD = "good", _("good")
    ACCEPTABLE = "acceptable", _("acceptable")
    POOR = "poor", _("poor")


# The exam-level flags of annotations/lib/ecg/quality.py (EXAM_FLAGS), in its order, as people read them.


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
    # The first exam of the same waveform, when this one is a copy of it (another dataset or id holding
    # the same recording, linked at import): a batch or a release never takes both. Indexed where set only.
    copy_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="copies", db_index=False
    )
    source_format = models.CharField(max_length=30)
    source_sha256 = models.CharField(max_length=64, blank=True)
    source_record = models.CharField(max_length=300, blank=True)
    identifiers = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Identifying header fields, kept only when IDENTIFIERS_POLICY=keep; coordinators only."),
    )
    # The recording cart's own global measurements as its file gave them (annotations/lib/formats/base.py
    # DEVICE_MEASUREMENTS: heart_rate_bpm, pr_ms, qtc_ms, qrs_axis_deg...); {} when the format carries none.
    device_measurements = models.JSONField(
        default=dict,
        db_default=models.Value({}, output_field=models.JSONField()),  # rows written by raw SQL (bench/)
        blank=True,
        editable=False,
        help_text=_("The recording device's global measurements, as its file gave them."),
    )
    imported_at = models.DateTimeField(default=timezone.now)
    # The upload or API import that brought the exam in (none for the command line and the demo): its
    # provenance, and how a job delivered again after its worker died tells its own exams from others'.
    # Not indexed: nothing lists exams by job, and a job with exams is never deleted.
    import_job = models.ForeignKey(
        "annotations.ImportJob",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # Signal-quality report computed at import (annotations/lib/ecg/quality.py); "" until computed (exams
    # imported before it existed: `manage.py quality_report --missing`). Grade and flags are columns
    # of their own so that lists and the batch designer filter on them in the database.
    quality_grade = models.CharField(
        max_length=12, choices=QualityGrade.choices, blank=True, default="", db_index=True
    )
    quality_flags = models.CharField(
        max_length=200, blank=True, default="", help_text=_("Exam-level quality flags, comma-delimited.")
    )
    quality_report = models.JSONField(default=dict, blank=True)
    # The exam's reference labels as "\nsystem:code\n..." (annotations/lib/reference_codes.py), written
    # with them by the importer: the batch designer's label criterion reads them from its covering index
    # instead of joining millions of label rows. "*" where they do not fit it (the label table decides).
    reference_codes = models.TextField(blank=True, default="", db_default="", editable=False)
    # What the import read a value for, present or absent, as ",code15:AF,code15:RBBB,ptbxl,": a code
    # (one of CODE's label columns, filled in), or a whole system (PTB-XL's scp_codes). A class these
    # speak for that the exam's labels lack is absent, so an exam with no reference label at all can
    # still be a known normal (a gold exam). lib.reference_codes.coverage_text writes it.
    reference_coverage = models.CharField(
        max_length=500, blank=True, default="", db_default="", editable=False
    )

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
            models.CheckConstraint(
                condition=Q(reference_codes__in=["", "*"])
                | Q(reference_codes__startswith="\n", reference_codes__endswith="\n"),
                name="exam_reference_codes_form",
            ),
        ]
        indexes = [
            models.Index(fields=["waveform_sha256"], name="exam_waveform_sha_idx"),
            models.Index(fields=["copy_of"], condition=Q(copy_of__isnull=False), name="exam_copy_of_idx"),
            # The exam list's sorts read these in order, the id last to make each order total
            # (annotations/selectors/exams/listing.py); with a dataset chosen, its dates too.
            models.Index(fields=["acquired_at", "id"], name="exam_acquired_idx"),
            models.Index(fields=["dataset", "acquired_at", "id"], name="exam_dataset_acquired_idx"),
            models.Index(fields=["external_id", "id"], name="exam_external_id_idx"),
            models.Index(fields=["quality_grade", "id"], name="exam_quality_idx"),
            # The batch designer reads the ids of every matching exam (millions at CODE-II size) with the
            # criteria columns: covering them lets PostgreSQL answer from the index, not a 3 GB heap.
            models.Index(
                fields=["id"],
                include=[
                    "dataset",
                    "age",
                    "sex",
                    "quality_grade",
                    "acquired_at",
                    "imported_at",
                    "reference_codes",
                ],
                name="exam_design_pool_codes_idx",
            ),
            # The few exams whose codes did not fit, which the label criterion asks the label table about.
            models.Index(
                fields=["id"], condition=Q(reference_codes="*"), name="exam_reference_codes_over_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}/{self.external_id}"

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate

    @property
    def quality_flag_labels(self) -> list[str]:
        labels = dict(QUALITY_FLAG_CHOICES)
        return [str(labels.get(flag, flag)) for flag in self.quality_flags.split(",") if flag]


class ExamBeat(models.Model):
    """The recording cart's representative beat of an exam (GE's median, Philips' mean beat, an aECG's or
    DICOM's derived beat, SCP-ECG's reference beat), shown to blind readers beside the leads by the batch's
    blind_measurements setting. A measurement of the signal, never an interpretation.

    A table of its own rather than a column of Exam: a beat is 20-70 kB of JSON, and exam rows are read by
    the thousand (lists, the batch designer, releases) where a deferred column would have to be left out
    of every query by hand; here it is read only where a reader's panel asks for it, one row by key."""

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, primary_key=True, related_name="cart_beat")
    source_format = models.CharField(
        max_length=40, help_text=_("The importer that read it (muse, dicom...).")
    )
    source = models.CharField(max_length=100, help_text=_("What the file calls the beat."))
    sampling_rate = models.FloatField()
    gain_uv = models.FloatField(help_text=_("The file's resolution: microvolts per stored step."))
    n_samples = models.PositiveIntegerField()
    # [[microvolts, ...] x 12]: the standard leads in standard order (lib.ecg.leads.STANDARD_LEADS), each
    # n_samples long. A list, not an object by lead: PostgreSQL's jsonb does not keep an object's key order.
    leads_uv = models.JSONField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(sampling_rate__gt=0), name="exam_beat_sampling_rate_positive"),
            models.CheckConstraint(condition=Q(gain_uv__gt=0), name="exam_beat_gain_positive"),
            models.CheckConstraint(condition=Q(n_samples__gt=1), name="exam_beat_n_samples_positive"),
            models.CheckConstraint(condition=~Q(source=""), name="exam_beat_source_given"),
            models.CheckConstraint(condition=~Q(source_format=""), name="exam_beat_source_format_given"),
        ]

    def __str__(self) -> str:
        return f"{self.source} of exam {self.exam_id}"


class ReferenceLabel(models.Model):
    """A label that came with the exam (dataset metadata, device statements): never shown to readers."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="reference_labels")
    code_system = models.CharField(max_length=30, help_text=_("e.g. code15, ptbxl, snomed."))
    # Long enough for a cart's free-text statement ("Warning: artifact in (part of) recording - use
    # interpretation with caution" is 73 characters), which a label must keep whole.
    code = models.CharField(max_length=300)
    likelihood = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exam", "code_system", "code"], name="reference_label_unique"),
        ]
        # The exam list's label filter: a code in any case, in any or one code system (PostgreSQL's
        # iexact is UPPER(code) = UPPER(...), so the index is on that expression).
        indexes = [
            models.Index(Upper("code"), F("code_system"), F("exam"), name="reference_label_code_upper_idx")
        ]

    def __str__(self) -> str:
        return f"{self.code_system}:{self.code}"
