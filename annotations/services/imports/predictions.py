"""Scores computed elsewhere (a group's network run offline) stored as one provider version.

The file is CSV or NPY. A CSV names its classes in its header; an ``exam_id`` column, when present,
keys each row by the exam's external id, otherwise row i is the exam whose external id is ``i`` (as in
CODE-test's files) and the file must have one row per exam of the dataset. An NPY array (exams x
classes) is always keyed by row and takes its class codes from ``classes``.

The rows are written as Suggestion rows (status ok) with SuggestionScore rows for the default taxonomy
and the taxonomies of the batches holding each exam, exactly as a computed provider's output is, so
batches, the evidence report and stratified sampling read them like any other provider's. A provider
version never changes once stored: importing into a (provider, version) that already has scores for
any of the exams is refused. Any problem refuses the whole file and stores nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction

from annotations.errors import Invalid
from annotations.lib.formats.base import csv_delimiter
from annotations.lib.providers.base import _NAME, _VERSION, DEFAULT_THRESHOLD
from annotations.models import BatchExam, Dataset, DiagnosticClass, Suggestion, SuggestionScore, Taxonomy
from annotations.selectors.suggestions.scoring import META, source_code
from annotations.services.audit import audit_record
from annotations.services.suggestions import (
    NAME_MAX,
    VERSION_MAX,
    latest_scores_upsert,
    taxonomy_classes_by_source_code,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

EXAM_ID_COLUMN = "exam_id"
MAX_FILE_BYTES = 256 * 1024 * 1024
IMPORT_ACTOR = "import_predictions"


class PredictionsImportError(Invalid):
    """The file or the options cannot be imported; the message names the problem."""


@dataclass
class ParsedScores:
    codes: list[str]
    matrix: np.ndarray  # (rows, codes) float64
    exam_keys: list[str] | None  # external ids per row, None when keyed by row
    sha256: str


@dataclass
class PredictionsImportReport:
    dataset: str
    provider: str
    version: str
    exams: int
    scores: int
    codes: list[str]
    sha256: str
    unmapped: dict[str, list[str]] = field(default_factory=dict)


# --- Reading the file ----------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PredictionsImportError(f"{path.name}: {size} bytes, more than {MAX_FILE_BYTES} allowed")
        return path.read_bytes()
    except OSError as error:
        raise PredictionsImportError(f"{path}: cannot be read ({error.strerror or error})") from None


def _check_codes(codes: list[str], where: str) -> list[str]:
    codes = [code.strip() for code in codes]
    if not codes or any(not code for code in codes):
        raise PredictionsImportError(f"{where}: class codes must be named, none left empty")
    seen = set()
    for code in codes:
        if code in seen:
            raise PredictionsImportError(f"{where}: class code {code!r} appears twice")
        seen.add(code)
    return codes


def _parse_npy(data: bytes, name: str, classes: list[str] | None) -> tuple[list[str], np.ndarray]:
    if not classes:
        raise PredictionsImportError(f"{name}: an NPY file carries no class codes; --classes is needed")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise PredictionsImportError(f"{name}: not a readable NPY array ({error})") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.dtype.kind not in "fiub":
        raise PredictionsImportError(f"{name}: expected a 2-D numeric array, got {array.dtype} {array.shape}")
    if array.shape[1] != len(classes):
        raise PredictionsImportError(
            f"{name}: {array.shape[1]} columns but {len(classes)} classes given in --classes"
        )
    return classes, array.astype(np.float64)


def _number(text: str, row: int, code: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PredictionsImportError(f"row {row}, class {code}: {text!r} is not a number in [0, 1]") from None


def _parse_csv(
    data: bytes, name: str, classes: list[str] | None
) -> tuple[list[str], np.ndarray, list[str] | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PredictionsImportError(f"{name}: not UTF-8 text") from None
    delimiter = csv_delimiter(text.partition("\n")[0])
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise PredictionsImportError(f"{name}: empty file")
    header = [cell.strip() for cell in rows[0]]
    keyed = EXAM_ID_COLUMN in header
    codes = _check_codes([c for c in header if c != EXAM_ID_COLUMN], f"{name} header")
    if classes and classes != codes:
        raise PredictionsImportError(
            f"{name}: --classes {','.join(classes)} differs from the header's {','.join(codes)}"
        )
    key_index = header.index(EXAM_ID_COLUMN) if keyed else None
    value_index = [i for i, c in enumerate(header) if c != EXAM_ID_COLUMN]
    keys: list[str] = []
    values: list[list[float]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise PredictionsImportError(f"row {number}: {len(row)} fields, the header has {len(header)}")
        if key_index is not None:
            keys.append(row[key_index].strip())
        # A table separated by semicolons comes from a spreadsheet that writes a decimal comma.
        cells = [row[i].strip() for i in value_index]
        if delimiter != ",":
            cells = [cell.replace(",", ".", 1) for cell in cells]
        values.append([_number(cell, number, header[i]) for cell, i in zip(cells, value_index, strict=True)])
    matrix = np.array(values, dtype=np.float64).reshape(len(values), len(codes))
    return codes, matrix, keys if keyed else None


def predictions_read(path: Path, classes: list[str] | None = None) -> ParsedScores:
    """Codes, score matrix and row keys of a CSV or NPY file; values checked to be in [0, 1]."""
    data = _read_bytes(path)
    classes = _check_codes(classes, "--classes") if classes else None
    if data[:6] == b"\x93NUMPY":
        codes, matrix = _parse_npy(data, path.name, classes)
        keys = None
    else:
        codes, matrix, keys = _parse_csv(data, path.name, classes)
    if matrix.shape[0] == 0:
        raise PredictionsImportError(f"{path.name}: no rows of scores")
    bad = ~(np.isfinite(matrix) & (matrix >= 0.0) & (matrix <= 1.0))
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise PredictionsImportError(
            f"row {row} (counting from 0), class {codes[column]}: {matrix[row, column]!r} "
            f"is not a number in [0, 1] ({int(bad.sum())} such values)"
        )
    return ParsedScores(codes=codes, matrix=matrix, exam_keys=keys, sha256=hashlib.sha256(data).hexdigest())


# --- Matching rows to exams and codes to classes ------------------------------------------------------
def _exam_pks(parsed: ParsedScores, dataset: Dataset) -> list[int]:
    exams = dict(dataset.exams.values_list("external_id", "pk"))
    if parsed.exam_keys is None:
        if parsed.matrix.shape[0] != len(exams):
            raise PredictionsImportError(
                f"the file has {parsed.matrix.shape[0]} rows but dataset {dataset.name!r} has {len(exams)} "
                f"exams (without an {EXAM_ID_COLUMN} column row i stands for the exam with external id i)"
            )
        keys = [str(i) for i in range(parsed.matrix.shape[0])]
        missing = [key for key in keys if key not in exams]
        if missing:
            raise PredictionsImportError(
                f"row {missing[0]}: dataset {dataset.name!r} has no exam with external id {missing[0]!r} "
                f"({len(missing)} rows unmatched); add an {EXAM_ID_COLUMN} column"
            )
        return [exams[key] for key in keys]
    seen: set[str] = set()
    for key in parsed.exam_keys:
        if key in seen:
            raise PredictionsImportError(f"exam id {key!r} appears twice")
        seen.add(key)
    unknown = [key for key in parsed.exam_keys if key not in exams]
    if unknown:
        raise PredictionsImportError(
            f"unknown exam id {unknown[0]!r} in dataset {dataset.name!r} ({len(unknown)} unknown)"
        )
    return [exams[key] for key in parsed.exam_keys]


def _known_codes() -> set[str]:
    return {source_code(c) for c in DiagnosticClass.objects.only("code", "maps")}


def _taxonomies_by_exam(exam_pks: list[int]) -> dict[int, list[int]]:
    """Exam -> taxonomies that show its suggestions: the default one and those of its batches."""
    default = list(Taxonomy.objects.filter(is_default=True).values_list("pk", flat=True))
    out: dict[int, set[int]] = {pk: set(default) for pk in exam_pks}
    for exam_id, taxonomy_id in BatchExam.objects.filter(exam_id__in=exam_pks).values_list(
        "exam_id", "batch__taxonomy_id"
    ):
        out[exam_id].add(taxonomy_id)
    return {pk: sorted(ids) for pk, ids in out.items()}


def _check_identity(provider: str, version: str) -> None:
    if not _NAME.match(provider) or len(provider) > NAME_MAX:
        raise PredictionsImportError(f"provider {provider!r}: use a short slug (a-z, 0-9, '.', '_', '-')")
    if not _VERSION.match(version) or len(version) > VERSION_MAX:
        raise PredictionsImportError(f"version {version!r}: letters, digits and . _ + - only, up to 40")


def _check_thresholds(thresholds: dict[str, float], codes: list[str]) -> None:
    for code, value in thresholds.items():
        if code not in codes:
            raise PredictionsImportError(f"threshold for {code}, a class the file does not score")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise PredictionsImportError(f"threshold {value!r} for {code} is not in [0, 1]")


# --- The write ---------------------------------------------------------------------------------------
def _check_known(codes: list[str]) -> None:
    known = _known_codes()
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise PredictionsImportError(
            f"unknown class code {unknown[0]!r}: no taxonomy has a class standing for it"
            + (f" (also {', '.join(unknown[1:])})" if len(unknown) > 1 else "")
        )


@dataclass(frozen=True)
class _Scope:
    """One import's scores, where they go, and as whose."""

    provider: str
    version: str
    parsed: ParsedScores
    exam_pks: list[int]
    thresholds: dict[str, float]  # every scored code's threshold
    taxonomies: dict[int, list[int]]  # exam -> taxonomies that show its suggestions
    classes_by_taxonomy: dict[int, dict[str, Any]]  # taxonomy -> source code -> its classes


