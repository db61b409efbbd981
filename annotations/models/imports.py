"""Import jobs: one coordinator's upload, its progress and its outcomes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


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
    # Runs started: a run whose worker stopped beating is taken over by the next (services.imports.jobs),
    # and a run that finds a higher number here stops.
    attempt = models.PositiveIntegerField(default=0)

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
