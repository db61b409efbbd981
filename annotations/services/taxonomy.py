"""Loading taxonomies from JSON files: validated whole, stored in one transaction, idempotent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotations.errors import Invalid
from annotations.lib.qualifiers import QUALIFIERS
from annotations.models import DiagnosticClass, Taxonomy
from annotations.selectors.taxonomy import SHIPPED_DIR, version_order
from annotations.services.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

DEFAULT_TAXONOMY_FILE = SHIPPED_DIR / "tnmg.json"
# Stand-ins allowed in exclusive sets: "every statement of this kind"; "!CODE" exempts CODE from them.
SET_TOKENS = {"*diagnostic*": "diagnostic", "*quality*": "quality"}
KINDS = {"diagnostic", "quality"}
TOP_FIELDS = {
    "key",
    "name",
    "version",
    "language",
    "provenance",
    "groups",
    "exclusive_sets",
    "classes",
    "none_of_these",
}
CLASS_FIELDS = {"code", "name", "name_pt", "group", "kind", "maps", "synonyms", "qualifiers", "extra"}


class TaxonomyError(Invalid):
    """A taxonomy file that cannot be loaded; the message names every problem found."""


@dataclass
class ParsedTaxonomy:
    key: str
    name: str
    version: str
    language: str
    provenance: str
    groups: list[str]
    exclusive_sets: list[list[str]]
    classes: list[dict[str, Any]] = field(default_factory=list)
    none_of_these: bool = False  # a read with no statement is an answer (see Taxonomy.none_of_these)

    @property
    def content_sha256(self) -> str:
        # Left out while False, so every taxonomy loaded before the field existed keeps its checksum.
        content = {k: v for k, v in self.__dict__.items() if not (k == "none_of_these" and not v)}
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class LoadResult:
    taxonomy: Taxonomy
    outcome: str  # "created", "updated" or "unchanged"


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_class(index: int, item: Any, groups: set[str], problems: list[str]) -> dict[str, Any] | None:
    where = f"classes[{index}]"
    if not isinstance(item, dict):
        problems.append(f"{where} is not an object")
        return None
    unknown = set(item) - CLASS_FIELDS
    if unknown:
        problems.append(f"{where} has unknown fields {sorted(unknown)}")
    if not _is_text(item.get("code")) or len(item["code"]) > 40:
        problems.append(f"{where}.code must be a non-empty string of at most 40 characters")
    where = f"classes[{index}] ({item.get('code')!r})"
    if not _is_text(item.get("name")):
        problems.append(f"{where}.name must be a non-empty string")
    if item.get("group") not in groups:
        problems.append(f"{where}.group {item.get('group')!r} is not one of the declared groups")
    if item.get("kind", "diagnostic") not in KINDS:
        problems.append(f"{where}.kind {item.get('kind')!r} must be one of {sorted(KINDS)}")
    maps = item.get("maps", {})
    if not isinstance(maps, dict) or not all(isinstance(v, str) for v in maps.values()):
        problems.append(f"{where}.maps must be an object of code strings")
    synonyms = item.get("synonyms", [])
    if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
        problems.append(f"{where}.synonyms must be a list of strings")
    if not isinstance(item.get("extra", {}), dict):
        problems.append(f"{where}.extra must be an object")
    checked = {
        "code": item.get("code"),
        "name": item.get("name"),
        "name_pt": item.get("name_pt") or "",
        "group": item.get("group"),
        "kind": item.get("kind", "diagnostic"),
        "maps": maps if isinstance(maps, dict) else {},
        "synonyms": synonyms if isinstance(synonyms, list) else [],
    }
    # Only where declared, so every taxonomy loaded before qualifiers existed keeps its checksum.
    if qualifiers := _check_qualifiers(where, item.get("qualifiers", []), problems):
        checked["qualifiers"] = qualifiers
    return checked


def _check_qualifiers(where: str, qualifiers: Any, problems: list[str]) -> list[str]:
    """A statement's qualifiers: known ones (annotations.lib.qualifiers), each once."""
    if not isinstance(qualifiers, list) or not all(isinstance(q, str) for q in qualifiers):
        problems.append(f"{where}.qualifiers must be a list of qualifier names")
        return []
    unknown = [q for q in qualifiers if q not in QUALIFIERS]
    if unknown:
        problems.append(f"{where}.qualifiers names unknown qualifiers {unknown}; known: {list(QUALIFIERS)}")
    if len(set(qualifiers)) != len(qualifiers):
        problems.append(f"{where}.qualifiers lists a qualifier twice")
    return list(qualifiers)


