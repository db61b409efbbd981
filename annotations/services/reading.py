"""A reader's writes on their own assignments: drafts, submissions, skips, and suggestions shown.

Every write runs in one transaction with its audit row. Saves are optimistic: the client sends the
revision it last saw, and a save against an older revision is refused (the caller answers 409), so a
second tab or a stale autosave never overwrites newer work. Each save appends an AnnotationRevision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Invalid
from annotations.lib.exclusive_sets import exclusive_conflicts
from annotations.lib.qualifiers import label_snapshot, qualifier_conflicts, qualifiers_ordered
from annotations.models import (
    Annotation,
    AnnotationLabel,
    AnnotationRevision,
    Assignment,
    DiagnosticClass,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
)
from annotations.models.reading import ReaderPreference
from annotations.selectors.batches.closures import RETEST_FIRST_SKIPPED
from annotations.selectors.reading.assignments import assignment_for_reader_locked, suggestion_for_exam
from annotations.selectors.reading.corrections import adjudication_refusal
from annotations.selectors.reading.preferences import preference_problems
from annotations.selectors.taxonomy import statement_name
from annotations.services.agreement.compute import agreement_recompute_request
from annotations.services.audit import audit_record
from annotations.services.batches.escalation import batch_exam_escalate_if_disputed
from annotations.services.webhooks.events import batch_completion_check_on_commit
from ecgreview.prepared_writes import row_update, rows_insert, writes_sent_together

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotations.models import Assignment, Taxonomy

# A day: anything longer is a tab left open over a weekend, not reading time.
MAX_TIME_ON_TASK_MS = 24 * 3600 * 1000
MAX_COMMENT = 4000


# What a save changes of a read it continues (the rest is set when the read is made).
_SAVED_FIELDS = ("comment", "time_on_task_ms", "revision", "updated_at", "status", "submitted_at")
_RESTAGED_FIELDS = ("stage", "suggestion_shown_at")


class ReadingError(Invalid):
    """A save the reader must correct (unknown statement, exclusive statements chosen together)."""


class StaleRevision(Conflict):
    """The annotation changed since the client last saw it; the answer carries the current revision."""

    def __init__(self, current: int):
        super().__init__(
            _("the read was saved elsewhere (revision %(revision)s); reload to continue")
            % {"revision": current},
            extra={"revision": current},
        )
        self.current = current


class ReadClosed(Conflict):
    """The assignment is already submitted or skipped: nothing more can be written to it."""


# In the reader's language, asked when raised (a function: the language is the request's, not the import's).
def _first_shown_at(locked: Assignment) -> datetime | None:
    """When the reader was first shown a suggestion of the exam: assignment_for_reader_locked reads it with
    the lock and sets it on the assignment (a value of that query, not a field the model declares)."""
    value: datetime | None = locked.first_shown_at  # type: ignore[attr-defined]
    return value


_ALREADY: dict[str, Callable[[], str]] = {
    Assignment.Status.SUBMITTED: lambda: _("this read is already submitted"),
    Assignment.Status.SKIPPED: lambda: _("this read is already skipped"),
}


@dataclass(frozen=True)
class LabelInput:
    code: str
    uncertain: bool = False
    qualifiers: tuple[str, ...] = ()  # among those the statement declares (DiagnosticClass.qualifiers)


@dataclass(frozen=True)
class SubmitResult:
    annotation: Annotation  # the current annotation after the submit (the revised one in two-stage)
    assignment: Assignment
    suggestion_revealed: Suggestion | None  # two-stage: the suggestion now shown for the revision


def _lock(assignment: Assignment | int, actor: User) -> Assignment:
    """The reader's own assignment, re-read under a row lock: one query checks that it is theirs (404
    otherwise, as the selectors answer), that its batch is active, and locks it. The API passes the id
    from the URL, so a write costs no separate ownership query (bench/load_reads.py)."""
    assignment_id = assignment if isinstance(assignment, int) else assignment.pk
    locked = assignment_for_reader_locked(actor, assignment_id)
    if locked.status in (Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED):
        raise ReadClosed(_ALREADY[locked.status]())
    return locked


# Classes of frozen taxonomies, by (taxonomy id, frozen_at). A frozen taxonomy never changes (a change is
# a new version, services.taxonomy), so every save reuses them instead of querying twice per save
# (bench/load_reads.py).
_FROZEN_CLASSES: dict[tuple[Any, ...], dict[str, DiagnosticClass]] = {}


def _taxonomy_classes(taxonomy: Taxonomy) -> dict[str, DiagnosticClass]:
    """Every class of the taxonomy by code; cached in this process once the taxonomy is frozen."""
    key = (taxonomy.pk, taxonomy.frozen_at)
    classes = _FROZEN_CLASSES.get(key) if taxonomy.frozen_at is not None else None
    if classes is None:
        classes = {c.code: c for c in DiagnosticClass.objects.filter(taxonomy=taxonomy)}
        if taxonomy.frozen_at is not None:
            if len(_FROZEN_CLASSES) >= 64:  # a handful of taxonomies in practice; never unbounded
                _FROZEN_CLASSES.clear()
            _FROZEN_CLASSES[key] = classes
    return classes


def _resolve_labels(
    assignment: Assignment, labels: Sequence[LabelInput]
) -> list[tuple[DiagnosticClass, bool, list[str]]]:
    codes = [label.code for label in labels]
    if len(set(codes)) != len(codes):
        raise ReadingError(_("a statement was chosen twice"))
    classes = _taxonomy_classes(assignment.batch.taxonomy)
    unknown = [code for code in codes if code not in classes]
    if unknown:
        raise ReadingError(
            _("unknown statement(s) for this batch's taxonomy: %(codes)s") % {"codes": ", ".join(unknown)}
        )
    return [
        (
            classes[label.code],
            bool(label.uncertain),
            _checked_qualifiers(classes[label.code], label.qualifiers),
        )
        for label in labels
    ]


def _checked_qualifiers(statement: DiagnosticClass, chosen: Sequence[str]) -> list[str]:
    """The qualifiers chosen for a statement, in the vocabulary's order, once each are refused: one the
    statement does not declare, one chosen twice, or two that exclude each other (acute and old)."""
    if not chosen:
        return []
    name = statement_name(statement.name, statement.name_pt)
    if not statement.qualifiers:
        raise ReadingError(
            _("“%(statement)s” (%(code)s) takes no qualifier") % {"statement": name, "code": statement.code}
        )
    if len(set(chosen)) != len(chosen):
        raise ReadingError(_("a qualifier of “%(statement)s” was chosen twice") % {"statement": name})
    for qualifier in chosen:
        if qualifier not in statement.qualifiers:
            raise ReadingError(
                _("“%(qualifier)s” is not a qualifier of “%(statement)s” (%(code)s)")
                % {"qualifier": qualifier, "statement": name, "code": statement.code}
            )
    conflicts = qualifier_conflicts(chosen)
    if conflicts:
        raise ReadingError(
            _("the qualifiers %(qualifiers)s cannot be chosen together")
            % {"qualifiers": ", ".join(f"“{q}”" for q in qualifiers_ordered(conflicts[0]))}
        )
    return qualifiers_ordered(chosen)


def exclusive_set_check(
    assignment: Assignment, resolved: list[tuple[DiagnosticClass, bool, list[str]]]
) -> None:
    """Refuse statements that the taxonomy's exclusive sets forbid together, naming every such pair (the
    reader fixes them all at once, not one per refused submit)."""
    taxonomy = assignment.batch.taxonomy
    kinds = {code: c.kind for code, c in _taxonomy_classes(taxonomy).items()}
    conflicts = exclusive_conflicts([c.code for c, *_ in resolved], kinds, taxonomy.exclusive_sets)
    if conflicts:
        names = {c.code: statement_name(c.name, c.name_pt) for c, *_ in resolved}
        raise ReadingError(
            "; ".join(
                _("“%(first)s” (%(first_code)s) and “%(second)s” (%(second_code)s) cannot be chosen together")
                % {
                    "first": names[pair.first],
                    "first_code": pair.first,
                    "second": names[pair.second],
                    "second_code": pair.second,
                }
                for pair in conflicts
            )
        )


def _snapshot(
    annotation: Annotation, resolved: list[tuple[DiagnosticClass, bool, list[str]]], actor: User
) -> None:
    _earlier_labels_removed(annotation)
    _snapshot_rows(annotation, resolved, actor)


def _earlier_labels_removed(annotation: Annotation) -> None:
    if annotation.revision > 1:  # labels are only ever written here, so a first revision has none yet
        AnnotationLabel.objects.filter(annotation=annotation).delete()


def _snapshot_rows(
    annotation: Annotation,
    resolved: list[tuple[DiagnosticClass, bool, list[str]]],
    actor: User,
    *,
    kind: str | None = None,
    reason: str = "",
) -> None:
    """The read's labels and its revision, new rows only (prepared writes: see annotation_submit). A
    correction (annotation_amend, services.batches.returns) names its kind and reason."""
    rows_insert(
        [
            AnnotationLabel(annotation=annotation, diagnostic_class=c, uncertain=u, qualifiers=q)
            for c, u, q in resolved
        ]
    )
    revision = AnnotationRevision(
        annotation=annotation,
        revision=annotation.revision,
        status=annotation.status,
        labels=[label_snapshot(c.code, u, q) for c, u, q in resolved],
        comment=annotation.comment,
        time_on_task_ms=annotation.time_on_task_ms,
        recorded_by=actor,
        kind=kind or _kind(annotation),
        reason=reason,
    )
    rows_insert([revision])


def _kind(annotation: Annotation) -> str:
    submitted = annotation.status == Annotation.Status.SUBMITTED
    return AnnotationRevision.Kind.SUBMIT if submitted else AnnotationRevision.Kind.SAVE


def _first_annotation(locked: Assignment, now: datetime) -> Annotation:
    """The unsaved first annotation of an assignment, blind unless its reader has seen a suggestion."""
    mode = locked.batch.suggestion_mode
    # Exposure is per reader and exam, across batches: a suggestion this reader was shown for this
    # exam anywhere (here in a "shown" batch, or in another batch before) means the read is not blind.
    # Only this reader's own exposures count: after a reassign, the first reader's are not theirs. The
    # lock query read the first of them (assignment_for_reader_locked).
    seen_at = _first_shown_at(locked)
    # A two-stage read keeps its step before the suggestion even after an earlier sight (a retest, or
    # the exam in another batch): skipping that step would tell the reader a retest from a first read.
    # The step is dated from the sight: reads.csv marks it as seen and the evidence's blind-to-revised
    # moves leave it out.
    two_steps = mode == ReviewBatch.SuggestionMode.TWO_STAGE
    shown = mode == ReviewBatch.SuggestionMode.SHOWN
    revised = shown or (seen_at is not None and not two_steps)
    return Annotation(
        assignment=locked,
        stage=Annotation.Stage.REVISED if revised else Annotation.Stage.BLIND,
        revision=0,
        created_at=now,
        suggestion_shown_at=seen_at,
    )


def _restage_if_seen(locked: Assignment, current: Annotation) -> bool:
    """A blind read the reader goes on with after seeing a suggestion for its exam (in another batch that
    shows it, since this one did not) is no longer blind. In a two-stage batch it stays the step before
    this batch's suggestion, dated from the sight; elsewhere it becomes the revised read, dated from the
    sight. The saved revisions keep what was written blind; the read as it ends is what was seen."""
    if current.stage != Annotation.Stage.BLIND or _first_shown_at(locked) is None:
        return False
    if current.suggestion_shown_at is not None:  # already dated from an earlier sight
        return False
    if locked.batch.suggestion_mode != ReviewBatch.SuggestionMode.TWO_STAGE:
        current.stage = Annotation.Stage.REVISED
    current.suggestion_shown_at = _first_shown_at(locked)
    return True


def _write(
    *,
    actor: User,
    assignment: Assignment | int,
    labels: Sequence[LabelInput],
    comment: str | None,
    time_on_task_ms: int | None,
    revision: int,
    submitting: bool = False,
) -> tuple[Assignment, Annotation, list[tuple[DiagnosticClass, bool, list[str]]], bool]:
    """The part of a draft save and a submit that is the same: check the revision, write the read, and say
    whether a blind read became the revised one (_restage_if_seen).

    submitting: the annotation is written as submitted in the same statement, and a pending assignment
    is only marked started in memory; annotation_submit saves its final status once (two writes fewer).
    """
    locked = _lock(assignment, actor)
    resolved = _resolve_labels(locked, labels)
    now = timezone.now()
    # A pending assignment has no annotation yet: the first save of one marks it in progress (below), in
    # the same transaction, and the one-current-annotation constraint would refuse a second anyway.
    untouched = locked.status == Assignment.Status.PENDING
    current = None if untouched else locked.annotations.filter(is_current=True).first()
    if current is None:
        if revision != 0:
            raise StaleRevision(0)
        current = _first_annotation(locked, now)
    elif current.revision != revision:
        raise StaleRevision(current.revision)
    restaged = _restage_if_seen(locked, current)
    # None: not sent, so the saved value stays (a new read starts with none).
    if comment is not None:
        current.comment = comment[:MAX_COMMENT]
    if time_on_task_ms is not None:
        current.time_on_task_ms = max(0, min(int(time_on_task_ms), MAX_TIME_ON_TASK_MS))
    current.revision += 1
    current.updated_at = now
    if submitting:
        current.status = Annotation.Status.SUBMITTED
        current.submitted_at = now
    if current.pk is None:
        rows_insert([current])
    else:
        row_update(current, _SAVED_FIELDS + (_RESTAGED_FIELDS if restaged else ()))
    if locked.status == Assignment.Status.PENDING:
        locked.status = Assignment.Status.IN_PROGRESS
        locked.started_at = now
        if not submitting:
            row_update(locked, ("status", "started_at"))
    return locked, current, resolved, restaged


def _read_recorded(
    actor: User, action: str, annotation: Annotation, resolved: list[Any], restaged: bool
) -> None:
    """The read's labels, its revision and its audit row: new rows only, so they may be sent together."""
    _snapshot_rows(annotation, resolved, actor)
    audit_record(
        actor=actor, action=action, target=annotation, after=_audited(annotation, resolved, restaged)
    )


