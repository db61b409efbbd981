"""Import jobs and reference labels, for coordinators only."""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils.translation import gettext

from annotations.errors import Forbidden, NotFound
from annotations.lib.qualifiers import qualifiers_ordered
from annotations.models import DiagnosticClass, Exam, ImportJob, Taxonomy
from annotations.roles import Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _require_coordinator(user: User) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def import_job_list(user: User) -> QuerySet[ImportJob]:
    _require_coordinator(user)
    return ImportJob.objects.select_related("coordinator").defer("outcomes")[:50]


def import_job_get(user: User, job_id: int) -> ImportJob:
    _require_coordinator(user)
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        # Django's own words and translation, as get_object_or_404 answered
        raise NotFound(gettext("No %s matches the given query.") % "ImportJob")
    return job


REFERENCE_MAPS_DIR = Path(__file__).resolve().parent.parent / "taxonomies" / "reference-maps"
# Words a device line may open with that say how sure the cart is of the finding after them.
STATEMENT_HEDGES = frozenset(
    {"probable", "possible", "consider", "provavel", "possivel", "probabile", "possibile"}
)
# The coronary artery GE's 12SL names after an acute infarct line, as statement_key writes it.
CULPRIT_ARTERIES = frozenset({"lad", "lcx", "rca", "lm"})
# Label systems whose codes must map onto the default taxonomy; the import report counts those that do not.
COUNTED_SYSTEMS = ("snomed", "statement")


@lru_cache(maxsize=16)
def reference_map(taxonomy_key: str) -> dict[str, dict[str, str]]:
    """The curated label crosswalk shipped with a taxonomy (reference-maps/<key>.json): SNOMED codes and
    device statement texts, each to a class code. Empty when the taxonomy ships none."""
    path = REFERENCE_MAPS_DIR / f"{taxonomy_key}.json"
    if not path.is_file():
        return {"snomed": {}, "statement": {}, "statement_qualifiers": {}}
    data = json.loads(path.read_text(encoding="utf-8"))
    statements = data.get("statement") or {}
    # A statement maps to a class code, or to {code, qualifiers} where the line says where the finding is.
    return {
        "snomed": dict(data.get("snomed") or {}),
        "statement": {
            statement_key(text): target if isinstance(target, str) else target["code"]
            for text, target in statements.items()
        },
        "statement_qualifiers": {
            statement_key(text): list(target.get("qualifiers") or [])
            for text, target in statements.items()
            if isinstance(target, dict)
        },
    }


def column_crosswalk(taxonomy_key: str, target: str) -> tuple[str, dict[str, list[str]]]:
    """For a release of `taxonomy_key` reads mapped to `target`'s columns, from the curated crosswalk: the
    key under which a statement's own maps name a target class, and the statements that are part of target
    classes without being them (a bifascicular block: its bundle branch and fascicular blocks)."""
    path = REFERENCE_MAPS_DIR / f"{taxonomy_key}.json"
    columns = (json.loads(path.read_text(encoding="utf-8")).get("columns") or {}) if path.is_file() else {}
    entry = columns.get(target) or {}
    return entry.get("maps") or target, {
        code: list(parts) for code, parts in (entry.get("statements") or {}).items()
    }


