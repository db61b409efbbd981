"""A reader's worklist holds their own progress and nothing about anybody else's."""

import pytest
from django.utils import timezone

from annotations.models import Assignment
from tests.factories import ExamFactory, batch_for

pytestmark = pytest.mark.django_db


def test_the_worklist_api_counts_only_the_requesting_readers_reads(client_for, ana, bruno, diego, tnmg):
    batch = batch_for(tnmg, diego, [ana, bruno], ExamFactory.create_batch(4), name="Pair", seed=3)
    Assignment.objects.filter(batch=batch, reader=bruno).update(
        status=Assignment.Status.SUBMITTED, submitted_at=timezone.now()
    )
    Assignment.objects.filter(batch=batch, reader=ana, position=0).update(
        status=Assignment.Status.IN_PROGRESS
    )
    entries = client_for(ana).get("/api/v1/worklist/").json()
    assert entries == [
        {
            "batch_id": batch.pk,
            "batch_name": "Pair",
            "due_date": None,
            "total": 4,
            "done": 0,
            "drafts": 1,
            "skipped": 0,
            "remaining": 4,
        }
    ]
