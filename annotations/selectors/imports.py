"""Import jobs and reference labels, for coordinators only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from annotations.models import DiagnosticClass, Exam, ImportJob, Taxonomy
from annotations.roles import Role, has_role


def _require_coordinator(user) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise PermissionDenied


def import_job_list(user) -> QuerySet[ImportJob]:
    _require_coordinator(user)
    return ImportJob.objects.select_related("coordinator").defer("outcomes")[:50]


def import_job_get(user, job_id: int) -> ImportJob:
    _require_coordinator(user)
    return get_object_or_404(ImportJob, pk=job_id)


def reference_label_classes(exam: Exam, taxonomy: Taxonomy) -> list[DiagnosticClass]:
    """The exam's reference labels as classes of `taxonomy`, through the taxonomies' cross-maps.

    A label (system, code) matches a class whose own taxonomy key is the system and code is the code, or
    whose maps[system] is the code, or that the label's own taxonomy (same key as the system, e.g.
    'code15', 'ptbxl-scp') maps onto with maps[taxonomy.key].
    """
    classes = list(taxonomy.classes.all())
    by_code = {c.code: c for c in classes}
    found: dict[int, DiagnosticClass] = {}
    for label in exam.reference_labels.all():
        system, code = label.code_system, label.code
        if system in {taxonomy.key, f"{taxonomy.key}-scp"} and code in by_code:
            found[by_code[code].pk] = by_code[code]
        for cls in classes:
            if cls.maps.get(system) == code:
                found[cls.pk] = cls
        for source in DiagnosticClass.objects.filter(taxonomy__key__in=[system, f"{system}-scp"], code=code):
            target = by_code.get(source.maps.get(taxonomy.key, ""))
            if target is not None:
                found[target.pk] = target
    return sorted(found.values(), key=lambda c: c.position)
