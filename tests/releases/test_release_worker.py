"""End to end: a release asked for through the API is built by a real Celery worker process."""

import csv
import io

import pytest
from django.urls import reverse

from annotations.models import Release
from tests.exporting import labelled_study
from tests.factories import UserFactory
from tests.workers import celery_worker, wait_for


@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_release_and_the_coordinator_downloads_it(
    ana, bruno, carla, diego, tnmg, client_for
):
    carol = UserFactory(username="carol", roles=["reader"])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    client = client_for(diego)
    with celery_worker(queues="default") as worker:
        response = client.post(
            reverse("api-release-list"),
            {"batches": [study.batch.pk], "target": "code15"},
            content_type="application/json",
        )
        assert response.status_code == 201
        release_id = response.json()["id"]
        release = wait_for(
            lambda: Release.objects.filter(pk=release_id, status__in=["done", "failed"]).first(), timeout=120
        )
        assert release.status == "done", (release.error, worker)
    assert release.progress_done == release.progress_total > 0
    download = client.get(reverse("api-release-file", args=[release_id, "consensus.csv"]))
    table = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [row["exam_id"] for row in table] == ["E001", "E002", "E003", "E004"]
    assert [row["RBBB"] for row in table] == ["1", "0", "0", "0"]
