"""What an adjudicator sees: the queue of disputed exams, one exam's case (its disputed classes with
the votes), what they weigh beside the votes, and what a decision on an exam may cover.

Readers appear only under the batch's pseudonyms (selectors.blinding.batch_pseudonyms): their votes,
uncertainty marks and comments are shown as "Reader B: ...", never by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, NotFound
from annotations.models import (
    Adjudication,
    Annotation,
    AnnotationLabel,
    Assignment,
    AuditEvent,
    BatchExam,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
    Exam,
    ReviewBatch,
    Suggestion,
    SuggestionScore,
)
from annotations.roles import Role, has_role
from annotations.selectors.agreement.summary import _first_reads
from annotations.selectors.blinding import adjudicator_may_see, batch_pseudonyms, exam_adjudicator_eligible
from annotations.selectors.exams.browse import device_measurement_items
from annotations.selectors.reading.assignments import suggestion_for_exam
from annotations.selectors.reading.median_beat import median_panel
from annotations.selectors.suggestions.titles import provider_title
from annotations.selectors.taxonomy import group_label, statement_name

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class ReaderNote:
    reader: str  # the batch's pseudonym
    comment: str
    uncertain: list[str]  # codes this reader marked present but uncertain


def exam_first_reads(batch_id: int, exam_id: int) -> QuerySet[Annotation]:
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
        for r, class_id, _unsure in unsure:
            if r == reader:
                by_class.setdefault(class_id, []).append(names.get(r, "Reader ?"))
    return notes, by_class


def exam_added_statements(batch: ReviewBatch, exam_id: int) -> list[dict[str, Any]]:
    """Statements an adjudicator decided on this exam that no reader marked and nobody disputed."""
    marked = exam_marked_class_ids(batch.pk, exam_id)
    disputed = set(
        DisputedLabel.objects.filter(batch=batch, exam_id=exam_id).values_list(
            "diagnostic_class_id", flat=True
        )
    )
    return [
        {"code": code, "name": statement_name(name, name_pt), "value": value}
        for class_id, code, name, name_pt, value in Adjudication.objects.filter(batch=batch, exam_id=exam_id)
        .order_by("diagnostic_class__position")
        .values_list(
            "diagnostic_class_id",
            "diagnostic_class__code",
            "diagnostic_class__name",
            "diagnostic_class__name_pt",
            "value",
        )
        if class_id not in marked and class_id not in disputed
    ]


def exam_addable_statements(batch: ReviewBatch, exam_id: int) -> list[dict[str, Any]]:
    """Statements of the batch's taxonomy an adjudicator may add: marked by no reader of the exam,
    disputed by nobody and not decided yet, by the taxonomy's groups, each with its group's name."""
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
    # Under the taxonomy's groups, in the order the reader's list shows them: about seventy statements in
    # the taxonomy's own order (its list interleaves the groups) read as unsorted.
    groups = list(batch.taxonomy.groups or [])
    rows = DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id).values_list(
        "pk", "code", "name", "name_pt", "group", "position"
    )
    placed = sorted(
        (row for row in rows if row[0] not in taken),
        key=lambda row: (groups.index(row[4]) if row[4] in groups else len(groups), row[5]),
    )
    return [
        {"code": code, "name": statement_name(name, name_pt), "group": str(group_label(group))}
        for _, code, name, name_pt, group, _ in placed
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
            decisions={code: bool(value) for code, value in (after.get("decisions") or {}).items()},
            rationale=after.get("rationale_text") or "",
            version=int(after.get("version") or 0),
        )
        for row in rows
        for after in [row.after or {}]
    ]


# --- Queue and case ------------------------------------------------------------------------------------
def _require_adjudicator(user: User) -> None:
    if not has_role(user, Role.ADJUDICATOR):
        raise Forbidden


@dataclass(frozen=True)
class QueueItem:
    batch_id: int
    batch_name: str
    exam_id: int
    exam_label: str
    open_classes: int
    escalated: bool


def _reads_waiting() -> Exists:
    """True where the row's exam still has a first read to come in its running batch (an escalation's
    extra reader, or a reader not done yet): its votes may still change, so it is not decided yet."""
    return Exists(
        Assignment.objects.filter(
            batch_id=OuterRef("batch_id"),
            exam_id=OuterRef("exam_id"),
            read_round=1,
            status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
            batch__status=ReviewBatch.Status.ACTIVE,
        )
    )


def exam_reads_waiting(batch: ReviewBatch, exam_id: int) -> int:
    """How many first reads of the exam its batch still waits for (none once the batch is closed)."""
    if batch.status != ReviewBatch.Status.ACTIVE:
        return 0
    return Assignment.objects.filter(
        batch=batch,
        exam_id=exam_id,
        read_round=1,
        status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
    ).count()


def adjudication_queue(user: User) -> list[QueueItem]:
    """Exams with disputed classes not yet adjudicated, oldest batch first; none the user reads in any
    batch, and none whose batch still waits for one of its first reads."""
    _require_adjudicator(user)
    decided = Adjudication.objects.filter(
        batch_id=OuterRef("batch_id"),
        exam_id=OuterRef("exam_id"),
        diagnostic_class_id=OuterRef("diagnostic_class_id"),
    )
    open_disputes = (
        # Closed batches too: reading is over, but their disputes still need deciding.
        DisputedLabel.objects.exclude(batch__status=ReviewBatch.Status.DRAFT)
        # Not an exam the user holds a read of in any batch (selectors.blinding).
        .filter(adjudicator_may_see(user.pk))
        .filter(~Exists(decided))
        .filter(~_reads_waiting())
        .values("batch_id", "batch__name", "exam_id", "exam__dataset__name", "exam__external_id")
        .annotate(
            n=Count("pk"),
            escalated=Count("pk", filter=Q(reason=DisputedLabel.Reason.ESCALATED)),
            # The batch's rule sent the whole exam here (BatchExam.needs_adjudication), whatever the
            # reasons its classes are disputed for.
            sent=Exists(
                BatchExam.objects.filter(
                    batch_id=OuterRef("batch_id"), exam_id=OuterRef("exam_id"), needs_adjudication=True
                )
            ),
        )
        .order_by("batch_id", "exam_id")
    )
    return [
        QueueItem(
            batch_id=row["batch_id"],
            batch_name=row["batch__name"],
            exam_id=row["exam_id"],
            exam_label=f"{row['exam__dataset__name']}/{row['exam__external_id']}",
            open_classes=row["n"],
            escalated=row["escalated"] > 0 or row["sent"],
        )
        for row in open_disputes
    ]


@dataclass(frozen=True)
class DisputedClass:
    class_id: int
    code: str
    name: str
    reason: str
    votes: list[tuple[str, bool]]  # (pseudonym, marked), in pseudonym order
    positive_votes: int
    total_votes: int
    probability: float | None
    suggestion_score: float | None
    decided_value: bool | None
    decided_rationale: str
    uncertain: list[str] = field(default_factory=list)  # pseudonyms who marked it present but uncertain


@dataclass(frozen=True)
class AdjudicationCase:
    batch: ReviewBatch
    exam: Exam
    disputed: list[DisputedClass]
    agreed: list[tuple[str, str, str]]  # (code, name, method) of classes agreed present
    version: int
    suggestion_provider: str | None
    # Readers' comments and uncertainty marks, by pseudonym (ReaderNote).
    readers: list[ReaderNote] = field(default_factory=list)
    added: list[dict[str, Any]] = field(
        default_factory=list
    )  # statements an adjudicator added: code, name, value
    addable: list[dict[str, Any]] = field(default_factory=list)  # statements no reader marked: code, name
    # Every signed decision, newest first (SignedDecision).
    history: list[SignedDecision] = field(default_factory=list)
    suggestion: Suggestion | None = None  # the one readers see, whose scores the disputed classes carry
    # The recording cart's measurements (selectors.exams.browse.device_measurement_items): adjudicators
    # settle a dispute with everything the exam carries, whatever its batch showed the readers.
    device_measurements: list[dict[str, Any]] = field(default_factory=list)


# The reason shown for a class decided before whose dispute later reads settled (_settled_since).
SETTLED = "settled"


def _case_disputes(user: User, batch_id: int, exam_id: int) -> tuple[ReviewBatch, list[DisputedLabel]]:
    """The batch and the exam's disputes in it; 404 when there are none or the adjudicator holds a read
    of the exam in any batch (the same answer, so the page does not confirm which exams they read)."""
    _require_adjudicator(user)
    batch = ReviewBatch.objects.select_related("taxonomy").filter(pk=batch_id).first()
    if batch is None or not exam_adjudicator_eligible(user.pk, exam_id):
        raise NotFound(_("nothing to adjudicate here"))
    disputes = list(
        DisputedLabel.objects.filter(batch=batch, exam_id=exam_id)
        .select_related("diagnostic_class")
        .order_by("diagnostic_class__position")
    )
    disputes += _settled_since(batch, exam_id, {d.diagnostic_class_id for d in disputes})
    if not disputes and not Adjudication.objects.filter(batch=batch, exam_id=exam_id).exists():
        raise NotFound(_("nothing to adjudicate here"))
    return batch, sorted(disputes, key=lambda d: d.diagnostic_class.position)


def _settled_since(batch: ReviewBatch, exam_id: int, disputed: set[int]) -> list[DisputedLabel]:
    """Classes readers marked that an adjudicator decided and later reads settled (no dispute is left):
    listed with the votes they have now, so the signed decision can still be seen and corrected. Not
    stored: the reason SETTLED names no dispute."""
    rows = (
        Consensus.objects.filter(batch=batch, exam_id=exam_id, method=Consensus.Method.ADJUDICATED)
        .filter(diagnostic_class_id__in=exam_marked_class_ids(batch.pk, exam_id))
        .exclude(diagnostic_class_id__in=disputed)
        .select_related("diagnostic_class")
    )
    return [
        DisputedLabel(
            batch=batch,
            exam_id=exam_id,
            diagnostic_class=row.diagnostic_class,
            reason=SETTLED,
            positive_votes=row.positive_votes,
            total_votes=row.total_votes,
            probability=row.probability,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class _Votes:
    """Who marked what on one exam, by pseudonym only."""

    names: dict[int, str]  # reader id -> pseudonym, in letter order
    readers: list[int]  # the exam's readers in letter order (Reader A, B, ..., Z, 27, ...)
    marked: set[tuple[int, int]]  # (reader id, class id)

    def on(self, class_id: int) -> list[tuple[str, bool]]:
        return [(self.names.get(r, "Reader ?"), (r, class_id) in self.marked) for r in self.readers]


def _exam_votes(batch: ReviewBatch, exam_id: int) -> _Votes:
    names = batch_pseudonyms(batch)
    reads = exam_first_reads(batch.pk, exam_id)
    read_by = dict(reads.values_list("assignment__reader_id", "pk"))
    marked = set(
        AnnotationLabel.objects.filter(annotation__in=reads).values_list(
            "annotation__assignment__reader_id", "diagnostic_class_id"
        )
    )
    letter_order = {reader_id: i for i, reader_id in enumerate(names)}
    readers = sorted(read_by, key=lambda r: letter_order.get(r, len(letter_order)))
    return _Votes(names, readers, marked)


def _shown_suggestion(exam_id: int) -> tuple[Suggestion | None, dict[int, float]]:
    """The suggestion readers of the exam see (suggestion_for_exam: SUGGESTION_READER_PROVIDER first) and
    its scores by class id. Not simply the newest: a provider that scores only technical quality, finished
    later, would leave every disputed diagnosis without the score the readers saw."""
    suggestion = suggestion_for_exam(exam_id)
    if suggestion is None:
        return None, {}
    scores = SuggestionScore.objects.filter(suggestion=suggestion).values_list("diagnostic_class_id", "score")
    return suggestion, dict(scores)


def _disputed_classes(
    disputes: list[DisputedLabel],
    votes: _Votes,
    scores: dict[int, float],
    decisions: dict[int, Adjudication],
    unsure: dict[int, list[str]],
) -> list[DisputedClass]:
    out = []
    for d in disputes:
        decision = decisions.get(d.diagnostic_class_id)
        out.append(
            DisputedClass(
                class_id=d.diagnostic_class_id,
                code=d.diagnostic_class.code,
                name=statement_name(d.diagnostic_class.name, d.diagnostic_class.name_pt),
                reason=d.reason,
                votes=votes.on(d.diagnostic_class_id),
                positive_votes=d.positive_votes,
                total_votes=d.total_votes,
                probability=d.probability,
                suggestion_score=scores.get(d.diagnostic_class_id),
                decided_value=decision.value if decision is not None else None,
                decided_rationale=decision.rationale if decision is not None else "",
                uncertain=unsure.get(d.diagnostic_class_id, []),
            )
        )
    return out


def _agreed_present(batch: ReviewBatch, exam_id: int, disputed_ids: set[int]) -> list[tuple[str, str, str]]:
    """(code, name, method) of the classes agreed present that nobody disputes."""
    return [
        (
            c.diagnostic_class.code,
            statement_name(c.diagnostic_class.name, c.diagnostic_class.name_pt),
            c.get_method_display(),
        )
        for c in Consensus.objects.filter(batch=batch, exam_id=exam_id, value=True)
        .exclude(diagnostic_class_id__in=disputed_ids)
        .select_related("diagnostic_class")
        .order_by("diagnostic_class__position")
    ]


def adjudication_case(user: User, batch_id: int, exam_id: int) -> AdjudicationCase:
    """What the adjudicator sees of one exam: its disputed classes with pseudonymous votes. 404 when the
    exam has nothing disputed in the batch or when the adjudicator holds a read of it in any batch."""
    batch, disputes = _case_disputes(user, batch_id, exam_id)
    exam = Exam.objects.select_related("dataset").get(pk=exam_id)
    votes = _exam_votes(batch, exam_id)
    decisions = {a.diagnostic_class_id: a for a in Adjudication.objects.filter(batch=batch, exam_id=exam_id)}
    suggestion, scores = _shown_suggestion(exam_id)
    notes, unsure = exam_reader_notes(batch.pk, exam_id, votes.names)
    disputed = _disputed_classes(disputes, votes, scores, decisions, unsure)
    return AdjudicationCase(
        batch=batch,
        exam=exam,
        disputed=disputed,
        agreed=_agreed_present(batch, exam_id, {d.class_id for d in disputed}),
        version=max((a.version for a in decisions.values()), default=0),
        suggestion_provider=(
            f"{provider_title(suggestion.provider)}, {suggestion.provider_version}" if suggestion else None
        ),
        readers=notes,
        added=exam_added_statements(batch, exam_id),
        addable=exam_addable_statements(batch, exam_id),
        history=exam_decision_history(batch.pk, exam_id),
        suggestion=suggestion,
        device_measurements=device_measurement_items(exam.device_measurements),
    )


def adjudication_case_median(case: AdjudicationCase) -> dict[str, Any] | None:
    """The median beat panel of a case's exam (its beats, the shown suggestion's fiducial marks and
    measurements), as the reader page draws it; None where the exam has no suggestion to show."""
    return median_panel(case.exam, case.suggestion)


def exam_for_adjudicator(user: User, batch_id: int, exam_id: int) -> Exam:
    """The exam, for its waveform: only where the adjudicator has something to decide (else 404)."""
    return adjudication_case(user, batch_id, exam_id).exam
