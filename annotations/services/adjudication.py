"""An adjudicator's decision on the disputed classes of one exam (issue 6).

One signed decision covers every class the adjudicator settles on the exam, in one transaction with its
audit row. Optimistic concurrency: the page carries the exam's adjudication version (0 before any
decision); a decision made from an older version is refused (the caller answers 409), so of two
adjudicators deciding the same exam from the same page the second never silently overwrites the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotations.agreement import ALGORITHM_VERSION
from annotations.models import Adjudication, AdjudicationView, Consensus, DisputedLabel, ReviewBatch
from annotations.roles import Role, has_role
from annotations.selectors.blinding import exam_adjudicator_eligible
from annotations.services.audit import audit_record

MAX_RATIONALE = 4000


class AdjudicationError(ValueError):
    """A decision the adjudicator must correct (a class that is not disputed, nothing decided)."""


class StaleAdjudication(Exception):
    """Someone signed a decision on this exam since the adjudicator's page was loaded."""

    def __init__(self, current: int):
        super().__init__(f"this exam was adjudicated meanwhile (version {current}); reload to see it")
        self.current = current


@dataclass(frozen=True)
class Decision:
    code: str
    value: bool


def adjudication_decide(
    *,
    actor,
    batch: ReviewBatch,
    exam_id: int,
    decisions: Sequence[Decision],
    rationale: str = "",
    version: int,
) -> list[Adjudication]:
    """Decide disputed classes of an exam; their consensus becomes "adjudicated", for good.

    Refused for non-adjudicators and for anyone who holds a read of the exam in any batch
    (PermissionError), for a class that is not disputed on the exam (AdjudicationError), and from a
    stale version.
    """
    if not has_role(actor, Role.ADJUDICATOR):
        raise PermissionError("only adjudicators decide disputed labels")
    if not exam_adjudicator_eligible(actor.pk, exam_id):
        raise PermissionError("adjudicators never adjudicate exams they read, in this batch or another")
    if not decisions:
        raise AdjudicationError("decide at least one disputed class")
    codes = [d.code for d in decisions]
    if len(set(codes)) != len(codes):
        raise AdjudicationError("a class was decided twice")
    rationale = (rationale or "").strip()[:MAX_RATIONALE]
    with transaction.atomic():
        # Same lock as the recomputation's write: a decision and a recomputation never interleave.
        ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        existing = Adjudication.objects.filter(batch=batch, exam_id=exam_id)
        current = existing.aggregate(v=Max("version"))["v"] or 0
        if version != current:
            raise StaleAdjudication(current)
        disputes = {
            d.diagnostic_class.code: d
            for d in DisputedLabel.objects.filter(batch=batch, exam_id=exam_id).select_related(
                "diagnostic_class"
            )
        }
        # A class decided before stays decidable (a correction) even if new reads settled its dispute.
        decided_before = {a.diagnostic_class.code: a for a in existing.select_related("diagnostic_class")}
        unknown = [code for code in codes if code not in disputes and code not in decided_before]
        if unknown:
            raise AdjudicationError(f"not disputed on this exam, so not adjudicable: {', '.join(unknown)}")
        now = timezone.now()
        new_version = current + 1
        saved = []
        for decision in decisions:
            dispute = disputes.get(decision.code)
            class_id = (
                dispute.diagnostic_class_id if dispute else decided_before[decision.code].diagnostic_class_id
            )
            adjudication, _ = Adjudication.objects.update_or_create(
                batch=batch,
                exam_id=exam_id,
                diagnostic_class_id=class_id,
                defaults={
                    "adjudicator": actor,
                    "value": bool(decision.value),
                    "rationale": rationale,
                    "version": new_version,
                    "decided_at": now,
                },
            )
            previous = Consensus.objects.filter(
                batch=batch, exam_id=exam_id, diagnostic_class_id=class_id
            ).first()
            Consensus.objects.update_or_create(
                batch=batch,
                exam_id=exam_id,
                diagnostic_class_id=class_id,
                defaults={
                    "value": bool(decision.value),
                    "method": Consensus.Method.ADJUDICATED,
                    "positive_votes": dispute.positive_votes if dispute else previous.positive_votes,
                    "total_votes": dispute.total_votes if dispute else previous.total_votes,
                    "probability": dispute.probability if dispute else previous.probability,
                    "algorithm_version": ALGORITHM_VERSION,
                    "computed_at": now,
                },
            )
            saved.append(adjudication)
        _view_record(actor, batch, exam_id)
        # Every decision of the exam carries the new version, so the exam has one version number.
        existing.update(version=new_version)
        audit_record(
            actor=actor,
            action="adjudication.decide",
            target=saved[0],
            after={
                "batch": batch.pk,
                "exam": exam_id,
                "decisions": {d.code: bool(d.value) for d in decisions},
                "rationale": bool(rationale),
                "version": new_version,
            },
        )
    return saved


def _view_record(actor, batch: ReviewBatch, exam_id: int) -> bool:
    view, created = AdjudicationView.objects.get_or_create(
        batch=batch, exam_id=exam_id, adjudicator=actor, defaults={"first_seen_at": timezone.now()}
    )
    if created:
        audit_record(
            actor=actor, action="adjudication.view", target=view, after={"batch": batch.pk, "exam": exam_id}
        )
    return created


def adjudication_view_record(*, actor, batch: ReviewBatch, exam_id: int) -> bool:
    """Record that the adjudicator opened this exam's case: they now know it was disputed and how the
    pseudonymous readers voted, so no batch may hand it to them to read (selectors.blinding).

    Called by the case page and API after the case selector let them in; once per adjudicator, batch and
    exam. True when this was the first time.
    """
    with transaction.atomic():
        return _view_record(actor, batch, exam_id)
