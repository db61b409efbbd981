"""Label releases: build one release's files."""

from __future__ import annotations

from celery import shared_task

from annotations.services.releases.builds import release_build


@shared_task(acks_late=True, name="annotations.tasks.releases_build")
def releases_build(release_id: int) -> None:
    """Build a release's files; idempotent (a finished release is left alone, a partial one rebuilt)."""
    release_build(release_id)
