"""Agreement and consensus, recomputed after reads are submitted and swept after an outage."""

from __future__ import annotations

from celery import shared_task

from annotations.services.agreement.compute import agreement_recompute_run, agreement_sweep_run


@shared_task(acks_late=True, name="annotations.tasks.agreement_recompute")
def agreement_recompute(batch_id: int) -> None:
    """Recompute one batch's agreement and consensus; queued (coalesced) after reads are submitted."""
    agreement_recompute_run(batch_id)


@shared_task(acks_late=True, name="annotations.tasks.agreement_sweep")
def agreement_sweep() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): recompute every batch whose reads moved on since its last result,
    which catches recomputations lost while Redis was down. Returns how many were queued."""
    return agreement_sweep_run()
