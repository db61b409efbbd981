"""Releases as coordinators see them: the list, one release, its progress."""

from __future__ import annotations

from django.db.models import QuerySet

from annotations.errors import Forbidden, Invalid, NotFound
from annotations.models import Release, ReviewBatch
from annotations.roles import Role, has_role


def _require_coordinator(user) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def release_list(user) -> QuerySet[Release]:
    _require_coordinator(user)
    return Release.objects.select_related("coordinator", "taxonomy").prefetch_related("batches")


def release_get(user, release_id: int) -> Release:
    _require_coordinator(user)
    release = release_list(user).filter(pk=release_id).first()
    if release is None:
        raise NotFound("no such release")
    return release


def release_progress(release: Release) -> dict:
    return {
        "id": release.pk,
        "name": release.name,
        "status": release.status,
        "done": release.progress_done,
        "total": release.progress_total,
        "finished": release.status in (Release.Status.DONE, Release.Status.FAILED),
        "error": release.error,
        "exam_count": release.exam_count,
        "target": release.target,
        "taxonomy": f"{release.taxonomy.key} {release.taxonomy.version}",
        "batches": sorted(release.batches.values_list("pk", flat=True)),
        "options": release.options,
        "software_version": release.software_version,
        "created_at": release.created_at.isoformat(),
        "files": release.files,
    }


def exportable_batches(user) -> QuerySet[ReviewBatch]:
    _require_coordinator(user)
    return ReviewBatch.objects.exclude(status=ReviewBatch.Status.DRAFT).select_related("taxonomy")


def release_batches(user, batch_ids: list[int]) -> list[ReviewBatch]:
    """The batches a release is asked for, each one named; an id that names no batch is refused."""
    _require_coordinator(user)
    batches = list(ReviewBatch.objects.filter(pk__in=batch_ids))
    missing = sorted(set(batch_ids) - {batch.pk for batch in batches})
    if missing:
        raise Invalid(f"no such batch: {missing}")
    return batches