def statement_key(text: str) -> str:
    """A statement as compared: lower case, accents and punctuation dropped, 'A-V' as 'av'."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = re.sub(r"\ba\s*-\s*v\b", "av", folded)
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


class LabelMatcher:
    """Which classes of one taxonomy a reference label (system, code) stands for, without queries per label:
    the class's own code (labels of the taxonomy's own key), its maps[system], the crosswalk shipped with
    the taxonomy, and for text statements the class names, Portuguese names and synonyms."""

    def __init__(self, taxonomy: Taxonomy, classes: list[DiagnosticClass] | None = None) -> None:
        self.taxonomy = taxonomy
        self.classes = classes if classes is not None else list(taxonomy.classes.all())
        self.by_code = {c.code: c for c in self.classes}
        self.by_map: dict[tuple[str, str], list[DiagnosticClass]] = {}
        self.by_text: dict[str, DiagnosticClass] = {}
        for cls in self.classes:
            for system, code in (cls.maps or {}).items():
                self.by_map.setdefault((system, code), []).append(cls)
            for text in [cls.name, cls.name_pt, *(cls.synonyms or [])]:
                if text:
                    self.by_text.setdefault(statement_key(text), cls)
        crosswalk = reference_map(taxonomy.key)
        for code, target in crosswalk["snomed"].items():
            if target in self.by_code and self.by_code[target] not in self.by_map.get(("snomed", code), []):
                self.by_map.setdefault(("snomed", code), []).append(self.by_code[target])
        for key, target in crosswalk["statement"].items():
            if target in self.by_code:
                self.by_text[key] = self.by_code[target]
        self.text_qualifiers = crosswalk["statement_qualifiers"]

    def classes_for(self, system: str, code: str) -> list[DiagnosticClass]:
        found = list(self.by_map.get((system, code), []))
        if system in {self.taxonomy.key, f"{self.taxonomy.key}-scp"} and code in self.by_code:
            found.append(self.by_code[code])
        if system == "statement" and (cls := self._statement_class(statement_key(code))) is not None:
            found.append(cls)
        return found

    def _statement_class(self, key: str) -> DiagnosticClass | None:
        """The class a device line names, also when it opens with a hedge: "probable left ventricular
        hypertrophy" says how sure the cart is, not which finding (a reference label only ever ranks and
        filters exams; readers never see it)."""
        return self._statement_match(key)[0]

    def _statement_match(self, key: str) -> tuple[DiagnosticClass | None, str]:
        """The class a device line names and the crosswalk's key it matched (for its qualifiers). The culprit
        artery a cart adds to an infarct line ("Inferior infarct, acute (LCx)") names no finding."""
        head, _, last = key.rpartition(" ")
        keys = [key, head] if last in CULPRIT_ARTERIES and head else [key]
        for candidate in keys:
            found = self.by_text.get(candidate)
            first, _, rest = candidate.partition(" ")
            if found is None and first in STATEMENT_HEDGES and rest:
                found, candidate = self.by_text.get(rest), rest
            if found is not None:
                return found, candidate
        return None, key

    def statement_qualifiers(self, code: str) -> list[str]:
        """The qualifiers a device line gives the statement it names (its wall, its age): none for most."""
        found, key = self._statement_match(statement_key(code))
        return list(self.text_qualifiers.get(key, [])) if found is not None else []


def reference_label_findings(exam: Exam, taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The exam's reference labels as statements of `taxonomy` with the qualifiers their device lines give
    (an infarct line's wall and age): [{code, qualifiers}] in the taxonomy's order, qualifiers merged."""
    matcher = LabelMatcher(taxonomy)
    found: dict[int, tuple[DiagnosticClass, set[str]]] = {}
    for label in exam.reference_labels.all():
        given = matcher.statement_qualifiers(label.code) if label.code_system == "statement" else []
        for cls in label_classes(matcher, label.code_system, label.code):
            found.setdefault(cls.pk, (cls, set()))[1].update(q for q in given if q in cls.qualifiers)
    return [
        {"code": cls.code, "qualifiers": qualifiers_ordered(qualifiers)}
        for cls, qualifiers in sorted(found.values(), key=lambda item: item[0].position)
    ]


def exam_reference_findings(exam: Exam) -> list[dict[str, Any]]:
    """reference_label_findings on the default taxonomy (none loaded: none). The caller checked access."""
    taxonomy = Taxonomy.objects.filter(is_default=True).first()
    return reference_label_findings(exam, taxonomy) if taxonomy is not None else []


def reference_label_classes(exam: Exam, taxonomy: Taxonomy) -> list[DiagnosticClass]:
    """The exam's reference labels as classes of `taxonomy`, through the taxonomies' cross-maps.

    A label (system, code) matches a class whose own taxonomy key is the system and code is the code, or
    whose maps[system] is the code, or that the taxonomy's shipped crosswalk names for a SNOMED code or a
    device statement (see LabelMatcher), or that the label's own taxonomy (same key as the system, e.g.
    'code15', 'ptbxl-scp') maps onto with maps[taxonomy.key].
    """
    matcher = LabelMatcher(taxonomy)
    found: dict[int, DiagnosticClass] = {}
    for label in exam.reference_labels.all():
        for cls in label_classes(matcher, label.code_system, label.code):
            found[cls.pk] = cls
    return sorted(found.values(), key=lambda c: c.position)


def label_classes(matcher: LabelMatcher, system: str, code: str) -> list[DiagnosticClass]:
    """The classes of the matcher's taxonomy one reference label (system, code) stands for: the matcher's
    own, and those that the label's own taxonomy maps onto."""
    found = matcher.classes_for(system, code)
    for source in DiagnosticClass.objects.filter(taxonomy__key__in=[system, f"{system}-scp"], code=code):
        target = matcher.by_code.get(source.maps.get(matcher.taxonomy.key, ""))
        if target is not None:
            found.append(target)
    return found
