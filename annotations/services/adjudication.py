"""An adjudicator's decision on the disputed classes of one exam.

One signed decision covers every class the adjudicator settles on the exam, in one transaction with its
audit row. Optimistic concurrency: the page carries the exam's adjudication version (0 before any
decision); a decision made from an older version is refused (the caller answers 409), so of two
adjudicators deciding the same exam from the same page the second never silently overwrites the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Invalid
from annotations.lib.exclusive_sets import exclusive_conflicts
from annotations.lib.stats import ALGORITHM_VERSION
from annotations.models import (
    Adjudication,
    AdjudicationView,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
    ReviewBatch,
)
from annotations.roles import Role, has_role
from annotations.selectors.adjudication import (
    exam_first_reads,
    exam_marked_class_ids,
    exam_present_codes,
    exam_reads_waiting,
)
from annotations.selectors.blinding import exam_adjudicator_eligible
from annotations.selectors.taxonomy import statement_name
from annotations.services.agreement.compute import agreement_recompute_request
from annotations.services.audit import audit_record
from annotations.services.jobs.dispatch import task_enqueue_on_commit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_RATIONALE = 4000


class AdjudicationError(Invalid):
    """A decision the adjudicator must correct (a class that is not disputed, nothing decided)."""


class AdjudicationRefused(AdjudicationError, PermissionError):
    """Not this account's to decide. Still a PermissionError, and answered 400 with its message on the
    page and over the API as it always was (the case itself already answers 404 to a reader of it)."""


class StaleAdjudication(Conflict):
    """Someone signed a decision on this exam since the adjudicator's page was loaded (or the version sent
    is one the exam never had). `yours`: the signature that came first was this adjudicator's own, from
    another tab or window, which they are told rather than left to think a colleague overruled them."""

    def __init__(self, current: int, sent: int | None = None, *, yours: bool = False):
        if sent is not None and sent > current:
            message = _(
                "version %(sent)s is ahead of this exam's decisions (version %(current)s); reload the case"
            ) % {"sent": sent, "current": current}
        elif yours:
            message = _(
                "you signed this exam meanwhile, from another tab or window (version %(current)s); "
                "reload to see it"
            ) % {"current": current}
        else:
            message = _(
                "another adjudicator signed this exam meanwhile (version %(current)s); reload to see it"
            ) % {"current": current}
        super().__init__(message, extra={"version": current, "signed_by_you": yours})
        self.current = current
        self.yours = yours


class AdjudicationWaiting(Conflict):
    """The exam still waits for first reads (an escalation's extra reader): its votes may yet change."""

    def __init__(self, waiting: int):
        super().__init__(
            f"this exam waits for {waiting} more read{'s' if waiting != 1 else ''} in its batch; "
            "decide it once they are in"
        )


@dataclass(frozen=True)
class Decision:
    code: str
    value: bool


@dataclass(frozen=True)
class _Case:
    """The exam's adjudication state, read under the batch lock."""

    batch: ReviewBatch
    exam_id: int
    existing: QuerySet[Adjudication]
    current: int  # the exam's adjudication version now
    disputes: dict[str, DisputedLabel]
    decided_before: dict[str, Adjudication]
    classes: dict[str, DiagnosticClass]


def _check_request(actor: User, exam_id: int, decisions: Sequence[Decision]) -> list[str]:
    """The decided codes, once the actor may decide this exam and decides each class once."""
    if not has_role(actor, Role.ADJUDICATOR):
        raise AdjudicationRefused(_("Only adjudicators decide disputed labels."))
    if not exam_adjudicator_eligible(actor.pk, exam_id):
        raise AdjudicationRefused(
            _("Adjudicators never adjudicate exams they read, in this batch or another.")
        )
    if not decisions:
        raise AdjudicationError(_("Decide at least one disputed class."))
    codes = [d.code for d in decisions]
    if len(set(codes)) != len(codes):
        raise AdjudicationError(_("A class was decided twice."))
    return codes


def _case_lock(batch: ReviewBatch, exam_id: int, version: int, actor_id: int | None = None) -> _Case:
    # Same lock as the recomputation's write: a decision and a recomputation never interleave.
    ReviewBatch.objects.select_for_update().get(pk=batch.pk)
    existing = Adjudication.objects.filter(batch=batch, exam_id=exam_id)
    current = existing.aggregate(v=Max("version"))["v"] or 0
    if version != current:
        yours = current > 0 and existing.filter(version=current, adjudicator_id=actor_id).exists()
        raise StaleAdjudication(current, version, yours=yours)
    waiting = exam_reads_waiting(batch, exam_id)
    if waiting:
        raise AdjudicationWaiting(waiting)
    disputed = DisputedLabel.objects.filter(batch=batch, exam_id=exam_id).select_related("diagnostic_class")
    return _Case(
        batch=batch,
        exam_id=exam_id,
        existing=existing,
        current=current,
        disputes={d.diagnostic_class.code: d for d in disputed},
        # A class decided before stays decidable (a correction) even if new reads settled its dispute.
        decided_before={a.diagnostic_class.code: a for a in existing.select_related("diagnostic_class")},
        classes={c.code: c for c in DiagnosticClass.objects.filter(taxonomy_id=batch.taxonomy_id)},
    )


def _check_adjudicable(case: _Case, decisions: Sequence[Decision], codes: list[str], rationale: str) -> None:
    # A statement no reader marked may be added (recorded as adjudicated with no positive vote);
    # a statement readers marked and agreed on is theirs, not the adjudicator's.
    marked = exam_marked_class_ids(case.batch.pk, case.exam_id)
    displaced = _displaced_by_decision(case, decisions)
    unknown = [
        code
        for code in codes
        if code not in case.disputes
        and code not in case.decided_before
        and code not in displaced
        and (code not in case.classes or case.classes[code].pk in marked)
    ]
    if unknown:
        raise AdjudicationError(
            _("Neither disputed on this exam nor a statement no reader marked, so not adjudicable: %(codes)s")
            % {"codes": ", ".join(unknown)}
        )
    overturned = [
        d.code
        for d in decisions
        if d.code in case.decided_before and case.decided_before[d.code].value != bool(d.value)
    ]
    if overturned and not rationale:
        # A signed decision is part of the record: reversing it, one's own or a colleague's, says why.
        raise AdjudicationError(
            _("a rationale is required to overturn a signed decision: %(codes)s")
            % {"codes": ", ".join(overturned)}
        )
    _exclusive_set_check(case.batch, case.exam_id, decisions, case.classes)


def _displaced_by_decision(case: _Case, decisions: Sequence[Decision]) -> set[str]:
    """The agreed statements a signing may set absent: those the taxonomy's exclusive sets forbid beside a
    class it decides present (NORM and SR, agreed, beside the AF the adjudicator found). Without this the
    one correct decision was refused: the agreed statements were the readers', the conflict the rule's."""
    present = [d.code for d in decisions if d.value and d.code in case.classes]
    absent = {d.code for d in decisions if not d.value}
    if not present or not absent:
        return set()
    kinds = {code: c.kind for code, c in case.classes.items()}
    agreed = [code for code in exam_present_codes(case.batch, case.exam_id) if code in absent]
    conflicts = exclusive_conflicts([*present, *agreed], kinds, case.batch.taxonomy.exclusive_sets)
    return {
        code
        for conflict in conflicts
        for code, other in ((conflict.first, conflict.second), (conflict.second, conflict.first))
        if code in agreed and other in present
    }


@dataclass(frozen=True)
class _Signature:
    """What every decision of one signing shares."""

    actor: User
    rationale: str
    version: int
    n_reads: int
    now: datetime


def _decision_save(case: _Case, decision: Decision, signed: _Signature) -> Adjudication:
    """The decision and its class's consensus, now "adjudicated" with the readers' votes kept."""
    batch, exam_id = case.batch, case.exam_id
    dispute = case.disputes.get(decision.code)
    class_id = case.classes[decision.code].pk
    adjudication, _ = Adjudication.objects.update_or_create(
        batch=batch,
        exam_id=exam_id,
        diagnostic_class_id=class_id,
        defaults={
            "adjudicator": signed.actor,
            "value": bool(decision.value),
            "rationale": signed.rationale,
            "version": signed.version,
            "decided_at": signed.now,
        },
    )
    previous = Consensus.objects.filter(batch=batch, exam_id=exam_id, diagnostic_class_id=class_id).first()
    if dispute is None and previous is None:  # added by the adjudicator: no reader marked it
        previous = Consensus(positive_votes=0, total_votes=signed.n_reads, probability=None)
    votes = dispute or previous
    assert votes is not None  # a decision on a class no reader marked was given its Consensus above
    Consensus.objects.update_or_create(
        batch=batch,
        exam_id=exam_id,
        diagnostic_class_id=class_id,
        defaults={
            "value": bool(decision.value),
            "method": Consensus.Method.ADJUDICATED,
            "positive_votes": votes.positive_votes,
            "total_votes": votes.total_votes,
            "probability": votes.probability,
            "algorithm_version": ALGORITHM_VERSION,
            "computed_at": signed.now,
        },
    )
    return adjudication


def _decision_audit(
    case: _Case, decisions: Sequence[Decision], codes: list[str], signed: _Signature, target: Adjudication
) -> None:
    audit_record(
        actor=signed.actor,
        action="adjudication.decide",
        target=target,
        before={
            code: {"value": a.value, "adjudicator": a.adjudicator_id, "version": a.version}
            for code, a in case.decided_before.items()
            if code in codes
        }
        or None,
        after={
            "batch": case.batch.pk,
            "exam": case.exam_id,
            "decisions": {d.code: bool(d.value) for d in decisions},
            "rationale": bool(signed.rationale),
            # The text too: the case page's decision history is read from these append-only rows.
            "rationale_text": signed.rationale,
            "version": signed.version,
        },
    )


def adjudication_decide(
    *,
    actor: User,
    batch: ReviewBatch,
    exam_id: int,
    decisions: Sequence[Decision],
    rationale: str = "",
    version: int,
) -> list[Adjudication]:
    """Decide disputed classes of an exam; their consensus becomes "adjudicated", for good.

    Refused for non-adjudicators and for anyone who holds a read of the exam in any batch
    (AdjudicationRefused), for a class that is not disputed on the exam (AdjudicationError), and from a
    stale version.
    """
    codes = _check_request(actor, exam_id, decisions)
    rationale = (rationale or "").strip()[:MAX_RATIONALE]
    with transaction.atomic():
        case = _case_lock(batch, exam_id, version, actor.pk)
        _check_adjudicable(case, decisions, codes, rationale)
        signed = _Signature(
            actor=actor,
            rationale=rationale,
            version=case.current + 1,
            n_reads=exam_first_reads(batch.pk, exam_id).count(),
            now=timezone.now(),
        )
        saved = [_decision_save(case, decision, signed) for decision in decisions]
        _view_record(actor, batch, exam_id)
        # Each statement keeps the version it was last signed in; the exam's version is the highest of
        # them (_case_lock), so a decision from an older page is still refused.
        _decision_audit(case, decisions, codes, signed, saved[0])
        # The suggestion evidence compares the models with the consensus this decision changed: the
        # worker computes it for the new state, ahead of the next coordinator who opens it.
        task_enqueue_on_commit("annotations.tasks.evidence_warm", batch.pk)
        # The readers' agreement against the adjudicated decisions is part of the stored result.
        transaction.on_commit(lambda: agreement_recompute_request(batch.pk))
    return saved


def _exclusive_set_check(
    batch: ReviewBatch, exam_id: int, decisions: Sequence[Decision], classes: dict[str, DiagnosticClass]
) -> None:
    """Refuse a decision that leaves the exam labelled with statements the taxonomy's exclusive sets
    forbid together (the same rule as a reader's submit), naming both. The exam's label set after the
    decision: every consensus value present now (agreed, majority, latent, earlier adjudications), with
    the classes decided here replaced by their new values. Only conflicts that a class decided present
    here takes part in are this decision's to refuse."""
    decided = {d.code: bool(d.value) for d in decisions}
    now_present = [code for code, value in decided.items() if value]
    if not now_present:
        return
    kept = sorted(code for code in exam_present_codes(batch, exam_id) if code not in decided)
    kinds = {code: c.kind for code, c in classes.items()}
    conflicts = [
        conflict
        for conflict in exclusive_conflicts([*now_present, *kept], kinds, batch.taxonomy.exclusive_sets)
        if conflict.first in now_present or conflict.second in now_present
    ]
    if conflicts:
        first, second = conflicts[0].first, conflicts[0].second
        # Refusals reach the page in its language, the statements named as the reader's list names them.
        raise AdjudicationError(
            _(
                "“%(first_name)s” (%(first)s) and “%(second_name)s” (%(second)s) cannot both be present on "
                "this exam (the taxonomy's exclusive sets); decide one of them absent"
            )
            % {
                "first_name": statement_name(classes[first].name, classes[first].name_pt),
                "first": first,
                "second_name": statement_name(classes[second].name, classes[second].name_pt),
                "second": second,
            }
        )


def _view_record(actor: User, batch: ReviewBatch, exam_id: int) -> bool:
    view, created = AdjudicationView.objects.get_or_create(
        batch=batch, exam_id=exam_id, adjudicator=actor, defaults={"first_seen_at": timezone.now()}
    )
    if created:
        audit_record(
            actor=actor, action="adjudication.view", target=view, after={"batch": batch.pk, "exam": exam_id}
        )
    return created


def adjudication_view_record(*, actor: User, batch: ReviewBatch, exam_id: int) -> bool:
    """Record that the adjudicator opened this exam's case: they now know it was disputed and how the
    pseudonymous readers voted, so no batch may hand it to them to read (selectors.blinding).

    Called by the case page and API after the case selector let them in; once per adjudicator, batch and
    exam. True when this was the first time.
    """
    with transaction.atomic():
        return _view_record(actor, batch, exam_id)
