"""Which batches an export may hold together, and its columns: the batches' own classes, or another
taxonomy's classes mapped onto them (a target class names its source statements in its ``maps``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.models import BatchExam, Exam, ReviewBatch, Taxonomy
from annotations.selectors.imports import column_crosswalk
from annotations.selectors.taxonomy import taxonomy_shipped_classes


class ExportRefused(Invalid):
    """An export that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Column:
    code: str
    name: str
    source_ids: tuple[int, ...]
    source_codes: tuple[str, ...]


@dataclass(frozen=True)
class ExportPlan:
    batches: list[ReviewBatch]
    taxonomy: Taxonomy
    columns: list[Column]
    target: str  # "" for the batches' own taxonomy, else the key of the taxonomy mapped to
    target_version: str
    unmapped: list[str]  # target codes with no source statement (left out of the columns)

    @property
    def batch_ids(self) -> list[int]:
        return [batch.pk for batch in self.batches]


def _target_classes(target: str) -> tuple[str, list[dict[str, Any]]]:
    """(version, classes) of the taxonomy to map to: the newest loaded version, else the shipped file."""
    loaded = Taxonomy.objects.filter(key=target).order_by("-loaded_at", "-pk").first()
    if loaded is not None:
        classes = loaded.classes.order_by("position").values("code", "name", "maps")
        return loaded.version, [dict(row) for row in classes]
    shipped = taxonomy_shipped_classes(target)
    if shipped is None:
        raise ExportRefused(
            _("no taxonomy “%(target)s” to map to (load it, or use code15 or ptbxl-scp)") % {"target": target}
        )
    return shipped


def _exam_name(exam_id: int) -> str:
    exam = Exam.objects.select_related("dataset").filter(pk=exam_id).first()
    return f"{exam.dataset.name}/{exam.external_id}" if exam else str(exam_id)


def _copies_together(batch_ids: list[int]) -> tuple[int, int] | None:
    """Two exams of the batches that hold one waveform (Exam.copy_of), or None. The copies are few: read
    with the first exam each points at, then asked whether that first exam, or another copy, is there."""
    members = BatchExam.objects.filter(batch_id__in=batch_ids)
    copies = list(
        members.filter(exam__copy_of__isnull=False)
        .order_by("exam_id")
        .values_list("exam_id", "exam__copy_of_id")
    )
    if not copies:
        return None
    by_first: dict[int | None, int] = {}
    for exam_id, first in copies:
        if first in by_first:
            return by_first[first], exam_id
        by_first[first] = exam_id
    first_there = (
        members.filter(exam_id__in=list(by_first))
        .order_by("exam_id")
        .values_list("exam_id", flat=True)
        .first()
    )
    return (first_there, by_first[first_there]) if first_there is not None else None


def _statements_of_columns(taxonomy: Taxonomy, target: str) -> dict[str, set[str]]:
    """Each source statement's target classes beyond the one a target class names: those its own maps
    name (TNMG's Mobitz I says PTB-XL's 2AVB, whose own map names only the 2:1 block), and the curated
    crosswalk's parts (a bifascicular block is a bundle branch block and a fascicular block). A release
    column left without them said a decided 0 where every reader had marked a statement of its class."""
    maps_key, parts = column_crosswalk(taxonomy.key, target)
    out: dict[str, set[str]] = {code: set(classes) for code, classes in parts.items()}
    for code, maps in taxonomy.classes.values_list("code", "maps"):
        if (maps or {}).get(maps_key):
            out.setdefault(code, set()).add(maps[maps_key])
    return out


def _mapped_columns(
    taxonomy: Taxonomy, source: list[tuple[int, str, str]], target: str
) -> tuple[str, list[Column], list[str]]:
    """(target version, columns, unmapped target codes) of the batches' statements mapped to `target`."""
    version, target_classes = _target_classes(target)
    by_code = {code: pk for pk, code, _ in source}
    part_of = _statements_of_columns(taxonomy, target)
    columns, unmapped = [], []
    for item in target_classes:
        # A target class names its source statement in maps[<source taxonomy key>]; the source statements
        # that are part of it too (_statements_of_columns) join it.
        mapped = (item.get("maps") or {}).get(taxonomy.key)
        named = [mapped] if isinstance(mapped, str) else list(mapped or [])
        codes = [
            code
            for code, _ in sorted(by_code.items(), key=lambda kv: kv[1])
            if code in named or item["code"] in part_of.get(code, ())
        ]
        if not codes:
            unmapped.append(item["code"])
            continue
        columns.append(Column(item["code"], item["name"], tuple(by_code[c] for c in codes), tuple(codes)))
    if not columns:
        raise ExportRefused(
            _("no class of “%(target)s” maps to “%(source)s”") % {"target": target, "source": taxonomy.key}
        )
    return version, columns, unmapped


def export_plan(batch_ids: Sequence[int], *, target: str = "") -> ExportPlan:
    """Check that the batches can be exported together and work out the columns."""
    ids = sorted(set(int(i) for i in batch_ids))
    if not ids:
        raise ExportRefused(_("choose at least one batch"))
    batches = list(ReviewBatch.objects.select_related("taxonomy").filter(pk__in=ids).order_by("pk"))
    if len(batches) != len(ids):
        missing = sorted(set(ids) - {b.pk for b in batches})
        raise ExportRefused(_("no such batch: %(ids)s") % {"ids": ", ".join(map(str, missing))})
    taxonomies = {b.taxonomy_id for b in batches}
    if len(taxonomies) > 1:
        raise ExportRefused(_("the batches use different taxonomies; export them separately"))
    shared = (
        BatchExam.objects.filter(batch_id__in=ids)
        .values("exam_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("exam_id")
        .first()
    )
    if shared:
        # One row per exam: two batches' consensus for one exam would need a rule we do not invent here.
        raise ExportRefused(
            _("exam %(exam)s is in more than one of these batches") % {"exam": _exam_name(shared["exam_id"])}
        )
    copied = _copies_together(ids)
    if copied:
        raise ExportRefused(
            _(
                "%(first)s and %(second)s hold the same waveform (a copy, linked at import): a release takes "
                "one of them, or its rows would leak across a train/test split"
            )
            % {"first": _exam_name(copied[0]), "second": _exam_name(copied[1])}
        )
    taxonomy = batches[0].taxonomy
    source = list(taxonomy.classes.order_by("position").values_list("pk", "code", "name"))
    if not target or target == taxonomy.key:
        columns = [Column(code, name, (pk,), (code,)) for pk, code, name in source]
        return ExportPlan(batches, taxonomy, columns, "", taxonomy.version, [])
    version, columns, unmapped = _mapped_columns(taxonomy, source, target)
    return ExportPlan(batches, taxonomy, columns, target, version, unmapped)
