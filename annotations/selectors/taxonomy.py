"""Taxonomies are public to every logged-in user: they hold no read, no exam, no reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db.models import Count, QuerySet
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from annotations.errors import NotFound
from annotations.models import Assignment, DiagnosticClass, Taxonomy

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The taxonomy files the project ships (services.taxonomy loads and checks them).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "taxonomies"


# The groups of the shipped taxonomies in words, for every page that lists statements by group.
GROUP_LABELS = {
    "normal": _("Normal"),
    "rhythm": _("Rhythm"),
    "av_conduction": _("AV conduction"),
    "intraventricular_conduction": _("Intraventricular conduction"),
    "chamber_hypertrophy": _("Chamber enlargement"),
    "ischemia_infarction": _("Ischaemia and infarction"),
    "repolarization": _("Repolarisation"),
    "ectopy_escape": _("Ectopy and escape"),
    "pacemaker": _("Pacemaker"),
    "axis_voltage_intervals": _("Axis, voltage and intervals"),
    "technical_quality": _("Technical quality"),
    "abnormalities": _("Abnormalities"),  # CODE-15%
    "cpsc2018": _("CPSC-2018 classes"),
    "diagnostic": _("Diagnostic"),  # PTB-XL's statement types
    "form": _("Form"),
    "diagnostic+form": _("Diagnostic and form"),
}


# Statement qualifiers in words (annotations.lib.qualifiers holds them in order).
QUALIFIER_LABELS = {
    "inferior": _("Inferior"),
    "anterior": _("Anterior"),
    "septal": _("Septal"),
    "lateral": _("Lateral"),
    "posterior": _("Posterior"),
    "extensive": _("Extensive"),
    "acute": _("Acute"),
    "old": _("Old"),
}


def qualifier_label(key: str) -> str:
    known = QUALIFIER_LABELS.get(key)
    return str(known) if known is not None else key


def group_label(key: str) -> str:
    """A group's name in words: the shipped groups translated, any other key as a phrase ("abnormalities"
    -> "Abnormalities")."""
    known = GROUP_LABELS.get(key)
    return str(known) if known is not None else key.replace("_", " ").capitalize()


def taxonomy_list() -> QuerySet[Taxonomy]:
    return Taxonomy.objects.annotate(class_count=Count("classes")).order_by("-is_default", "key", "version")


def version_order(version: str) -> tuple[Any, ...]:
    """'2026.1' after '2026' and '2026.10' after '2026.9': numeric parts compare as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in version.split("."))


def taxonomy_superseded() -> dict[int, str]:
    """For each taxonomy that has a newer version of the same key loaded: that newest version. An older
    version still designs batches (a study continuing an earlier one); the pages say it is not current."""
    newest: dict[str, tuple[tuple[Any, ...], str]] = {}
    rows = list(Taxonomy.objects.values_list("pk", "key", "version"))
    for _pk, key, version in rows:
        if key not in newest or version_order(version) > newest[key][0]:
            newest[key] = (version_order(version), version)
    return {pk: newest[key][1] for pk, key, version in rows if version != newest[key][1]}


def taxonomy_get(taxonomy_id: int) -> Taxonomy:
    taxonomy = Taxonomy.objects.filter(pk=taxonomy_id).first()
    if taxonomy is None:
        # Django's own words and translation, as get_object_or_404 answered
        raise NotFound(gettext("No %s matches the given query.") % "Taxonomy")
    return taxonomy


def taxonomy_classes(taxonomy: Taxonomy) -> QuerySet[DiagnosticClass]:
    return taxonomy.classes.order_by("position")


def taxonomy_classes_by_group(taxonomy: Taxonomy) -> list[tuple[str, list[DiagnosticClass]]]:
    """Each group's name in words with its statements, in the taxonomy's order."""
    classes = list(taxonomy_classes(taxonomy))
    return [(group_label(group), [c for c in classes if c.group == group]) for group in taxonomy.groups]


def taxonomy_size_for_reader(user: User, assignment_id: int) -> int:
    """How many statements the taxonomy of the reader's own assignment has; 404 for anyone else's."""
    taxonomy_id = (
        Assignment.objects.filter(pk=assignment_id, reader=user)
        .values_list("batch__taxonomy_id", flat=True)
        .first()
    )
    if taxonomy_id is None:
        raise NotFound
    return DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id).count()


def taxonomy_shipped_classes(key: str) -> tuple[str, list[dict[str, Any]]] | None:
    """(version, classes as code, name and maps) of the shipped taxonomy file `key`; None if none ships.

    Read without loading it: the shipped files are checked whole by the taxonomy tests and on every
    load, so only the few fields an export maps by are taken here."""
    path = SHIPPED_DIR / f"{key}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    classes = [{"code": c["code"], "name": c["name"], "maps": c.get("maps") or {}} for c in data["classes"]]
    return data["version"].strip(), classes


def statement_name(name: str, name_pt: str) -> str:
    """A statement's name in the interface's language: TNMG's own Portuguese wording in pt-BR."""
    if name_pt and (get_language() or "").lower().startswith("pt"):
        return name_pt
    return name