def _audited(annotation: Annotation, resolved: list[Any], restaged: bool) -> dict[str, Any]:
    after = {"revision": annotation.revision, "stage": annotation.stage, "labels": len(resolved)}
    if restaged:
        after["seen_after_start"] = True  # the suggestion was seen after this read began blind
    return after


def annotation_save_draft(
    *,
    actor: User,
    assignment: Assignment | int,
    labels: Sequence[LabelInput],
    comment: str | None = None,
    time_on_task_ms: int | None = None,
    revision: int,
) -> Annotation:
    """Save the reader's work in progress; exclusive sets are checked only at submit."""
    with transaction.atomic():
        _, annotation, resolved, restaged = _write(
            actor=actor,
            assignment=assignment,
            labels=labels,
            comment=comment,
            time_on_task_ms=time_on_task_ms,
            revision=revision,
        )
        _earlier_labels_removed(annotation)
        with writes_sent_together():  # as a submit's (annotation_submit)
            _read_recorded(actor, "annotation.save_draft", annotation, resolved, restaged)
    return annotation


def _check_submittable(locked: Assignment, resolved: list[tuple[DiagnosticClass, bool, list[str]]]) -> None:
    # An empty read is an answer only where the taxonomy says so ("none of these", e.g. CODE-15%'s
    # six classes); elsewhere it is more likely a slip than a finding.
    if not resolved and not locked.batch.taxonomy.none_of_these:
        raise ReadingError(_("choose at least one statement, or skip the exam with a reason"))
    exclusive_set_check(locked, resolved)


