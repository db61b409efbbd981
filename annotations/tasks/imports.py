"""Import jobs: run one queued job (parse, store, report)."""

from __future__ import annotations

from celery import shared_task

from annotations.services.imports.jobs import import_job_run


@shared_task(acks_late=True, name="annotations.tasks.imports_run")
def imports_run(job_id: int) -> None:
    import_job_run(job_id)