def _check_header(data: dict[str, Any], problems: list[str]) -> list[Any]:
    """The top-level fields; returns the groups (empty when unusable)."""
    unknown = set(data) - TOP_FIELDS
    if unknown:
        problems.append(f"unknown top-level fields {sorted(unknown)}")
    for name in ("name", "version"):
        if not _is_text(data.get(name)):
            problems.append(f"'{name}' must be a non-empty string")
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups or not all(_is_text(g) for g in groups):
        problems.append("'groups' must be a non-empty list of group names")
        return []
    if len(set(groups)) != len(groups):
        problems.append("'groups' lists a group twice")
    return groups


def _check_classes(data: dict[str, Any], groups: list[Any], problems: list[str]) -> list[dict[str, Any]]:
    """The classes that pass their own checks; codes must differ even ignoring case."""
    raw_classes = data.get("classes")
    if not isinstance(raw_classes, list) or not raw_classes:
        problems.append("'classes' must be a non-empty list")
        raw_classes = []
    classes = [c for i, item in enumerate(raw_classes) if (c := _check_class(i, item, set(groups), problems))]
    seen: dict[str, str] = {}
    for item in classes:
        code = item["code"]
        if isinstance(code, str):
            folded = code.casefold()
            if folded in seen:
                problems.append(f"code {code!r} appears twice (as {seen[folded]!r} before)")
            seen.setdefault(folded, code)
    return classes


def _check_sets(data: dict[str, Any], classes: list[dict[str, Any]], problems: list[str]) -> list[Any]:
    sets = data.get("exclusive_sets", [])
    if not isinstance(sets, list):
        problems.append("'exclusive_sets' must be a list of lists of codes")
        return []
    codes = {c["code"] for c in classes}
    for index, members in enumerate(sets):
        if not isinstance(members, list) or len(members) < 2 or not all(isinstance(m, str) for m in members):
            problems.append(f"exclusive_sets[{index}] must list at least two codes (strings)")
            continue
        missing = [m for m in members if m.removeprefix("!") not in codes and m not in SET_TOKENS]
        if missing:
            problems.append(f"exclusive_sets[{index}] names unknown codes {missing}")
        if any(m.startswith("!") for m in members) and not any(m in SET_TOKENS for m in members):
            problems.append(f"exclusive_sets[{index}] exempts a code ('!CODE') but has no '*kind*' token")
    return sets


def taxonomy_parse(data: Any, *, default_key: str) -> ParsedTaxonomy:
    """Validate a taxonomy document; raise TaxonomyError listing every problem, or return it parsed."""
    if not isinstance(data, dict):
        raise TaxonomyError("the file must hold a JSON object with name, version, groups and classes")
    problems: list[str] = []
    groups = _check_header(data, problems)
    classes = _check_classes(data, groups, problems)
    sets = _check_sets(data, classes, problems)
    if not isinstance(data.get("none_of_these", False), bool):
        problems.append("'none_of_these' must be true or false")
    if problems:
        raise TaxonomyError("; ".join(problems))
    key = data.get("key") or default_key
    return ParsedTaxonomy(
        key=key,
        name=data["name"].strip(),
        version=data["version"].strip(),
        language=data.get("language", "en"),
        provenance=data.get("provenance", ""),
        groups=list(groups),
        exclusive_sets=[list(s) for s in sets],
        classes=classes,
        none_of_these=data.get("none_of_these", False),
    )


def taxonomy_read_file(path: Path, *, key: str | None = None) -> ParsedTaxonomy:
    try:
        # utf-8-sig: some editors write a byte order mark first, which JSON lets a reader ignore.
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TaxonomyError(f"{path}: not valid UTF-8 JSON ({error})") from None
    try:
        parsed = taxonomy_parse(data, default_key=key or Path(path).stem)
    except TaxonomyError as error:
        raise TaxonomyError(f"{path}: {error}") from None
    if key:
        parsed.key = key
    return parsed