def _assignment_closed(locked: Assignment, annotation: Annotation, started: bool) -> None:
    locked.status = Assignment.Status.SUBMITTED
    locked.submitted_at = annotation.submitted_at
    locked.time_on_task_ms = annotation.time_on_task_ms  # the dashboard's times, read from the slots
    fields = ("status", "submitted_at", "time_on_task_ms", *(("started_at",) if started else ()))
    row_update(locked, fields)


def _assignment_done(actor: User, locked: Assignment) -> None:
    """The assignment submitted (_assignment_closed): a first read may escalate its exam, and agreement
    follows; the batch's last read announces it to webhooks."""
    batch_completion_check_on_commit(locked.batch_id)
    if locked.read_round == 1:
        batch_exam_escalate_if_disputed(batch=locked.batch, exam_id=locked.exam_id, actor=actor)
        # After commit, so the worker sees this read; coalesced, and a Redis outage never
        # fails the submit (agreement_recompute_request logs it; the sweep catches up).
        batch_id = locked.batch_id
        transaction.on_commit(lambda: agreement_recompute_request(batch_id))


def annotation_submit(
    *,
    actor: User,
    assignment: Assignment | int,
    labels: Sequence[LabelInput],
    comment: str | None = None,
    time_on_task_ms: int | None = None,
    revision: int,
) -> SubmitResult:
    """Submit the current read. In two-stage batches a blind read is kept as submitted, and a revised
    read (starting from the same statements) opens with the suggestion shown; the assignment is done
    when that revised read is submitted."""
    with transaction.atomic():
        locked, annotation, resolved, restaged = _write(
            actor=actor,
            assignment=assignment,
            labels=labels,
            comment=comment,
            time_on_task_ms=time_on_task_ms,
            revision=revision,
            submitting=True,
        )
        # Refused here, the whole transaction (the write above included) is rolled back.
        _check_submittable(locked, resolved)
        now = annotation.submitted_at
        started = locked.started_at == now  # _write started it just now: saved once, with its status
        revealed = None
        two_stage = locked.batch.suggestion_mode == ReviewBatch.SuggestionMode.TWO_STAGE
        if two_stage and annotation.stage == Annotation.Stage.BLIND:
            revealed = suggestion_for_exam(locked.exam_id)
        _earlier_labels_removed(annotation)
        # The rows of the submit that need nothing from each other, in one round trip to the database.
        with writes_sent_together():
            _read_recorded(actor, "annotation.submit", annotation, resolved, restaged)
            if revealed is not None and started:
                row_update(locked, ("status", "started_at"))
            elif revealed is None:
                _assignment_closed(locked, annotation, started)
        if revealed is not None:
            annotation = _open_revision(actor, locked, annotation, resolved, revealed)
        else:
            _assignment_done(actor, locked)
    return SubmitResult(annotation=annotation, assignment=locked, suggestion_revealed=revealed)


