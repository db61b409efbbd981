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
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Self

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from annotations.lib.stats import (
    ALGORITHM_VERSION,
    BootstrapResult,
    ConsensusDecision,
    bootstrap_agreement,
    dawid_skene,
)
from annotations.lib.stats.consensus import METHODS, REASONS
from annotations.lib.stats.reads import MISSING
from annotations.models import Adjudication, AgreementResult, Consensus, ReviewBatch
from annotations.selectors.agreement.patients import exam_patients
from annotations.selectors.agreement.rules import (
    AgreementConfigError as AgreementConfigError,  # re-exported: computing is where a bad rule surfaces
)
from annotations.selectors.agreement.rules import consensus_settings
from annotations.selectors.agreement.summary import (
    ReadsSnapshot,
    batch_reads_snapshot,
    batches_with_stale_agreement,
)
from annotations.selectors.agreement.tables import batch_gold_exam_ids
from annotations.selectors.blinding import batch_pseudonyms
from annotations.services.agreement.consensus import (
    consensus_decisions,
    consensus_summary,
    exam_figures,
    exclusive_sets_of,
)
from annotations.services.agreement.qualifiers import qualifier_agreement_rows
from annotations.services.agreement.rows import consensus_rows_replace, disputes_replace
from annotations.services.agreement.tables import (
    TableInputs,
    agreement_tables,
    bootstrap_summary,
    interval_method,
    latent_reader_figures,
    uncertain_rows,
)
from annotations.services.audit import audit_record
from annotations.services.jobs.dispatch import task_enqueue
from ecgreview.inprocess import background

logger = logging.getLogger(__name__)


# --- Scheduling -------------------------------------------------------------------------------------
def _pending_key(batch_id: int) -> str:
    return f"agreement:pending:{batch_id}"


# When the run this process knows to be queued for a batch starts at the earliest (epoch seconds, as the
# pending key holds it). Until shortly before then a submission needs no round trip to Redis: that run has
# not started, so it will read what the submission committed. A reader's burst of submits then costs each
# web process one request to Redis per countdown instead of one per submit.
_QUEUED_FROM: dict[int, float] = {}
# Hosts' clocks differ a little; the task is due by the sender's clock and started by the worker's.
CLOCK_MARGIN_S = 2.0
_QUEUED_KEPT = 1024  # batches remembered at most; a handful are read at once in practice


def _queued_later(batch_id: int, now: float) -> bool:
    starts = _QUEUED_FROM.get(batch_id)
    return starts is not None and now < starts - CLOCK_MARGIN_S


def _remember_queued(batch_id: int, starts: object) -> None:
    """Keep a run's start time; a key without one (written before start times were kept) is not kept."""
    if isinstance(starts, float):
        if len(_QUEUED_FROM) >= _QUEUED_KEPT:
            _QUEUED_FROM.clear()
        _QUEUED_FROM[batch_id] = starts


def agreement_recompute_request(batch_id: int) -> bool:
    """Queue one recomputation of the batch unless one is already waiting; never raises.

    Called after the submitting transaction commits. Returns whether a task was queued.
    """
    delay = settings.AGREEMENT_RECOMPUTE_DELAY_S
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker (the embedded default): eager Celery would run the recomputation inside the submitting
        # request. The in-process background thread runs it after the response, coalesced per batch.
        return background.submit(("agreement", batch_id), lambda: _recompute_eagerly(batch_id), delay=delay)
    now = time.time()
    if _queued_later(batch_id, now):
        return False
    starts = now + delay
    try:
        # A key means its run has not started (the task deletes it before reading), so it will see this
        # submission: one read of it answers, also while a busy worker has not yet taken an overdue run.
        waiting = cache.get(_pending_key(batch_id))
        if waiting is not None:
            _remember_queued(batch_id, waiting)
            return False
        # The key outlives the countdown a little, so it also expires if the task is lost.
        if not cache.add(_pending_key(batch_id), starts, timeout=delay + settings.AGREEMENT_PENDING_GRACE_S):
            return False  # another process queued it between the two
        if task_enqueue("annotations.tasks.agreement_recompute", batch_id, countdown=delay):
            _remember_queued(batch_id, starts)
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
    _QUEUED_FROM.pop(batch_id, None)
    try:
        cache.delete(_pending_key(batch_id))
    except Exception:
        logger.warning("could not clear the agreement key of batch %s", batch_id)


def agreement_sample(batch: ReviewBatch, snapshot: ReadsSnapshot) -> tuple[ReadsSnapshot, ReadsSnapshot]:
    """(the designed reads, the sampled exams' designed reads): what readers are scored on and what
    agreement is measured on. Gold exams go to every reader and were picked for their known answer: they
    score the readers but would lift every coefficient, so the sample leaves them out."""
    designed = snapshot.designed()
    return designed, designed.without_exams(batch_gold_exam_ids(batch) & set(designed.exam_ids))


