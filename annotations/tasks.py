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


@shared_task(acks_late=True, name="annotations.tasks.exams_quality")
def exams_quality(exam_ids: list[int]) -> int:
    from annotations.services.quality import exams_quality_run

    return exams_quality_run(exam_ids)


# --- Model suggestions: names start with suggestions_ so CELERY_TASK_ROUTES sends them to the "models"
# queue, where slow models never delay imports or agreement work. Each is idempotent (upserts per exam,
# provider and version), so a redelivery after a killed worker leaves neither duplicates nor holes.
@shared_task(acks_late=True, name="annotations.tasks.suggestions_batch")
def suggestions_batch(batch_id: int) -> int:
    from annotations.services.suggestions import suggestions_batch_run

    return suggestions_batch_run(batch_id)


@shared_task(acks_late=True, name="annotations.tasks.suggestions_exam")
def suggestions_exam(exam_id: int) -> dict[str, str]:
    from annotations.services.suggestions import suggestions_exam_compute

    return suggestions_exam_compute(exam_id)


@shared_task(acks_late=True, name="annotations.tasks.suggestions_sweep")
def suggestions_sweep() -> int:
    from annotations.services.suggestions import suggestions_sweep_run

    return suggestions_sweep_run()


# --- Agreement (issue 6) ----------------------------------------------------------------------------
@shared_task(acks_late=True, name="annotations.tasks.agreement_recompute")
def agreement_recompute(batch_id: int) -> None:
    """Recompute one batch's agreement and consensus; queued (coalesced) after reads are submitted."""
    from annotations.services.agreement import agreement_recompute_started, batch_agreement_compute

    agreement_recompute_started(batch_id)
    batch_agreement_compute(batch_id)


@shared_task(acks_late=True, name="annotations.tasks.agreement_sweep")
def agreement_sweep() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): recompute every batch whose reads moved on since its last result,
    which catches recomputations lost while Redis was down. Returns how many were queued."""
    from annotations.selectors.agreement import batches_with_stale_agreement
    from annotations.services.queueing import task_enqueue

    stale = batches_with_stale_agreement()
    for batch_id in stale:
        task_enqueue(agreement_recompute, batch_id)
    return len(stale)


# --- Label releases (issue 8) ----------------------------------------------------------------------------
@shared_task(acks_late=True, name="annotations.tasks.releases_build")
def releases_build(release_id: int) -> None:
    """Build a release's files; idempotent (a finished release is left alone, a partial one rebuilt)."""
    from annotations.services.releases import release_build

    release_build(release_id)


# --- Jobs left queued by a broker outage ----------------------------------------------------------------
@shared_task(acks_late=True, name="annotations.tasks.jobs_sweep")
def jobs_sweep() -> dict[str, int]:
    """Periodic (CELERY_BEAT_SCHEDULE): queue again the import jobs and releases whose message was lost."""
    from annotations.services.queueing import jobs_sweep_run

    return jobs_sweep_run()
