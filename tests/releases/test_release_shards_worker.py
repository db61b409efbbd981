"""End to end: two real Celery worker processes write a sharded release's shards in parallel, and the
bytes are those of the same release built one task at a time."""

import re

import pytest
from django.urls import reverse

from annotations.models import Release
from tests.releases.sharding import build_serially, checksums, read_study, shard_names
from tests.workers import celery_worker, wait_for

SHARD_DONE = re.compile(r"Task annotations\.tasks\.releases_shard_build\[[^\]]+\] succeeded")


@pytest.mark.django_db(transaction=True)
def test_two_workers_write_the_shards_in_parallel_to_the_bytes_of_a_serial_build(
    ana, diego, tnmg, client_for, settings
):
    settings.RELEASE_SHARD_EXAMS = 1
    batch = read_study(6, reader=ana, coordinator=diego, taxonomy=tnmg)
    client = client_for(diego)
    with (
        celery_worker(queues="default,releases") as one,
        celery_worker(queues="default,releases") as two,
    ):
        response = client.post(
            reverse("api-release-list"), {"batches": [batch.pk]}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
        release_id = response.json()["id"]
        release = wait_for(
            lambda: Release.objects.filter(pk=release_id, status__in=["done", "failed"]).first(), timeout=180
        )
    assert release.status == "done", release.error
    assert len(shard_names(release)) == 6
    per_worker = [len(SHARD_DONE.findall(worker.log)) for worker in (one, two)]
    assert sum(per_worker) >= 6 and min(per_worker) >= 1, per_worker  # both took shards
    parallel = checksums(release)
    Release.objects.filter(pk=release_id).update(status=Release.Status.QUEUED, files=[])
    assert checksums(build_serially(release_id)) == parallel
