"""Jobs left queued by a broker outage."""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_prerun

from annotations.services.jobs.dispatch import worker_took_task
from annotations.services.jobs.sweeps import jobs_sweep_run


@shared_task(acks_late=True, name="annotations.tasks.jobs_sweep")
def jobs_sweep() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE): queue again the import jobs and releases whose message was lost."""
    return jobs_sweep_run()


@task_prerun.connect
def _queue_seen_at_work(task=None, **_) -> None:
    """Stamp the queue a worker just took a task from: the job pages tell a coordinator when none has for
    a while (annotations.selectors.jobs). Tasks run in-process (no broker) stamp nothing. Connected here,
    where the worker's autodiscovery imports it, as the Celery app is made before Django has its models."""
    request = getattr(task, "request", None)
    queue = ((getattr(request, "delivery_info", None) or {}).get("routing_key")) if request else None
    if not queue or getattr(request, "is_eager", False):
        return
    worker_took_task(queue)
