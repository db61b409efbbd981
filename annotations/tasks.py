"""Celery tasks: thin wrappers that look the work up by id and call a service.

acks_late is on globally (settings), so a task whose worker dies is redelivered; every task here is
idempotent for that reason.
"""

from __future__ import annotations

from celery import shared_task

from annotations.services.imports import import_job_run


@shared_task(acks_late=True, name="annotations.tasks.imports_run")
def imports_run(job_id: int) -> None:
    import_job_run(job_id)
