"""Agreement and consensus of a batch, recomputed from its reads by a worker.

``batch_agreement_compute`` is idempotent: it reads a snapshot of the batch's submitted first reads,
computes the statistics (annotations.lib.stats, pure numpy) and replaces the batch's AgreementResult,
its machine-made Consensus rows and its DisputedLabel rows. A Consensus row whose method is
"adjudicated" is never written here: human decisions outlive every recomputation.

Consensus (annotations.lib.stats.consensus_decide) decides every cell by the batch's rule and leaves to
an adjudicator what the rule cannot settle honestly: ties, uncertain latent estimates, a latent estimate
that contradicts the readers' unanimous answer, and decisions an exclusive set forbids together. An exam
read fewer times than the batch's minimum gets no consensus at all (it is listed as having too few
reads). A Consensus row is stored for every decided cell except those every read left unmarked (agreed
absent, unanimously or by the only reader), which keeps a 100,000-exam batch at a few rows per exam
instead of 73; the exports read such a missing row as absent.

Scheduling (``agreement_recompute_request``) coalesces: the first submission of a quiet batch sets a
cache key and queues the task with a countdown; every submission until the task starts finds the key
and queues nothing, so a burst of submissions costs one recomputation. The task deletes the key before
it reads, so a read submitted during a recomputation schedules the next one. If Redis is down the
submission still commits; the periodic sweep recomputes whatever was missed.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from annotations.lib.exclusive_sets import TOKENS
from annotations.lib.stats import (
    ALGORITHM_VERSION,
    ConsensusDecision,
    ExclusiveSet,
    bootstrap_agreement,
    consensus_decide,
    dawid_skene,
)
from annotations.models import (
    Adjudication,
    AgreementResult,
    Consensus,
    DiagnosticClass,
    DisputedLabel,
    ReviewBatch,
)
from annotations.selectors.agreement.rules import (
    AgreementConfigError as AgreementConfigError,  # re-exported: computing is where a bad rule surfaces
)
from annotations.selectors.agreement.rules import consensus_settings
from annotations.selectors.agreement.summary import (
    ReadsSnapshot,
    batch_reads_snapshot,
    batches_with_stale_agreement,
)
from annotations.selectors.blinding import batch_pseudonyms
from annotations.services.agreement.tables import agreement_tables, bootstrap_summary, interval_method
from annotations.services.audit import audit_record
from annotations.services.enqueue import task_enqueue

logger = logging.getLogger(__name__)


# --- Scheduling -------------------------------------------------------------------------------------
def _pending_key(batch_id: int) -> str:
    return f"agreement:pending:{batch_id}"


def agreement_recompute_request(batch_id: int) -> bool:
    """Queue one recomputation of the batch unless one is already waiting; never raises.

    Called after the submitting transaction commits. Returns whether a task was queued.
    """
    delay = settings.AGREEMENT_RECOMPUTE_DELAY_S
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker (the embedded default): eager Celery would run the recomputation inside the submitting
        # request. The in-process background thread runs it after the response, coalesced per batch.
        from ecgreview.inprocess import background

        return background.submit(("agreement", batch_id), lambda: _recompute_eagerly(batch_id), delay=delay)
    try:
        # The key outlives the countdown a little, so it also expires if the task is lost.
        if not cache.add(_pending_key(batch_id), 1, timeout=delay + settings.AGREEMENT_PENDING_GRACE_S):
            return False
        if task_enqueue("annotations.tasks.agreement_recompute", batch_id, countdown=delay):
            return True
        cache.delete(_pending_key(batch_id))  # not queued: the next submission or the sweep tries again
        return False
    except Exception:  # a down broker or cache (kombu, redis, socket errors) must not lose the read
        logger.exception("could not queue the agreement recomputation of batch %s; the sweep will", batch_id)
        try:
            cache.delete(_pending_key(batch_id))
        except Exception:  # the same outage; the key then expires on its own timeout
            logger.warning("could not clear the agreement key of batch %s", batch_id)
        return False


def _recompute_eagerly(batch_id: int) -> None:
    agreement_recompute_run(batch_id)


def agreement_recompute_started(batch_id: int) -> None:
    """The task began: later submissions must schedule a new run, since this one may not see them."""
    try:
        cache.delete(_pending_key(batch_id))
    except Exception:
        logger.warning("could not clear the agreement key of batch %s", batch_id)


# --- Computation ---------------------------------------------------------------------------------------
def _nan_to_none(values) -> list:
    return [None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v for v in values]


def exclusive_sets_of(taxonomy_id: int, codes: list[str]) -> list[ExclusiveSet]:
    """The taxonomy's exclusive sets as class positions of ``codes``; a token such as '*diagnostic*'
    covers every statement of its kind that the set does not name or spare with '!CODE' (as at reading
    time, annotations.lib.exclusive_sets)."""
    from annotations.models import Taxonomy

    sets = Taxonomy.objects.filter(pk=taxonomy_id).values_list("exclusive_sets", flat=True).first() or []
    kinds = dict(DiagnosticClass.objects.filter(taxonomy_id=taxonomy_id).values_list("code", "kind"))
    position = {code: i for i, code in enumerate(codes)}
    out = []
    for members in sets:
        named = tuple(position[code] for code in members if code in position)
        token_kinds = {TOKENS[code] for code in members if code in TOKENS}
        # '!CODE' takes CODE out of what the token stands for ("any diagnosis but sinus rhythm").
        spared = {code[1:] for code in members if code.startswith("!")}
        others = tuple(
            i
            for code, i in position.items()
            if code not in members and code not in spared and kinds.get(code) in token_kinds
        )
        if len(named) + len(others) >= 2:
            out.append(ExclusiveSet(named, others))
    return out


def _decide(snapshot: ReadsSnapshot, rule: dict, sets: list[ExclusiveSet], latent=None) -> ConsensusDecision:
    """Every cell decided by the batch's rule (annotations.lib.stats.consensus_decide), with escalated
    exams' contested classes also sent to the adjudicator. ``latent``: the per-class fit, if made."""
    decision = consensus_decide(
        snapshot.reads,
        method=rule["method"],
        threshold=rule["threshold"],
        latent_margin=rule["latent_margin"],
        min_reads=rule["min_reads"],
        exclusive_sets=sets,
        binary_fit=latent,
    )
    if snapshot.escalated_exam_ids:
        # An escalated exam: every class its readers disagree on goes to the adjudicator, decided or not.
        n, k = decision.n_reads, decision.positive_votes
        escalated = np.isin(np.array(snapshot.exam_ids), list(snapshot.escalated_exam_ids))
        contested = escalated[:, None] & (k > 0) & (k < n) & ~decision.insufficient[:, None]
        decision.reason[contested & (decision.reason == "")] = DisputedLabel.Reason.ESCALATED
    return decision


