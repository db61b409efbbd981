"""Agreement and consensus, recomputed after reads are submitted and swept after an outage."""

from __future__ import annotations

from celery import shared_task

from annotations.services.agreement.compute import agreement_recompute_run, agreement_sweep_run
from annotations.services.jobs.dispatch import task_enqueue
from annotations.services.suggestions import suggestion_evidence_warm


@shared_task(acks_late=True, name="annotations.tasks.agreement_recompute")
def agreement_recompute(batch_id: int) -> None:
    """Recompute one batch's agreement and consensus; queued (coalesced) after reads are submitted. Its
    result is committed when the run returns; the evidence's agreement part, which it changes, is then
    computed ahead of the first coordinator who asks (seconds for a 100k-exam batch)."""
    agreement_recompute_run(batch_id)
    task_enqueue("annotations.tasks.evidence_warm", batch_id)


@shared_task(acks_late=True, name="annotations.tasks.evidence_warm")
def evidence_warm(batch_id: int) -> None:
    """Fill the cache of a batch's suggestion evidence (agreement with the consensus) for its state."""
    suggestion_evidence_warm(batch_id)


@shared_task(acks_late=True, name="annotations.tasks.agreement_sweep")
def agreement_sweep() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): recompute every batch whose reads moved on since its last result,
    which catches recomputations lost while Redis was down. Returns how many were queued."""
    return agreement_sweep_run()
