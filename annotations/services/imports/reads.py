"""Reads made outside ECG Review (another study's per-reader label files) imported as submitted
first-round reads of named *external readers*, so that agreement, consensus and exports treat them like
any other reads.

One CSV per reader: one column per class code of the taxonomy (every code, nothing else) with 0/1
values, plus optionally an ``exam_id`` column; without it row i is the exam whose id is ``i`` (the
convention of CODE-test's files, whose tracings file has no ids). Every file is checked before anything
is written: unknown or missing columns, a row count other than the dataset's number of exams (without
``exam_id``), an unknown or repeated exam id, or any value but 0 and 1 refuses the whole import with a
message naming the file, row and column, and nothing is stored. The import is one transaction with one
audit event that records each file's name, SHA-256, rows and positive cells.

External readers are accounts that cannot sign in (inactive, with no usable password); they hold reads
only, and get their "Reader A, B" letters like everyone else. A name already used by an account that can
sign in is refused rather than borrowed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from annotations.errors import Forbidden, Invalid
from annotations.lib.formats.base import csv_delimiter
from annotations.models import (
    Annotation,
    AnnotationLabel,
    AnnotationRevision,
    Assignment,
    BatchExam,
    Dataset,
    DiagnosticClass,
    Exam,
    ReviewBatch,
    Taxonomy,
)
from annotations.roles import Role, has_role
from annotations.services.agreement.compute import agreement_recompute_request
from annotations.services.audit import audit_record

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User

EXAM_ID_COLUMN = "exam_id"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}")


class ReadsImportError(Invalid):
    """The files cannot be imported as they are; nothing was stored."""


@dataclass(frozen=True)
class ReaderFile:
    label: str
    path: Path
    # The file pools several people (CODE-test's resident groups: two people who each read about half):
    # it still counts as one reader, and its agreement is a group's, which the design and card say.
    pooled: bool = False


@dataclass
class ParsedReads:
    label: str
    path: Path
    sha256: str
    rows: list[tuple[str, list[str]]] = field(default_factory=list)  # (exam external id, codes marked)

    @property
    def positives(self) -> int:
        return sum(len(codes) for _, codes in self.rows)


@dataclass(frozen=True)
class ReadsImportReport:
    batch: ReviewBatch
    created_batch: bool
    readers: list[str]
    reads: int
    labels: int


def _taxonomy(key: str) -> Taxonomy:
    taxonomy = Taxonomy.objects.filter(key=key).order_by("-loaded_at", "-pk").first()
    if taxonomy is None:
        raise ReadsImportError(f"no taxonomy {key!r} is loaded (manage.py load_taxonomy --shipped)")
    return taxonomy


def _read_table(path: Path) -> tuple[bytes, list[list[str]]]:
    """The file's bytes and its CSV rows, trailing blank lines dropped."""
    name = path.name
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as error:
        raise ReadsImportError(f"{name}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ReadsImportError(f"{name}: is not UTF-8 text") from None
    table = list(csv.reader(io.StringIO(text), delimiter=csv_delimiter(text.partition("\n")[0])))
    while table and not any(cell.strip() for cell in table[-1]):
        table.pop()  # a trailing blank line is no row
    if not table:
        raise ReadsImportError(f"{name}: is empty")
    return raw, table


def _check_header(name: str, header: list[str], codes: list[str]) -> None:
    unknown = [column for column in header if column not in codes and column != EXAM_ID_COLUMN]
    if unknown:
        raise ReadsImportError(
            f"{name}: unknown columns {', '.join(repr(c) for c in unknown)}; the columns must be the "
            f"taxonomy's codes ({', '.join(codes)}) and optionally {EXAM_ID_COLUMN}"
        )
    missing = [code for code in codes if code not in header]
    if missing:
        raise ReadsImportError(f"{name}: no column for {', '.join(missing)}: every class needs a 0/1 column")
    if len(set(header)) != len(header):
        raise ReadsImportError(f"{name}: a column appears twice")


def _row_exam(name: str, line: int, cells: dict[str, str], i: int, with_ids: bool, exam_ids: set[str]) -> str:
    """The external id of the exam row ``i`` (at file line ``line``) stands for."""
    if with_ids:
        exam = cells[EXAM_ID_COLUMN].removesuffix(".0")
        if exam not in exam_ids:
            raise ReadsImportError(f"{name}: row {line}: exam {exam!r} is not in the dataset")
        return exam
    exam = str(i)
    if exam not in exam_ids:
        raise ReadsImportError(f"{name}: row {line} stands for exam {exam!r}, which the dataset lacks")
    return exam


def _parse(reader: ReaderFile, codes: list[str], exam_ids: set[str], n_exams: int) -> ParsedReads:
    name = reader.path.name
    raw, table = _read_table(reader.path)
    header = [cell.strip() for cell in table[0]]
    _check_header(name, header, codes)
    rows = table[1:]
    with_ids = EXAM_ID_COLUMN in header
    if not with_ids and len(rows) != n_exams:
        raise ReadsImportError(
            f"{name}: {len(rows)} rows, but the dataset holds {n_exams} exams; without an {EXAM_ID_COLUMN} "
            "column row i is exam i, so the counts must match"
        )
    parsed = ParsedReads(label=reader.label, path=reader.path, sha256=hashlib.sha256(raw).hexdigest())
    seen: set[str] = set()
    for i, row in enumerate(rows):
        line = i + 2
        if len(row) != len(header):
            raise ReadsImportError(f"{name}: row {line} has {len(row)} cells, the header {len(header)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        exam = _row_exam(name, line, cells, i, with_ids, exam_ids)
        if exam in seen:
            raise ReadsImportError(f"{name}: row {line}: exam {exam!r} appears twice")
        seen.add(exam)
        bad = [code for code in codes if cells[code] not in ("0", "1")]
        if bad:
            raise ReadsImportError(f"{name}: row {line}, column {bad[0]}: {cells[bad[0]]!r} is not 0 or 1")
        parsed.rows.append((exam, [code for code in codes if cells[code] == "1"]))
    return parsed


def _external_reader(label: str) -> tuple[User, bool]:
    """The external reader's account, created inactive with no usable password; an account of that
    name that can sign in is refused (its reads are its own, never an import's)."""
    User = get_user_model()
    user = User.objects.filter(username=label).first()
    if user is None:
        user = User(username=label, is_active=False)
        user.set_unusable_password()
        user.save()
        return user, True
    if user.is_active or user.has_usable_password():
        raise ReadsImportError(
            f"reader {label!r}: an account of that name can sign in; name the external reader differently"
        )
    return user, False


@dataclass(frozen=True)
class _Target:
    """What every reader file is checked against and stored into."""

    dataset: str
    taxonomy: Taxonomy
    by_code: dict[str, DiagnosticClass]
    exams: dict[str, int]  # external id -> exam pk


def _check_labels(labels: list[str]) -> None:
    if not labels:
        raise ReadsImportError("name at least one reader file (--reader LABEL=FILE.csv)")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ReadsImportError(
                f"reader label {label!r}: use letters, digits, '.', '_' or '-' (at most 60)"
            )
    if len(set(labels)) != len(labels):
        raise ReadsImportError("a reader label is given twice")


def _target(dataset: str, taxonomy_key: str) -> _Target:
    source = Dataset.objects.filter(name=dataset).first()
    if source is None:
        raise ReadsImportError(f"no dataset {dataset!r}; import its exams first (manage.py import_exams)")
    taxonomy = _taxonomy(taxonomy_key)
    classes = DiagnosticClass.objects.filter(taxonomy=taxonomy).order_by("position")
    return _Target(
        dataset=dataset,
        taxonomy=taxonomy,
        by_code={c.code: c for c in classes},
        exams=dict(Exam.objects.filter(dataset=source).values_list("external_id", "pk")),
    )


def _batch_for(
    batch_name: str, target: _Target, n_readers: int, actor: User, now: datetime
) -> tuple[ReviewBatch, bool]:
    """The batch named ``batch_name``, locked, or a new active one; an existing batch must use the
    same taxonomy version."""
    taxonomy = target.taxonomy
    batch = ReviewBatch.objects.select_for_update().filter(name=batch_name).order_by("pk").first()
    if batch is None:
        batch = ReviewBatch.objects.create(
            name=batch_name,
            taxonomy=taxonomy,
            readers_per_exam=n_readers,
            status=ReviewBatch.Status.ACTIVE,
            design={"imported_reads": True, "dataset": target.dataset},
            created_by=actor,
            started_at=now,
        )
        return batch, True
    if batch.taxonomy_id != taxonomy.pk:
        raise ReadsImportError(
            f"batch {batch_name!r} uses taxonomy {batch.taxonomy.key} {batch.taxonomy.version}, not "
            f"{taxonomy.key} {taxonomy.version}"
        )
    return batch, False


def _add_batch_exams(batch: ReviewBatch, parsed: list[ParsedReads], target: _Target, n_readers: int) -> None:
    wanted = {target.exams[exam] for reads in parsed for exam, _ in reads.rows}
    present = set(BatchExam.objects.filter(batch=batch).values_list("exam_id", flat=True))
    BatchExam.objects.bulk_create(
        BatchExam(batch=batch, exam_id=exam_id, target_reads=n_readers)
        for exam_id in sorted(wanted - present)
    )


def _submitted_assignments(
    batch: ReviewBatch, user: User, exam_pks: list[int], now: datetime
) -> list[Assignment]:
    """Submitted first-round assignments of ``user``, placed after any they already hold."""
    start = (
        Assignment.objects.filter(batch=batch, reader=user)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
        or 0
    ) + 1
    return Assignment.objects.bulk_create(
        Assignment(
            batch=batch,
            exam_id=exam_pk,
            reader=user,
            position=start + i,
            status=Assignment.Status.SUBMITTED,
            assigned_at=now,
            started_at=now,
            submitted_at=now,
        )
        for i, exam_pk in enumerate(exam_pks)
    )


def _store_annotations(
    assignments: list[Assignment], reads: ParsedReads, target: _Target, actor: User, now: datetime
) -> list[Annotation]:
    """Each assignment's submitted annotation with its labels and its first revision."""
    annotations = Annotation.objects.bulk_create(
        Annotation(
            assignment=assignment,
            status=Annotation.Status.SUBMITTED,
            created_at=now,
            updated_at=now,
            submitted_at=now,
        )
        for assignment in assignments
    )
    AnnotationLabel.objects.bulk_create(
        AnnotationLabel(annotation=annotation, diagnostic_class=target.by_code[code])
        for annotation, (_, marked) in zip(annotations, reads.rows, strict=True)
        for code in marked
    )
    AnnotationRevision.objects.bulk_create(
        AnnotationRevision(
            annotation=annotation,
            revision=1,
            status=Annotation.Status.SUBMITTED,
            labels=[{"code": code, "uncertain": False} for code in marked],
            recorded_at=now,
            recorded_by=actor,
        )
        for annotation, (_, marked) in zip(annotations, reads.rows, strict=True)
    )
    return annotations


def _store_reader(
    batch: ReviewBatch, reads: ParsedReads, target: _Target, actor: User, now: datetime
) -> tuple[dict[str, Any], int]:
    """One reader file's reads; returns the audit's account entry and the number of reads."""
    user, new_account = _external_reader(reads.label)
    exam_pks = [target.exams[exam] for exam, _ in reads.rows]
    clash = Assignment.objects.filter(batch=batch, reader=user, exam_id__in=exam_pks, read_round=1)
    if clash.exists():
        raise ReadsImportError(
            f"reader {reads.label!r} already has reads of {clash.count()} of these exams in batch "
            f"{batch.name!r}; nothing was imported"
        )
    assignments = _submitted_assignments(batch, user, exam_pks, now)
    annotations = _store_annotations(assignments, reads, target, actor, now)
    account = {"reader": reads.label, "user_id": user.pk, "created": new_account}
    return account, len(annotations)


def _audit_import(
    actor: User,
    batch: ReviewBatch,
    created: bool,
    target: _Target,
    accounts: list[dict[str, Any]],
    parsed: list[ParsedReads],
    n_reads: int,
    pooled: list[str],
) -> None:
    taxonomy = target.taxonomy
    audit_record(
        actor=actor,
        action="reads.import",
        target=batch,
        after={
            "batch": batch.pk,
            "created_batch": created,
            "dataset": target.dataset,
            "taxonomy": f"{taxonomy.key} {taxonomy.version}",
            "readers": accounts,
            "files": [
                {
                    "reader": reads.label,
                    "file": reads.path.name,
                    "sha256": reads.sha256,
                    "rows": len(reads.rows),
                    "positive_cells": reads.positives,
                    "pooled": reads.label in pooled,
                }
                for reads in parsed
            ],
            "reads": n_reads,
        },
    )


def _pooled_record(batch: ReviewBatch, pooled: list[str]) -> None:
    """Keep in the batch's design which of its external readers are groups of people (with those of an
    earlier import into it)."""
    design = batch.design or {}
    batch.design = {**design, "pooled_readers": sorted({*design.get("pooled_readers", []), *pooled})}
    batch.save(update_fields=["design"])


def reads_import(
    *,
    dataset: str,
    batch_name: str,
    taxonomy_key: str,
    readers: list[ReaderFile],
    actor: User,
) -> ReadsImportReport:
    """Import each reader file as submitted first reads into the batch named ``batch_name`` (created
    when no batch has that name; an existing one must use the same taxonomy version). All or nothing."""
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden("only coordinators import reads")
    labels = [reader.label for reader in readers]
    _check_labels(labels)
    pooled = sorted(reader.label for reader in readers if reader.pooled)
    target = _target(dataset, taxonomy_key)
    codes = list(target.by_code)
    parsed = [_parse(reader, codes, set(target.exams), len(target.exams)) for reader in readers]

    with transaction.atomic():
        now = timezone.now()
        batch, created = _batch_for(batch_name, target, len(readers), actor, now)
        if target.taxonomy.frozen_at is None:
            Taxonomy.objects.filter(pk=target.taxonomy.pk).update(frozen_at=now)
        _add_batch_exams(batch, parsed, target, len(readers))
        accounts = []
        n_reads = 0
        for reads in parsed:
            account, n = _store_reader(batch, reads, target, actor, now)
            accounts.append(account)
            n_reads += n
        if pooled:
            _pooled_record(batch, pooled)
        _audit_import(actor, batch, created, target, accounts, parsed, n_reads, pooled)
        # Agreement follows, as after a submission (coalesced, never failing the import).
        transaction.on_commit(lambda: agreement_recompute_request(batch.pk))
    n_labels = sum(reads.positives for reads in parsed)
    return ReadsImportReport(
        batch=batch, created_batch=created, readers=labels, reads=n_reads, labels=n_labels
    )