def _scope(
    provider: str, version: str, parsed: ParsedScores, exam_pks: list[int], thresholds: dict[str, Any]
) -> _Scope:
    taxonomies = _taxonomies_by_exam(exam_pks)
    return _Scope(
        provider=provider,
        version=version,
        parsed=parsed,
        exam_pks=exam_pks,
        thresholds={code: float(thresholds.get(code, DEFAULT_THRESHOLD)) for code in parsed.codes},
        taxonomies=taxonomies,
        classes_by_taxonomy={
            taxonomy_id: taxonomy_classes_by_source_code(taxonomy_id)
            for taxonomy_id in {t for ids in taxonomies.values() for t in ids}
        },
    )


def _suggestion(scope: _Scope, exam_pk: int, row: np.ndarray) -> Suggestion:
    raw = {code: float(value) for code, value in zip(scope.parsed.codes, row, strict=True)}
    unmapped = {
        str(t): sorted(code for code in raw if code not in scope.classes_by_taxonomy[t])
        for t in scope.taxonomies[exam_pk]
    }
    meta = {
        "scores": raw,
        "thresholds": scope.thresholds,
        "taxonomies": scope.taxonomies[exam_pk],
        "unmapped": {t: codes for t, codes in unmapped.items() if codes},
    }
    return Suggestion(
        exam_id=exam_pk,
        provider=scope.provider,
        provider_version=scope.version,
        status=Suggestion.Status.OK,
        measurements={"source": "import", "file_sha256": scope.parsed.sha256, META: meta},
    )


