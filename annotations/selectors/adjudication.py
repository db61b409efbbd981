"""What an adjudicator weighs beside the votes, and what a decision on an exam may cover.

Readers appear only under the batch's pseudonyms (selectors.agreement.batch_pseudonyms): their
uncertainty marks and comments are shown as "Reader B: ..." exactly as their votes are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from annotations.models import (
    Adjudication,
    AnnotationLabel,
    AuditEvent,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
    ReviewBatch,
)
from annotations.selectors.agreement.summary import _first_reads


@dataclass(frozen=True)
class ReaderNote:
    reader: str  # the batch's pseudonym
    comment: str
    uncertain: list[str]  # codes this reader marked present but uncertain


def exam_first_reads(batch_id: int, exam_id: int):
    return _first_reads(batch_id).filter(assignment__exam_id=exam_id)


def exam_marked_class_ids(batch_id: int, exam_id: int) -> set[int]:
    """Every class some reader marked on the exam (in the reads consensus is computed from)."""
    return set(
        AnnotationLabel.objects.filter(annotation__in=exam_first_reads(batch_id, exam_id)).values_list(
            "diagnostic_class_id", flat=True
        )
    )


def exam_reader_notes(
    batch_id: int, exam_id: int, names: dict[int, str]
) -> tuple[list[ReaderNote], dict[int, list[str]]]:
    """Per reader, in letter order: their comment and the statements they marked uncertain; and per
    class, the pseudonyms of the readers who marked it uncertain."""
    reads = exam_first_reads(batch_id, exam_id)
    comments = dict(reads.values_list("assignment__reader_id", "comment"))
    unsure = list(
        AnnotationLabel.objects.filter(annotation__in=reads, uncertain=True)
        .order_by("diagnostic_class__position")
        .values_list("annotation__assignment__reader_id", "diagnostic_class_id", "diagnostic_class__code")
    )
    order = {reader_id: i for i, reader_id in enumerate(names)}
    readers = sorted(comments, key=lambda r: order.get(r, len(order)))
    notes = [
        ReaderNote(
            reader=names.get(r, "Reader ?"),
            comment=(comments[r] or "").strip(),
            uncertain=[code for reader, _, code in unsure if reader == r],
        )
        for r in readers
    ]
    by_class: dict[int, list[str]] = {}
    for reader in readers:
        for r, class_id, _ in unsure:
            if r == reader:
                by_class.setdefault(class_id, []).append(names.get(r, "Reader ?"))
    return notes, by_class


def exam_added_statements(batch: ReviewBatch, exam_id: int) -> list[dict]:
    """Statements an adjudicator decided on this exam that no reader marked and nobody disputed."""
    marked = exam_marked_class_ids(batch.pk, exam_id)
    disputed = set(
        DisputedLabel.objects.filter(batch=batch, exam_id=exam_id).values_list(
            "diagnostic_class_id", flat=True
        )
    )
    return [
        {"code": code, "name": name, "value": value}
        for class_id, code, name, value in Adjudication.objects.filter(batch=batch, exam_id=exam_id)
        .order_by("diagnostic_class__position")
        .values_list("diagnostic_class_id", "diagnostic_class__code", "diagnostic_class__name", "value")
        if class_id not in marked and class_id not in disputed
    ]


def exam_addable_statements(batch: ReviewBatch, exam_id: int) -> list[dict]:
    """Statements of the batch's taxonomy an adjudicator may add: marked by no reader of the exam,
    disputed by nobody and not decided yet, in the taxonomy's order."""
    taken = exam_marked_class_ids(batch.pk, exam_id)
    taken |= set(
        DisputedLabel.objects.filter(batch=batch, exam_id=exam_id).values_list(
            "diagnostic_class_id", flat=True
        )
    )
    taken |= set(
        Adjudication.objects.filter(batch=batch, exam_id=exam_id).values_list(
            "diagnostic_class_id", flat=True
        )
    )
    return [
        {"code": code, "name": name}
        for pk, code, name in DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id)
        .order_by("position")
        .values_list("pk", "code", "name")
        if pk not in taken
    ]


def exam_present_codes(batch: ReviewBatch, exam_id: int) -> set[str]:
    """The statements the exam is labelled present with right now: every consensus row whose value is
    present (agreed by the readers, decided by majority or latent estimate, or adjudicated)."""
    return set(
        Consensus.objects.filter(batch=batch, exam_id=exam_id, value=True).values_list(
            "diagnostic_class__code", flat=True
        )
    )


@dataclass(frozen=True)
class SignedDecision:
    """One signed decision on an exam, as the append-only audit trail recorded it."""

    adjudicator: str  # username: adjudicators and coordinators may see who adjudicated
    decided_at: datetime
    decisions: dict[str, bool]  # class code -> value decided
    rationale: str
    version: int


def exam_decision_history(batch_id: int, exam_id: int) -> list[SignedDecision]:
    """Every decision signed on the exam in the batch, newest first, overturned ones included.

    Read from the audit rows of adjudication.decide, which the database refuses to change or delete,
    so the history cannot be rewritten by a later decision. Rows written before the rationale's text was
    audited show an empty rationale."""
    rows = AuditEvent.objects.filter(
        action="adjudication.decide", after__batch=batch_id, after__exam=exam_id
    ).order_by("-occurred_at", "-id")
    return [
        SignedDecision(
            adjudicator=row.actor_username,
            decided_at=row.occurred_at,
            decisions={code: bool(value) for code, value in (row.after.get("decisions") or {}).items()},
            rationale=row.after.get("rationale_text") or "",
            version=int(row.after.get("version") or 0),
        )
        for row in rows
    ]