def _open_revision(
    actor: User,
    assignment: Assignment,
    blind: Annotation,
    resolved: list[tuple[DiagnosticClass, bool, list[str]]],
    suggestion: Suggestion,
) -> Annotation:
    """After the blind read is stored: show the suggestion and start the revised read from it."""
    blind.is_current = False
    blind.save(update_fields=["is_current"])
    exposure = suggestion_exposure_record(
        actor=actor, assignment=assignment, suggestion=suggestion, stage=Annotation.Stage.REVISED
    )
    revised = Annotation.objects.create(
        assignment=assignment,
        stage=Annotation.Stage.REVISED,
        comment=blind.comment,
        time_on_task_ms=blind.time_on_task_ms,
        revision=1,
        suggestion_shown_at=exposure.shown_at,
    )
    _snapshot(revised, resolved, actor)
    return revised


def suggestion_exposure_record(
    *, actor: User, assignment: Assignment, suggestion: Suggestion, stage: str
) -> SuggestionExposure:
    """Record that this reader was shown this suggestion on this assignment (first time only, per reader:
    the reader who saw it is named, whoever held the slot before)."""
    with transaction.atomic():
        # Per reader: after a reassign, the reader now holding the slot gets their own row.
        exposure, created = SuggestionExposure.objects.get_or_create(
            assignment=assignment,
            suggestion=suggestion,
            reader=actor,
            defaults={
                "stage": stage,
                "mode": assignment.batch.suggestion_mode,
                "shown_at": timezone.now(),
            },
        )
        if created:
            audit_record(
                actor=actor,
                action="suggestion.shown",
                target=exposure,
                after={"assignment": assignment.pk, "suggestion": suggestion.pk, "stage": stage},
            )
    return exposure