def _write_classes(taxonomy: Taxonomy, parsed: ParsedTaxonomy) -> None:
    existing = {c.code: c for c in taxonomy.classes.all()}
    wanted = {c["code"] for c in parsed.classes}
    taxonomy.classes.exclude(code__in=wanted).delete()
    # Positions are unique per taxonomy: move the kept rows out of the way before renumbering.
    taxonomy.classes.update(position=F("position") + 1_000_000)
    to_create: list[DiagnosticClass] = []
    to_update: list[DiagnosticClass] = []
    for position, item in enumerate(parsed.classes):
        row = existing.get(item["code"]) or DiagnosticClass(taxonomy=taxonomy, code=item["code"])
        for name, value in item.items():
            setattr(row, name, value)
        row.qualifiers = item.get("qualifiers", [])
        row.position = position
        (to_update if row.pk else to_create).append(row)
    DiagnosticClass.objects.bulk_update(
        to_update, ["name", "name_pt", "group", "kind", "maps", "synonyms", "qualifiers", "position"]
    )
    DiagnosticClass.objects.bulk_create(to_create)


class TaxonomyFrozenError(TaxonomyError):
    """The taxonomy version is used by a batch; its content can no longer change."""


def taxonomy_load(
    parsed: ParsedTaxonomy, *, actor: User | None = None, make_default: bool = False
) -> LoadResult:
    """Store a parsed taxonomy. Same content again changes nothing; a frozen version never changes."""
    sha = parsed.content_sha256
    with transaction.atomic():
        taxonomy = Taxonomy.objects.select_for_update().filter(key=parsed.key, version=parsed.version).first()
        if taxonomy is not None and taxonomy.content_sha256 == sha:
            outcome = "unchanged"
        elif taxonomy is not None and taxonomy.frozen_at is not None:
            raise TaxonomyFrozenError(
                f"taxonomy {parsed.key} {parsed.version} is used by a batch and frozen; "
                "load the changed content under a new version"
            )
        else:
            outcome = "updated" if taxonomy else "created"
            before = {"content_sha256": taxonomy.content_sha256} if taxonomy else None
            taxonomy = taxonomy or Taxonomy(key=parsed.key, version=parsed.version)
            for name in ("name", "language", "provenance", "groups", "exclusive_sets", "none_of_these"):
                setattr(taxonomy, name, getattr(parsed, name))
            taxonomy.content_sha256 = sha
            taxonomy.loaded_at = timezone.now()
            taxonomy.save()
            _write_classes(taxonomy, parsed)
            audit_record(
                actor=actor,
                action=f"taxonomy.{outcome}",
                target=taxonomy,
                before=before,
                after={
                    "key": parsed.key,
                    "version": parsed.version,
                    "classes": len(parsed.classes),
                    "content_sha256": sha,
                },
            )
        if make_default and not taxonomy.is_default:
            Taxonomy.objects.filter(is_default=True).update(is_default=False)
            taxonomy.is_default = True
            taxonomy.save(update_fields=["is_default"])
            audit_record(actor=actor, action="taxonomy.set_default", target=taxonomy)
    return LoadResult(taxonomy=taxonomy, outcome=outcome)


def taxonomy_load_shipped(*, actor: User | None = None) -> list[LoadResult]:
    """Load every taxonomy the project ships. The shipped TNMG version becomes the default when none is
    set or when the default is an older TNMG version (batches keep the version they froze); a default of
    another key, or a newer TNMG version a group loaded itself, chosen on purpose, stays."""
    results = []
    current = Taxonomy.objects.filter(is_default=True).first()
    for path in sorted(SHIPPED_DIR.glob("*.json")):
        parsed = taxonomy_read_file(path)
        is_tnmg = path == DEFAULT_TAXONOMY_FILE
        take_over = current is None or (
            current.key == parsed.key and version_order(current.version) <= version_order(parsed.version)
        )
        results.append(taxonomy_load(parsed, actor=actor, make_default=is_tnmg and take_over))
    return results


def taxonomy_freeze(taxonomy: Taxonomy, *, actor: User | None = None) -> None:
    """Mark a taxonomy as used by a batch. Called by batch creation, inside its transaction."""
    if taxonomy.frozen_at is None:
        taxonomy.frozen_at = timezone.now()
        taxonomy.save(update_fields=["frozen_at"])
        audit_record(actor=actor, action="taxonomy.freeze", target=taxonomy)
