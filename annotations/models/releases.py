"""Label releases: a frozen export of consensus labels with its files and checksums."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from annotations.models.batches import ReviewBatch
from annotations.models.taxonomy import Taxonomy

USER = settings.AUTH_USER_MODEL


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
    pseudonym_key = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "{pseudonym: user id} of the readers (R01..) and adjudicators (A01..) its files name, as they "
            "were built; never written into the files."
        ),
    )
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