# The codes a reader may skip with: SYSTEM is the system's own closures', never a reader's.
READER_SKIP_CODES = tuple(c.value for c in Assignment.SkipCode if c != Assignment.SkipCode.SYSTEM)


def _skip_reason_checked(code: str, reason: str) -> str:
    """The text stored with a skip of this code: the reader's own words with OTHER (required there), none
    with a listed reason (the list is what gets counted and translated)."""
    if code not in READER_SKIP_CODES:
        raise ReadingError(
            _("unknown reason for skipping: %(code)s; choose one of %(codes)s")
            % {"code": code, "codes": ", ".join(READER_SKIP_CODES)}
        )
    reason = (reason or "").strip()
    if code == Assignment.SkipCode.OTHER and not reason:
        raise ReadingError(_("give a reason for skipping this exam"))
    if code != Assignment.SkipCode.OTHER and reason:
        raise ReadingError(_('a reason in your own words goes with the reason "other" only'))
    return reason[:300]


def assignment_skip(
    *, actor: User, assignment: Assignment | int, reason: str = "", code: str = Assignment.SkipCode.OTHER
) -> Assignment:
    """Set an exam aside with a reason from the list (unreadable tracing, wrong patient...), or OTHER and
    the reader's words; any draft is kept."""
    reason = _skip_reason_checked(code, reason)
    with transaction.atomic():
        locked = _lock(assignment, actor)
        # Two-stage: the blind read is already stored and counts for consensus; a skip now would
        # withdraw it after the reader has seen the suggestion, which is what blinding must prevent.
        if locked.annotations.filter(
            stage=Annotation.Stage.BLIND, status=Annotation.Status.SUBMITTED
        ).exists():
            raise ReadClosed(
                _(
                    "your blind read of this exam is already submitted and counts; it cannot be skipped now. "
                    "Submit the revision (unchanged if you wish)"
                )
            )
        before = {"status": locked.status}
        locked.status = Assignment.Status.SKIPPED
        locked.skip_code, locked.skip_reason = code, reason
        locked.skipped_at = timezone.now()
        row_update(locked, ("status", "skip_code", "skip_reason", "skipped_at"))
        withdrawn = _retest_withdraw(locked) if locked.read_round == 1 else None
        audit_record(
            actor=actor,
            action="assignment.skip",
            target=locked,
            before=before,
            after={
                "code": code,
                "reason": reason,
                **({"retest_withdrawn": withdrawn} if withdrawn else {}),
            },
        )
        batch_completion_check_on_commit(locked.batch_id)
    return locked


