"""What each event tells a subscriber, emitted from where the event happens (inside its transaction).

A payload holds ids, counts, states and links, nothing more: never a label, a finding, a reader's or a
submitter's identity, a batch's or a file's name, nor an error message (an import's error quotes paths
and file contents). Every subscriber is a coordinator, who may open every link; what the link shows is
then decided by the product's own access rules, as for any visit. docs/webhooks.md lists the shapes.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse

from annotations.models import (
    Assignment,
    BatchExam,
    BenchmarkSubmission,
    ImportJob,
    Release,
    ReviewBatch,
    WebhookEvent,
)
from annotations.services.webhooks.deliveries import subscribed_to, webhook_event_emit

logger = logging.getLogger(__name__)
OPEN_SLOTS = (Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS)


def batch_completed_emit(batch: ReviewBatch) -> int:
    """Every read of the batch is in (submitted or skipped), or a coordinator closed it: once per batch."""
    if not subscribed_to(WebhookEvent.BATCH_COMPLETED):  # its counts cost queries nobody would read
        return 0
    slots = Assignment.objects.filter(batch=batch)
    data = {
        "batch": {"id": batch.pk, "url": reverse("batch-detail", args=[batch.pk])},
        "closed": batch.status == ReviewBatch.Status.CLOSED,
        "exams": BatchExam.objects.filter(batch=batch).count(),
        "reads": {
            "submitted": slots.filter(status=Assignment.Status.SUBMITTED).count(),
            "skipped": slots.filter(status=Assignment.Status.SKIPPED).count(),
            "open": slots.filter(status__in=OPEN_SLOTS).count(),
        },
        "exams_to_adjudicate": BatchExam.objects.filter(batch=batch, needs_adjudication=True).count(),
    }
    return webhook_event_emit(WebhookEvent.BATCH_COMPLETED, subject=f"batch:{batch.pk}", data=data)


def batch_completion_check(batch_id: int) -> int:
    """After a read or a skip commits: announce the batch if that was its last open slot. Run after the
    commit, in its own transaction, so two readers finishing the last two slots at once are both seen by
    whichever checks last (each inside its own transaction would see the other's slot still open). Never
    raises: the read is already saved."""
    try:
        if not subscribed_to(WebhookEvent.BATCH_COMPLETED):  # one query where nobody listens
            return 0
        with transaction.atomic():
            batch = ReviewBatch.objects.filter(pk=batch_id, status=ReviewBatch.Status.ACTIVE).first()
            slots = Assignment.objects.filter(batch_id=batch_id)
            if batch is None or not slots.exists() or slots.filter(status__in=OPEN_SLOTS).exists():
                return 0
            return batch_completed_emit(batch)
    except Exception:
        logger.exception("could not announce the completion of batch %s to webhooks", batch_id)
        return 0


def batch_completion_check_on_commit(batch_id: int) -> None:
    transaction.on_commit(lambda: batch_completion_check(batch_id))


def exam_escalated_emit(member: BatchExam) -> int:
    """An exam of a batch was sent to adjudication (the batch's escalation rule)."""
    data = {
        "batch": {"id": member.batch_id, "url": reverse("batch-detail", args=[member.batch_id])},
        "exam": {"id": member.exam_id},
        "adjudication_url": reverse("adjudication-case", args=[member.batch_id, member.exam_id]),
    }
    return webhook_event_emit(
        WebhookEvent.EXAM_ESCALATED, subject=f"batch:{member.batch_id}:exam:{member.exam_id}", data=data
    )


def release_built_emit(release: Release) -> int:
    if not subscribed_to(WebhookEvent.RELEASE_BUILT):
        return 0
    data = {
        "release": {
            "id": release.pk,
            "url": reverse("release-detail", args=[release.pk]),
            "download_url": reverse("api-release-zip", args=[release.pk]),
        },
        "batches": sorted(release.batches.values_list("pk", flat=True)),
        "exams": release.exam_count,
        "files": [
            {"name": f["name"], "bytes": f.get("bytes"), "sha256": f.get("sha256")} for f in release.files
        ],
    }
    return webhook_event_emit(WebhookEvent.RELEASE_BUILT, subject=f"release:{release.pk}", data=data)


def import_finished_emit(job: ImportJob) -> int:
    """An import job ended: done (import.finished) or failed (import.failed); the error's text stays on
    the job's page."""
    failed = job.status == ImportJob.Status.FAILED
    data = {
        "import": {"id": job.pk, "url": reverse("import-detail", args=[job.pk]), "status": job.status},
        "dataset": job.dataset_name,
        "exams": {"created": job.created, "unchanged": job.unchanged, "failed": job.failed},
        "files_failed": job.files_failed,
    }
    event = WebhookEvent.IMPORT_FAILED if failed else WebhookEvent.IMPORT_FINISHED
    return webhook_event_emit(event, subject=f"import:{job.pk}", data=data)


def benchmark_result_emit(submission: BenchmarkSubmission) -> int:
    """A submission was scored. Its figures stay on its page, behind the benchmark's own rules."""
    data = {
        "benchmark": {
            "id": submission.benchmark_id,
            "url": reverse("benchmark-detail", args=[submission.benchmark_id]),
        },
        "submission": {
            "id": submission.pk,
            "url": reverse("benchmark-submission", args=[submission.pk]),
            "status": submission.status,
        },
    }
    return webhook_event_emit(WebhookEvent.BENCHMARK_RESULT, subject=f"submission:{submission.pk}", data=data)
