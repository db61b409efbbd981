"""Taxonomies: versioned statement sets and their diagnostic classes."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
    qualifiers = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Qualifiers a read may add to this statement, in display order: walls or territories "
            "(inferior, anterior, septal, lateral, posterior, extensive) and acute/old."
        ),
    )
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
