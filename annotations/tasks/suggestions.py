"""Model suggestions. Names start with suggestions_ so CELERY_TASK_ROUTES sends them to the "models"
queue, where slow models never delay imports or agreement work. Each is idempotent (upserts per exam,
provider and version), so a redelivery after a killed worker leaves neither duplicates nor holes."""

from __future__ import annotations

from celery import shared_task

from annotations.services.suggestions import (
    suggestion_occlusion_compute,
    suggestions_batch_run,
    suggestions_exam_compute,
    suggestions_sweep_run,
)


@shared_task(acks_late=True, name="annotations.tasks.suggestions_batch")
def suggestions_batch(batch_id: int) -> int:
    return suggestions_batch_run(batch_id)


@shared_task(acks_late=True, name="annotations.tasks.suggestions_exam")
def suggestions_exam(exam_id: int) -> dict[str, str]:
    return suggestions_exam_compute(exam_id)


@shared_task(acks_late=True, name="annotations.tasks.suggestions_sweep")
def suggestions_sweep() -> int:
    return suggestions_sweep_run()


@shared_task(acks_late=True, name="annotations.tasks.suggestions_occlusion")
def suggestions_occlusion(suggestion_id: int) -> int:
    return suggestion_occlusion_compute(suggestion_id)
