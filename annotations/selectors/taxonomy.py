"""Taxonomies are public to every logged-in user: they hold no read, no exam, no reader."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from annotations.models import DiagnosticClass, Taxonomy


def taxonomy_list() -> QuerySet[Taxonomy]:
    return Taxonomy.objects.annotate(class_count=Count("classes")).order_by("-is_default", "key", "version")


def taxonomy_get(taxonomy_id: int) -> Taxonomy:
    return get_object_or_404(Taxonomy, pk=taxonomy_id)


def taxonomy_classes(taxonomy: Taxonomy) -> QuerySet[DiagnosticClass]:
    return taxonomy.classes.order_by("position")


def taxonomy_classes_by_group(taxonomy: Taxonomy) -> list[tuple[str, list[DiagnosticClass]]]:
    classes = list(taxonomy_classes(taxonomy))
    return [(group, [c for c in classes if c.group == group]) for group in taxonomy.groups]


def taxonomy_size_for_reader(user, assignment_id: int) -> int:
    """How many statements the taxonomy of the reader's own assignment has; 404 for anyone else's."""
    from django.http import Http404

    from annotations.models import Assignment

    taxonomy_id = (
        Assignment.objects.filter(pk=assignment_id, reader=user)
        .values_list("batch__taxonomy_id", flat=True)
        .first()
    )
    if taxonomy_id is None:
        raise Http404
    return DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id).count()