def agreement_bootstrap(batch: ReviewBatch, sample: ReadsSnapshot) -> tuple[BootstrapResult, str]:
    """The batch's agreement figures with their default (or chosen) intervals, and the interval's note."""
    method, note = interval_method(batch, len(sample.reader_ids))
    boot = bootstrap_agreement(
        sample.reads,
        n_resamples=settings.AGREEMENT_BOOTSTRAP_RESAMPLES,
        seed=batch.seed,
        method=method,
        # A patient's several exams are not independent: resampled together where there are such.
        clusters=exam_patients(sample.exam_ids),
    )
    return boot, note


# --- Computation ---------------------------------------------------------------------------------------
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
    decision = consensus_decisions(
        snapshot, rule, exclusive_sets_of(batch.taxonomy_id, snapshot.class_codes), latent
    )
    disputed = decision.disputed
    disputed_per_class = disputed.sum(axis=0) if disputed.size else np.zeros(len(snapshot.class_ids))
    summary = consensus_summary(snapshot, rule, decision)
    consensus = _Cells.of(snapshot, decision, decision.stored, decision.method_code)
    disputes = _Cells.of(snapshot, decision, disputed, decision.reason_code)
    human = snapshot.adjudicated
    voted = (
        _Cells.of(snapshot, decision, human != MISSING, decision.method_code) if human is not None else None
    )
    # From here on only the cells to store, the counts and the readers' rates are needed: the decision's
    # and the latent fit's per-cell arrays (hundreds of MB for 100,000 exams x 74 classes) are let go
    # before the bootstrap and the tables make their own.
    del decision, disputed
    latent_readers = latent_reader_figures(snapshot, latent)
    if latent is not None:
        latent = replace(latent, posterior=np.empty((0, 0)), labels=np.empty((0, 0), dtype=np.int8))
    # Agreement from here on is measured on the designed reads: the escalation's extra reads, which only
    # disputed exams get, fed the consensus above and would bias every coefficient below.
    designed, sample = agreement_sample(batch, snapshot)
    boot, interval_note = agreement_bootstrap(batch, sample)
    results = {
        "consensus": rule,
        "consensus_summary": summary,
        **agreement_tables(
            TableInputs(
                batch=batch,
                snapshot=sample,
                scoring=designed,
                boot=boot,
                rule=rule,
                latent=latent,
                names=batch_pseudonyms(batch),
                disputed_per_class=disputed_per_class,
                latent_readers=latent_readers,
            )
        ),
        "exams": exam_figures(boot),
        "bootstrap": bootstrap_summary(boot, interval_note),
        "qualifiers": qualifier_agreement_rows(batch, sample),
        # Left out of every agreement figure above; the consensus counts them.
        "escalation_reads": snapshot.extra_read_count,
        "gold_exams_left_out": len(designed.exam_ids) - len(sample.exam_ids),
        "uncertain": uncertain_rows(sample),
    }
    return _store(_Outcome(batch, snapshot, results, consensus, disputes, started, voted))


@dataclass(frozen=True)
class _Cells:
    """The (exam, class) cells of a decision to be stored, as columns: the fields a Consensus row and a
    DisputedLabel row share, the method or reason code of each, and (consensus cells) the decided value.
    Taken from the decision arrays at once rather than cell by cell."""

    exam_ids: np.ndarray
    class_ids: np.ndarray
    positive_votes: np.ndarray
    total_votes: np.ndarray
    probability: np.ndarray
    codes: np.ndarray
    positive: np.ndarray

    @classmethod
    def of(
        cls, snapshot: ReadsSnapshot, decision: ConsensusDecision, where: np.ndarray, codes: np.ndarray
    ) -> Self:
        e_idx, c_idx = np.nonzero(where)
        return cls(
            exam_ids=np.array(snapshot.exam_ids, dtype=np.int64)[e_idx],
            class_ids=np.array(snapshot.class_ids, dtype=np.int64)[c_idx],
            positive_votes=decision.positive_votes[e_idx, c_idx],
            total_votes=decision.n_reads[e_idx, c_idx],
            probability=decision.probability[e_idx, c_idx].astype(float),
            codes=codes[e_idx, c_idx],
            positive=decision.value[e_idx, c_idx] == 1,
        )

    def columns(self) -> list[list[Any]]:
        """The shared fields as columns of Python values (rows.py's order), NaN as None."""
        return [
            self.exam_ids.tolist(),
            self.class_ids.tolist(),
            self.positive_votes.tolist(),
            self.total_votes.tolist(),
            [p if math.isfinite(p) else None for p in self.probability.tolist()],
        ]


