"""Re-adjudication audits: which exams an audit may sample (the population), and what an audit found.

An audit batch is an ordinary review batch whose ``design`` says ``{"kind": "audit", "audit_of": [source
batch ids], "sample": n, "population": N, "seed": s}`` (services.batches.audits). Its auditors read the
sample blind through the ordinary reading pages; nothing here is shown to them. What an audit found is
the released label of each sampled exam and class (what a release of the source batches gives:
selectors.releases.export) against the majority of the audit's reads (annotations.lib.stats.audit), and,
where a source batch had the cell adjudicated, that adjudicator against an auditor who is another
adjudicator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.lib.release_files.files import fixed
from annotations.lib.stats import MISSING
from annotations.lib.stats.audit import (
    AuditErrorRates,
    adjudicator_agreement,
    audit_error_rates,
    audit_majority,
)
from annotations.models import (
    Adjudication,
    AnnotationLabel,
    Assignment,
    BatchExam,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
    ReviewBatch,
)
from annotations.roles import Role
from annotations.selectors.agreement.rules import consensus_settings

if TYPE_CHECKING:
    from django.contrib.auth.models import User

AUDIT_KIND = "audit"


def is_audit(batch: ReviewBatch) -> bool:
    return (batch.design or {}).get("kind") == AUDIT_KIND


def _submitted_first_reads(batch_ids: Sequence[int]) -> QuerySet[Assignment]:
    """The slots whose current read is submitted: the reads consensus is computed from."""
    return Assignment.objects.filter(
        batch_id__in=list(batch_ids),
        read_round=1,
        status=Assignment.Status.SUBMITTED,
        annotations__is_current=True,
        annotations__status="submitted",
    )


def audit_population(batches: Sequence[ReviewBatch]) -> list[int]:
    """The exams of `batches` that have a consensus (at least the batch's minimum of submitted reads), in
    id order: what a release of them labels, and so what an audit samples from."""
    needed = {batch.pk: consensus_settings(batch)["min_reads"] for batch in batches}
    counts = (
        _submitted_first_reads(list(needed))
        .values("batch_id", "exam_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("batch_id", "exam_id", "n")
    )
    return sorted(exam for batch, exam, n in counts if n >= needed[batch])


def _released(source_ids: list[int], exam_ids: list[int], class_index: dict[int, int]) -> np.ndarray:
    """[exams, classes] of the released value (1, 0, MISSING for a disputed cell nobody adjudicated), by
    the release's rule: a consensus cell is given when adjudicated or not disputed; a class with neither
    row was marked by no reader, so 0."""
    row = {exam: i for i, exam in enumerate(exam_ids)}
    out = np.zeros((len(exam_ids), len(class_index)), dtype=np.int8)
    cells = {"batch_id__in": source_ids, "exam_id__in": exam_ids}
    settled = set()
    for exam, klass, value, method in Consensus.objects.filter(**cells).values_list(
        "exam_id", "diagnostic_class_id", "value", "method"
    ):
        out[row[exam], class_index[klass]] = int(value)
        if method == Consensus.Method.ADJUDICATED:
            settled.add((exam, klass))
    for exam, klass in DisputedLabel.objects.filter(**cells).values_list("exam_id", "diagnostic_class_id"):
        if (exam, klass) not in settled:
            out[row[exam], class_index[klass]] = MISSING
    return out


def _audit_reads(audit: ReviewBatch) -> dict[tuple[int, int], set[int]]:
    """(exam, auditor) -> the classes their submitted read of the exam marked."""
    reads: dict[tuple[int, int], set[int]] = {
        pair: set() for pair in _submitted_first_reads([audit.pk]).values_list("exam_id", "reader_id")
    }
    labels = AnnotationLabel.objects.filter(
        annotation__assignment__batch=audit,
        annotation__assignment__read_round=1,
        annotation__assignment__status=Assignment.Status.SUBMITTED,
        annotation__is_current=True,
        annotation__status="submitted",
    ).values_list(
        "annotation__assignment__exam_id", "annotation__assignment__reader_id", "diagnostic_class_id"
    )
    for exam, reader, klass in labels:
        reads[(exam, reader)].add(klass)
    return reads


def _audited(
    reads: dict[tuple[int, int], set[int]], exam_ids: list[int], class_index: dict[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    row = {exam: i for i, exam in enumerate(exam_ids)}
    positive = np.zeros((len(exam_ids), len(class_index)), dtype=np.int64)
    total = np.zeros(len(exam_ids), dtype=np.int64)
    for (exam, _reader), classes in reads.items():
        total[row[exam]] += 1
        for klass in classes:
            positive[row[exam], class_index[klass]] += 1
    return audit_majority(positive, np.broadcast_to(total[:, None], positive.shape))


def _adjudicator_pairs(
    audit: ReviewBatch, reads: dict[tuple[int, int], set[int]]
) -> tuple[list[bool], list[bool], list[int]]:
    """(original decision, auditor's label, exam) per source adjudication and audit read of its exam by
    an auditor who holds the adjudicator role and is not the one who decided it."""
    readers = {reader for _, reader in reads}
    adjudicators = set(
        get_user_model()
        .objects.filter(pk__in=readers, groups__name=Role.ADJUDICATOR.value)
        .values_list("pk", flat=True)
    )
    by_exam: dict[int, list[tuple[int, set[int]]]] = {}
    for (exam, reader), classes in reads.items():
        if reader in adjudicators:
            by_exam.setdefault(exam, []).append((reader, classes))
    decisions = Adjudication.objects.filter(
        batch_id__in=audit.design["audit_of"], exam_id__in=list(by_exam)
    ).values_list("exam_id", "diagnostic_class_id", "adjudicator_id", "value")
    original, auditor, exams = [], [], []
    for exam, klass, decided_by, value in decisions:
        for reader, classes in by_exam[exam]:
            if reader != decided_by:
                original.append(bool(value))
                auditor.append(klass in classes)
                exams.append(exam)
    return original, auditor, exams


def _class_rows(found: AuditErrorRates, codes: list[str]) -> list[dict[str, Any]]:
    """One row per class that some released or audit label marked present in the sample, or that had a cell
    left out (undecided in the release, tied in the audit)."""
    figures = found.to_dict()
    per_class = [
        name for name, value in figures.items() if isinstance(value, list) and len(value) == len(codes)
    ]
    rows = []
    for c, code in enumerate(codes):
        if not _marked(found, c):
            continue
        row = {"code": code, **{name: figures[name][c] for name in per_class}}
        for name in ("error_ci", "false_positive_ci", "false_negative_ci", "estimated_errors_ci"):
            row[name] = [figures[name][0][c], figures[name][1][c]]
        rows.append(row)
    return rows


def _marked(found: AuditErrorRates, c: int) -> bool:
    return bool(
        found.audit_positives[c]
        or found.false_positives[c]
        or found.released_undecided[c]
        or found.audit_ties[c]
    )


def audit_findings(audit: ReviewBatch) -> dict[str, Any]:
    """What an audit batch found so far: per class the error rate of the released labels (Wilson
    intervals), false-positive and false-negative rates, cells left out, and adjudicator against
    adjudicator on the cells the source batches had adjudicated."""
    design = audit.design
    exam_ids = sorted(BatchExam.objects.filter(batch=audit).values_list("exam_id", flat=True))
    classes = list(
        DiagnosticClass.objects.filter(taxonomy_id=audit.taxonomy_id)
        .order_by("position")
        .values_list("pk", "code")
    )
    class_index = {pk: i for i, (pk, _code) in enumerate(classes)}
    reads = _audit_reads(audit)
    audited, ties = _audited(reads, exam_ids, class_index)
    released = _released(design["audit_of"], exam_ids, class_index)
    found = audit_error_rates(released, audited, ties, population=design["population"])
    original, auditor, exams = _adjudicator_pairs(audit, reads)
    read_exams = len({exam for exam, _ in reads})
    return {
        "audit_batch": audit.pk,
        "audit_of": design["audit_of"],
        "sample": design["sample"],
        "population": design["population"],
        "seed": design["seed"],
        "exams_read": read_exams,
        "finite_population_correction": found.finite_population_correction,
        "classes": _class_rows(found, [code for _pk, code in classes]),
        "classes_never_marked": sum(not _marked(found, c) for c in range(len(classes))),
        "adjudicators": adjudicator_agreement(original, auditor, exams, seed=int(design["seed"])),
    }


def audits_made_of(batch_id: int) -> list[ReviewBatch]:
    """The audit batches that sampled from this batch (among others, maybe), oldest first."""
    found = ReviewBatch.objects.filter(design__kind=AUDIT_KIND).order_by("pk")
    return [audit for audit in found if batch_id in (audit.design.get("audit_of") or [])]


def batch_audit_summaries(batch: ReviewBatch) -> list[dict[str, Any]]:
    """What each audit that sampled this batch found, in brief, for the batch's own pages: its sample,
    the cells where release and audit differ over the cells compared, and the second adjudication against
    the first (agreement, Cohen's kappa, their intervals); the audit's page has the rest."""
    out = []
    for audit in audits_made_of(batch.pk):
        found = audit_findings(audit)
        out.append(
            {
                "audit_batch": audit.pk,
                "name": audit.name,
                "sample": found["sample"],
                "population": found["population"],
                "exams_read": found["exams_read"],
                "errors": sum(int(row["errors"]) for row in found["classes"]),
                "compared": sum(int(row["compared"]) for row in found["classes"]),
                "adjudicators": found["adjudicators"],
            }
        )
    return out


def audits_of(batch_ids: Sequence[int]) -> list[ReviewBatch]:
    """The audit batches that sampled only from `batch_ids` (so their population is within these)."""
    wanted = set(batch_ids)
    found = ReviewBatch.objects.filter(design__kind=AUDIT_KIND).order_by("pk")
    return [audit for audit in found if set(audit.design.get("audit_of") or []) <= wanted]


def audit_accounts(user_ids: Sequence[int]) -> list[Any]:
    """The active accounts of `user_ids`, in that order; refused naming the ids that are not."""
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=list(user_ids), is_active=True)}
    missing = [pk for pk in user_ids if pk not in users]
    if missing:
        raise Invalid(_("unknown or inactive users: %(ids)s") % {"ids": missing})
    return [users[pk] for pk in dict.fromkeys(user_ids)]


def _fixed(value: Any) -> Any:
    if isinstance(value, list):
        return [_fixed(v) for v in value]
    return fixed(value) if isinstance(value, float) else value


def release_audits(batch_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The dataset card's ``audit``: per audit batch of these batches (every batch it sampled from is in
    the release), what it found, floats fixed to the card's digits. Codes are the batches' own."""
    out = []
    for audit in audits_of(batch_ids):
        found = audit_findings(audit)
        out.append({key: _fixed(value) if key != "classes" else value for key, value in found.items()})
        out[-1]["classes"] = [{k: _fixed(v) for k, v in row.items()} for row in found["classes"]]
        out[-1]["adjudicators"] = {k: _fixed(v) for k, v in found["adjudicators"].items()}
    return out


def audit_source_choices() -> QuerySet[ReviewBatch]:
    """The batches the audit designer offers: every batch but drafts and audits (the service refuses an
    open one, saying so)."""
    # A design without "kind" has a NULL there, which NOT (kind = 'audit') would drop too.
    not_audits = Q(design__kind__isnull=True) | ~Q(design__kind=AUDIT_KIND)
    return (
        ReviewBatch.objects.filter(not_audits)
        .exclude(status=ReviewBatch.Status.DRAFT)
        .order_by("-created_at")
    )


def auditor_choices() -> QuerySet[User]:
    """The accounts the audit designer offers as auditors: active readers."""
    readers = get_user_model().objects.filter(is_active=True, groups__name=Role.READER.value)
    return readers.order_by("username").distinct()
