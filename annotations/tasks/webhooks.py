"""Webhooks: one attempt at a delivery; the sweep of deliveries an outage left waiting."""

from __future__ import annotations

from celery import shared_task

from annotations.services.webhooks.deliveries import webhook_deliver, webhooks_sweep_run


@shared_task(acks_late=True, name="annotations.tasks.webhooks_deliver")
def webhooks_deliver(delivery_id: int) -> None:
    """Send a due delivery once; idempotent (a delivered, given-up, not yet due or claimed one is left)."""
    webhook_deliver(delivery_id)


@shared_task(acks_late=True, name="annotations.tasks.webhooks_sweep")
def webhooks_sweep() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): queue again the deliveries whose message was lost."""
    return webhooks_sweep_run()
