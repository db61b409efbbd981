"""Label releases: build one release's files; a large release's tracings shard by shard."""

from __future__ import annotations

from celery import shared_task

from annotations.services.releases.builds import release_build
from annotations.services.releases.shards import release_shard_build, release_shards_finish


@shared_task(acks_late=True, name="annotations.tasks.releases_build")
def releases_build(release_id: int) -> None:
    """Build a release's files; idempotent (a finished release is left alone, a partial one rebuilt)."""
    release_build(release_id)


@shared_task(acks_late=True, name="annotations.tasks.releases_shard_build")
def releases_shard_build(release_id: int, shard: int) -> None:
    """Write one shard of a large release's tracings (releases queue); idempotent, same bytes on a rerun."""
    release_shard_build(release_id, shard)


@shared_task(acks_late=True, name="annotations.tasks.releases_shards_finish")
def releases_shards_finish(release_id: int) -> None:
    """Assemble a sharded release once its shards are written: card, SHA256SUMS, done; idempotent."""
    release_shards_finish(release_id)