def _retest_withdraw(first: Assignment) -> int | None:
    """The reader's open retest of the exam whose first read they skipped: it would compare a second read
    with no first. Closed as a skip with the reason (not a read, so nothing waits for it). Its id, or None."""
    retest = (
        Assignment.objects.select_for_update()
        .filter(
            batch_id=first.batch_id,
            reader_id=first.reader_id,
            exam_id=first.exam_id,
            read_round=2,
            status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
        )
        .first()
    )
    if retest is None:
        return None
    retest.status, retest.skip_reason, retest.skipped_at, retest.closed_by_system = (
        Assignment.Status.SKIPPED,
        RETEST_FIRST_SKIPPED,
        first.skipped_at,
        True,
    )
    retest.skip_code = Assignment.SkipCode.SYSTEM
    row_update(retest, ("status", "skip_code", "skip_reason", "skipped_at", "closed_by_system"))
    return retest.pk


def reader_preferences_set(*, actor: User, values: dict[str, object]) -> ReaderPreference:
    """Store some of the reader's view preferences (layout, speed, gain, lead names); the others keep
    their value. Only allowed values are stored (selectors.reading.preferences lists them).

    No audit row, unlike every other write: a preference says how the reader likes the paper drawn, not
    what they read. No read, consensus or release depends on it, and a row per toolbar change would bury
    the trail's real events."""
    problems = preference_problems(values)
    if problems:
        raise ReadingError(
            _("unknown preference or value: %(names)s") % {"names": ", ".join(sorted(problems))}
        )
    with transaction.atomic():
        # Two saves of a new reader may race: the row is created at most once, then locked.
        ReaderPreference.objects.bulk_create([ReaderPreference(user=actor)], ignore_conflicts=True)
        row = ReaderPreference.objects.select_for_update().get(user=actor)
        row.values = {**row.values, **values}
        row.updated_at = timezone.now()
        row.save(update_fields=["values", "updated_at"])
    return row


