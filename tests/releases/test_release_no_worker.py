"""A release queued while no worker takes work says so on its page and in its progress answer, and the
notice goes once a real worker builds it (see tests/imports/test_import_no_worker.py for the import's)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from annotations.models import Release
from tests.releases.sharding import read_study
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _notice(client, release_id: int) -> str:
    page = client.get(f"/releases/{release_id}/").content.decode()
    element = page.split('id="release-workers"', 1)[1].split("</p>", 1)[0]
    attributes, text = element.split(">", 1)
    assert ("hidden" in attributes) == (not text), element
    return html.unescape(text)


def test_a_release_no_worker_takes_says_so_until_one_builds_it(ana, diego, tnmg, client_for):
    cache.delete_many([f"workers:took:{queue}" for queue in ("default", "releases")])
    batch = read_study(3, reader=ana, coordinator=diego, taxonomy=tnmg)
    client = client_for(diego)
    response = client.post(
        reverse("api-release-list"), {"batches": [batch.pk]}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release_id = response.json()["id"]
    assert _notice(client, release_id) == ""
    Release.objects.filter(pk=release_id).update(created_at=timezone.now() - timedelta(minutes=5))
    said = _notice(client, release_id)
    assert "No worker has taken work from the queue “default”" in said and "5 minutes" in said, said
    assert client.get(f"/releases/{release_id}/progress.json").json()["workers"] == said
    with celery_worker(queues="default,releases", purge=False):  # its message waits in the queue
        wait_for(lambda: Release.objects.filter(pk=release_id, status="done").exists(), timeout=180)
    assert _notice(client, release_id) == ""