def _consensus_summary(snapshot: ReadsSnapshot, rule: dict, decision: ConsensusDecision) -> dict:
    """What the page says about how consensus was reached: the latent fit (prior, convergence,
    iterations), the exams too thinly read for any consensus, those the latent rule was not used on."""
    codes = snapshot.class_codes
    latent = decision.latent
    classes = latent.get("classes") or {}
    not_converged = [codes[c] for c, ok in enumerate(classes.get("converged", [])) if not ok]
    sets = [
        {
            "codes": [codes[c] for c in fit["classes"]],
            "converged": fit["converged"],
            "iterations": fit["iterations"],
            # Pairs, not a mapping: the database's JSON type does not keep key order.
            "prior": [
                [code, share]
                for code, share in zip(
                    [*(codes[c] for c in fit["classes"]), "none"], _nan_to_none(fit["prior"]), strict=True
                )
            ],
        }
        for fit in latent.get("sets", [])
    ]
    split = ((decision.positive_votes > 0) & (decision.positive_votes < decision.n_reads)).any(axis=1)
    few = split & ~decision.latent_used & ~decision.insufficient
    n_exam = decision.n_reads.max(axis=1, initial=0) if decision.n_reads.size else np.zeros(0, int)
    return {
        "min_reads": rule["min_reads"],
        "insufficient_exams": [
            [int(snapshot.exam_ids[e]), int(n_exam[e])] for e in np.nonzero(decision.insufficient)[0].tolist()
        ],
        "latent": None
        if not latent.get("used")
        else {
            "prior": latent["prior"],
            "converged": latent["converged"],
            "iterations_max": max(classes.get("iterations", [0]) + [f["iterations"] for f in sets]),
            "classes_not_converged": not_converged,
            "sets": sets,
            "min_reads": latent["min_latent_reads"],
            "exams_below_min_reads": int(few.sum()),
        },
        "disputes": {
            str(reason): int(count)
            for reason, count in zip(
                *np.unique(decision.reason[decision.disputed], return_counts=True), strict=True
            )
        },
    }