def _suggestions_create(scope: _Scope) -> list[Suggestion]:
    rows = [
        _suggestion(scope, exam_pk, row)
        for exam_pk, row in zip(scope.exam_pks, scope.parsed.matrix, strict=True)
    ]
    created = Suggestion.objects.bulk_create(rows, batch_size=1000)
    if any(row.pk is None for row in created):  # backends that return no ids: read them back
        ids = dict(
            Suggestion.objects.filter(
                exam_id__in=scope.exam_pks, provider=scope.provider, provider_version=scope.version
            ).values_list("exam_id", "pk")
        )
        for row in created:
            row.pk = ids[row.exam_id]
    return created


def _scores_create(scope: _Scope, created: list[Suggestion]) -> int:
    """Each suggestion's score for every class standing for a scored code, in each of its taxonomies."""
    scores = [
        SuggestionScore(suggestion_id=row.pk, diagnostic_class=c, score=score)
        for row in created
        for taxonomy_id in row.measurements[META]["taxonomies"]
        for code, score in row.measurements[META]["scores"].items()
        for c in scope.classes_by_taxonomy[taxonomy_id].get(code, [])
    ]
    SuggestionScore.objects.bulk_create(scores, batch_size=5000)
    if created:  # this import's rows: one version, numbered in one range
        pks = [row.pk for row in created]
        latest_scores_upsert(
            Suggestion.objects.filter(
                provider=scope.provider, provider_version=scope.version, pk__gte=min(pks), pk__lte=max(pks)
            )
        )
    return len(scores)


