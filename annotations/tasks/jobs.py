"""Jobs left queued by a broker outage."""

from __future__ import annotations

from celery import shared_task

from annotations.services.jobs.sweeps import jobs_sweep_run


@shared_task(acks_late=True, name="annotations.tasks.jobs_sweep")
def jobs_sweep() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE): queue again the import jobs and releases whose message was lost."""
    return jobs_sweep_run()