def batch_agreement_compute(batch_id: int) -> AgreementResult | None:
    """Recompute a batch's agreement, consensus and disputes from its reads. Idempotent; safe to run
    twice at once (the later snapshot wins, an older one never overwrites it). None if the batch is gone."""
    started = time.monotonic()
    batch = ReviewBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        return None
    rule = consensus_settings(batch)
    snapshot = batch_reads_snapshot(batch)
    # Each reader's per-class reliability, for the reader table and (fitted once) the latent rule.
    reads = snapshot.reads
    latent = dawid_skene(reads) if reads.shape[0] >= 2 and reads.shape[1] else None
    decision = _decide(snapshot, rule, exclusive_sets_of(batch.taxonomy_id, snapshot.class_codes), latent)
    reason = decision.reason
    interval_method_, interval_note = interval_method(batch, len(snapshot.reader_ids))
    boot = bootstrap_agreement(
        snapshot.reads,
        n_resamples=settings.AGREEMENT_BOOTSTRAP_RESAMPLES,
        seed=batch.seed,
        method=interval_method_,
    )
    disputed = reason != ""
    names = batch_pseudonyms(batch)
    results = {
        "consensus": rule,
        "consensus_summary": _consensus_summary(snapshot, rule, decision),
        **agreement_tables(
            batch,
            snapshot,
            boot,
            rule,
            latent,
            names,
            disputed.sum(axis=0) if disputed.size else np.zeros(len(snapshot.class_ids)),
        ),
        "exams": {
            "exact_match_rate": _nan_to_none([float(boot.point.exams.exact_match_rate)])[0],
            "exact_match_rate_ci": _nan_to_none(
                [
                    float(boot.intervals["exact_match_rate"].lower),
                    float(boot.intervals["exact_match_rate"].upper),
                ]
            ),
            "mean_jaccard": _nan_to_none([float(boot.point.exams.mean_jaccard)])[0],
            "mean_jaccard_ci": _nan_to_none(
                [float(boot.intervals["mean_jaccard"].lower), float(boot.intervals["mean_jaccard"].upper)]
            ),
        },
        "bootstrap": bootstrap_summary(boot, interval_note),
    }
    return _store(batch, snapshot, results, decision, started)