@dataclass
class _Outcome:
    """One computation, as it is stored: the batch, the snapshot it was made from, the stored results,
    the consensus and the disputed cells; ``started`` is when the computation began (monotonic)."""

    batch: ReviewBatch
    snapshot: ReadsSnapshot
    results: dict[str, Any]
    consensus: _Cells
    disputes: _Cells
    started: float
    adjudicated: _Cells | None = None  # the votes now on the cells a human decided
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = timezone.now()


def _consensus_replace(out: _Outcome) -> int:
    """Upsert a Consensus row for every decided cell but those no read marked and the rule left absent
    (implicit), never over an adjudication; drop the machine rows no longer decided. Returns the rows."""
    adjudicated = set(
        Adjudication.objects.filter(batch=out.batch).values_list("exam_id", "diagnostic_class_id")
    )
    columns = out.consensus.columns()
    columns.append(out.consensus.positive.tolist())
    columns.append([METHODS[c] for c in out.consensus.codes.tolist()])
    rows = [row for row in zip(*columns, strict=True) if (row[0], row[1]) not in adjudicated]
    consensus_rows_replace(out.batch.pk, rows, ALGORITHM_VERSION, out.now)
    _adjudicated_votes_update(out)
    return len(rows)


def _adjudicated_votes_update(out: _Outcome) -> None:
    """An adjudicated cell keeps its human value but shows the votes it has now: a read handed on after
    the decision is counted there as it is in the reads the export lists beside it."""
    if out.adjudicated is None:
        return
    cells = out.adjudicated
    votes = {
        (exam, cls): (positive, total, probability)
        for exam, cls, positive, total, probability in zip(*cells.columns(), strict=True)
    }
    rows = Consensus.objects.filter(batch=out.batch, method=Consensus.Method.ADJUDICATED)
    changed = []
    for row in rows.filter(exam_id__in=sorted({exam for exam, _ in votes})):
        now = votes.get((row.exam_id, row.diagnostic_class_id))
        if now is not None and now != (row.positive_votes, row.total_votes, row.probability):
            row.positive_votes, row.total_votes, row.probability = now
            changed.append(row)
    Consensus.objects.bulk_update(changed, ["positive_votes", "total_votes", "probability"], batch_size=1000)


def _disputes_replace(out: _Outcome) -> int:
    """The batch's DisputedLabel rows replaced by this computation's; returns how many."""
    columns = out.disputes.columns()
    columns.append([REASONS[c] for c in out.disputes.codes.tolist()])
    disputes_replace(out.batch.pk, list(zip(*columns, strict=True)), out.now)
    return len(columns[0])


def _store(out: _Outcome) -> AgreementResult:
    snapshot = out.snapshot
    with transaction.atomic():
        # The batch row lock serialises this write with adjudication_decide (which takes it too), so an
        # adjudication committed between our read of Adjudication and our upsert cannot be overwritten.
        ReviewBatch.objects.select_for_update().get(pk=out.batch.pk)
        current = AgreementResult.objects.filter(batch=out.batch).first()
        if current is not None and _newer(current, snapshot):
            return current  # a later snapshot was already stored: this one is out of date
        consensus_rows = _consensus_replace(out)
        fields = {
            "algorithm_version": ALGORITHM_VERSION,
            "read_count": snapshot.read_count,
            "latest_submission_at": snapshot.latest_submission_at,
            "exam_count": len(snapshot.exam_ids),
            "reader_count": len(snapshot.reader_ids),
            "disputed_count": _disputes_replace(out),
            "results": out.results,
            "computed_at": out.now,
            "duration_ms": int((time.monotonic() - out.started) * 1000),
        }
        result, _ = AgreementResult.objects.update_or_create(batch=out.batch, defaults=fields)
        audit_record(
            actor=None,
            actor_username="agreement-worker",
            action="agreement.compute",
            target=result,
            after={
                "batch": out.batch.pk,
                "reads": snapshot.read_count,
                "exams": len(snapshot.exam_ids),
                "consensus_rows": consensus_rows,
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


def agreement_catch_up(batch_ids: list[int]) -> list[int]:
    """Recompute, here and now, the agreement and consensus of each of these batches whose reads moved on
    since they were computed; returns their ids. An export asked for within the recomputation's delay
    after the last reads (or while the workers were down) would otherwise write the stored consensus of
    fewer reads than it exports: a unanimous finding as absent, a tie as a decided 0."""
    stale = batches_with_stale_agreement(batch_ids)
    for batch_id in stale:
        batch_agreement_compute(batch_id)
    return stale


def agreement_sweep_run() -> int:
    """Queue a recomputation for every batch whose reads moved on since its last result (beat, every
    AGREEMENT_SWEEP_SECONDS); returns how many were queued."""
    stale = batches_with_stale_agreement()
    for batch_id in stale:
        task_enqueue("annotations.tasks.agreement_recompute", batch_id)
    return len(stale)