def _unmapped_any(created: list[Suggestion]) -> dict[str, list[str]]:
    unmapped_any: dict[str, list[str]] = defaultdict(list)
    for row in created:
        for taxonomy_id, codes in row.measurements[META]["unmapped"].items():
            unmapped_any[taxonomy_id] = codes
    return dict(unmapped_any)


def _import_audit(
    actor: User | None, source: Dataset, scope: _Scope, path: Path, rows: int, scores: int
) -> None:
    audit_record(
        actor=actor,
        actor_username=IMPORT_ACTOR,
        action="suggestions.import",
        target=source,
        after={
            "provider": scope.provider,
            "version": scope.version,
            "file": Path(path).name,
            "sha256": scope.parsed.sha256,
            "rows": rows,
            "keyed_by": "exam_id" if scope.parsed.exam_keys is not None else "row",
            "classes": scope.parsed.codes,
            "thresholds": scope.thresholds,
            "scores": scores,
        },
    )


def predictions_import(
    *,
    dataset: str,
    provider: str,
    version: str,
    path: Path,
    classes: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
    actor: User | None = None,
) -> PredictionsImportReport:
    """Store the file's scores as provider `provider`, version `version`, for exams of `dataset`."""
    thresholds = dict(thresholds or {})
    _check_identity(provider, version)
    parsed = predictions_read(Path(path), classes)
    _check_thresholds(thresholds, parsed.codes)
    _check_known(parsed.codes)
    source = Dataset.objects.filter(name=dataset).first()
    if source is None:
        raise PredictionsImportError(f"no dataset named {dataset!r}")
    exam_pks = _exam_pks(parsed, source)
    with transaction.atomic():
        clash = Suggestion.objects.filter(exam_id__in=exam_pks, provider=provider, provider_version=version)
        if clash.exists():
            raise PredictionsImportError(
                f"provider {provider!r} version {version!r} already has scores for {clash.count()} of these "
                "exams; a stored version never changes, so import under a new version"
            )
        scope = _scope(provider, version, parsed, exam_pks, thresholds)
        created = _suggestions_create(scope)
        n_scores = _scores_create(scope, created)
        _import_audit(actor, source, scope, path, len(created), n_scores)
    return PredictionsImportReport(
        dataset=source.name,
        provider=provider,
        version=version,
        exams=len(created),
        scores=n_scores,
        codes=parsed.codes,
        sha256=parsed.sha256,
        unmapped=_unmapped_any(created),
    )