def _store(batch, snapshot, results, decision: ConsensusDecision, started) -> AgreementResult | None:
    now = timezone.now()
    exam_ids = np.array(snapshot.exam_ids, dtype=np.int64)
    class_ids = np.array(snapshot.class_ids, dtype=np.int64)
    value, method, reason = decision.value, decision.method, decision.reason
    n, k, posterior = decision.n_reads, decision.positive_votes, decision.probability
    # A row for every decided cell but those no read marked and the rule left absent (implicit).
    e_idx, c_idx = np.nonzero(decision.stored)
    d_idx = np.nonzero(reason != "")
    with transaction.atomic():
        # The batch row lock serialises this write with adjudication_decide (which takes it too), so an
        # adjudication committed between our read of Adjudication and our upsert cannot be overwritten.
        ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        current = AgreementResult.objects.filter(batch=batch).first()
        if current is not None and _newer(current, snapshot):
            return current  # a later snapshot was already stored: this one is out of date
        adjudicated = set(
            Adjudication.objects.filter(batch=batch).values_list("exam_id", "diagnostic_class_id")
        )
        rows = [
            Consensus(
                batch=batch,
                exam_id=int(exam_ids[e]),
                diagnostic_class_id=int(class_ids[c]),
                value=bool(value[e, c] == 1),
                method=str(method[e, c]),
                positive_votes=int(k[e, c]),
                total_votes=int(n[e, c]),
                probability=None if not np.isfinite(posterior[e, c]) else float(posterior[e, c]),
                algorithm_version=ALGORITHM_VERSION,
                computed_at=now,
            )
            for e, c in zip(e_idx.tolist(), c_idx.tolist(), strict=True)
            if (int(exam_ids[e]), int(class_ids[c])) not in adjudicated
        ]
        keep = {(row.exam_id, row.diagnostic_class_id) for row in rows}
        old = Consensus.objects.filter(batch=batch).exclude(method=Consensus.Method.ADJUDICATED)
        stale = [
            pk for pk, e, c in old.values_list("pk", "exam_id", "diagnostic_class_id") if (e, c) not in keep
        ]
        Consensus.objects.filter(pk__in=stale).delete()
        Consensus.objects.bulk_create(
            rows,
            batch_size=5000,
            update_conflicts=True,
            unique_fields=["batch", "exam", "diagnostic_class"],
            update_fields=[
                "value",
                "method",
                "positive_votes",
                "total_votes",
                "probability",
                "algorithm_version",
                "computed_at",
            ],
        )
        DisputedLabel.objects.filter(batch=batch).delete()
        DisputedLabel.objects.bulk_create(
            (
                DisputedLabel(
                    batch=batch,
                    exam_id=int(exam_ids[e]),
                    diagnostic_class_id=int(class_ids[c]),
                    reason=str(reason[e, c]),
                    positive_votes=int(k[e, c]),
                    total_votes=int(n[e, c]),
                    probability=None if not np.isfinite(posterior[e, c]) else float(posterior[e, c]),
                    computed_at=now,
                )
                for e, c in zip(*(axis.tolist() for axis in d_idx), strict=True)
            ),
            batch_size=5000,
        )
        fields = {
            "algorithm_version": ALGORITHM_VERSION,
            "read_count": snapshot.read_count,
            "latest_submission_at": snapshot.latest_submission_at,
            "exam_count": len(snapshot.exam_ids),
            "reader_count": len(snapshot.reader_ids),
            "disputed_count": len(d_idx[0]),
            "results": results,
            "computed_at": now,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        result, _ = AgreementResult.objects.update_or_create(batch=batch, defaults=fields)
        audit_record(
            actor=None,
            actor_username="agreement-worker",
            action="agreement.compute",
            target=result,
            after={
                "batch": batch.pk,
                "reads": snapshot.read_count,
                "exams": len(snapshot.exam_ids),
                "consensus_rows": len(rows),
                "disputed": fields["disputed_count"],
                "algorithm_version": ALGORITHM_VERSION,
            },
        )
    return result


def _newer(current: AgreementResult, snapshot: ReadsSnapshot) -> bool:
    """Reads only accumulate, so a stored result from more reads, or later ones, is the newer one."""
    if current.read_count > snapshot.read_count:
        return True
    latest: datetime | None = snapshot.latest_submission_at
    return (
        current.read_count == snapshot.read_count
        and current.latest_submission_at is not None
        and latest is not None
        and current.latest_submission_at > latest
    )


def agreement_recompute_run(batch_id: int) -> None:
    """The worker's side of a queued recomputation: mark it started, then compute."""
    agreement_recompute_started(batch_id)
    batch_agreement_compute(batch_id)


def agreement_sweep_run() -> int:
    """Queue a recomputation for every batch whose reads moved on since its last result (beat, every
    AGREEMENT_SWEEP_SECONDS); returns how many were queued."""
    stale = batches_with_stale_agreement()
    for batch_id in stale:
        task_enqueue("annotations.tasks.agreement_recompute", batch_id)
    return len(stale)