# --- Corrections: a submitted read amended by its reader (a coordinator's return: services.batches.returns)
# Neither rewrites history: an amendment is the read's next revision with its reason (in a two-stage batch,
# of the revised read; the blind read is never touched), and every earlier revision stays in
# AnnotationRevision, so in the release's read_history.csv. Refused while the batch is closed or once
# adjudication has started on the exam (selectors.reading.corrections); agreement follows after commit.
MAX_REASON = 1000


class CorrectionRefused(Conflict):
    """The read's state forbids the correction (not submitted, closed batch, adjudication started)."""


def correction_reason(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(what)
    return reason[:MAX_REASON]


def correction_refuse_if_adjudicating(slot: Assignment) -> None:
    refusal = adjudication_refusal(slot.batch_id, slot.exam_id)
    if refusal:
        raise CorrectionRefused(refusal)


def correction_batch_lock(batch_id: int) -> ReviewBatch:
    # The lock adjudication decisions take (services.adjudication._case_lock): a decision and a
    # correction of the same batch never interleave, so "adjudication has started" is read as it stands.
    return ReviewBatch.objects.select_for_update().get(pk=batch_id)


def correction_recompute_after_commit(slot: Assignment) -> None:
    batch_id = slot.batch_id
    transaction.on_commit(lambda: agreement_recompute_request(batch_id))


def annotation_amend(
    *,
    actor: User,
    assignment: Assignment | int,
    labels: Sequence[LabelInput],
    reason: str | None,
    revision: int,
    comment: str | None = None,
) -> Annotation:
    """Amend the reader's own submitted read: a new revision with its reason, checked as a submit is.

    404 for a read that is not the caller's; 409 in a closed batch (BatchClosed), for a read not
    submitted, once adjudication has started on the exam, and from a stale revision; 400 without a
    reason or for statements a submit would refuse."""
    reason = correction_reason(reason, _("say why you amend this read"))
    assignment_id = assignment if isinstance(assignment, int) else assignment.pk
    with transaction.atomic():
        slot = assignment_for_reader_locked(actor, assignment_id)  # 404, or 409 for a closed batch
        if slot.status != Assignment.Status.SUBMITTED:
            raise CorrectionRefused(_("only a submitted read can be amended; this one is still open"))
        correction_batch_lock(slot.batch_id)
        correction_refuse_if_adjudicating(slot)
        current = slot.annotations.select_for_update().get(is_current=True)
        if current.revision != revision:
            raise StaleRevision(current.revision)
        resolved = _resolve_labels(slot, labels)
        _check_submittable(slot, resolved)
        before = {"revision": current.revision, "labels": _codes_of(current), "comment": current.comment}
        now = timezone.now()
        if comment is not None:
            current.comment = comment[:MAX_COMMENT]
        # submitted_at moves: the read counting now was submitted now, and agreement's staleness check
        # (selectors.agreement.summary) sees the batch's reads moved on. The first time stays in the trail.
        current.revision, current.updated_at, current.submitted_at = current.revision + 1, now, now
        current.save(update_fields=["comment", "revision", "updated_at", "submitted_at"])
        _earlier_labels_removed(current)
        _snapshot_rows(current, resolved, actor, kind=AnnotationRevision.Kind.AMEND, reason=reason)
        after = {
            "revision": current.revision,
            "stage": current.stage,
            "labels": [c.code for c, *_rest in resolved],
            "reason": reason,
        }
        audit_record(actor=actor, action="annotation.amend", target=current, before=before, after=after)
        if slot.read_round == 1:
            batch_exam_escalate_if_disputed(batch=slot.batch, exam_id=slot.exam_id, actor=actor)
        correction_recompute_after_commit(slot)
    return current


def _codes_of(annotation: Annotation) -> list[str]:
    return list(annotation.labels.values_list("diagnostic_class__code", flat=True).order_by("pk"))
