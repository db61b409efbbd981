"""A coordinator's import does not wait behind the quality reports of earlier imports.

Every insert batch of an import queues its exams' signal-quality reports on the default queue, the queue
imports, releases, agreement and the jobs sweep share: a 20,000-exam import left 40 such tasks, seconds
each, ahead of the next import. The reports are catch-up work nobody waits on, so they go behind.
"""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from annotations.models import Exam, ImportJob
from annotations.services.exams.quality import exams_quality_enqueue
from tests.factories import make_exam
from tests.importing import DATA
from tests.workers import celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_import_queued_after_quality_reports_is_taken_before_them(client_for, diego):
    exams = [make_exam(heart_rate=60.0 + i, seed=900 + i) for i in range(4)]
    Exam.objects.filter(pk__in=[e.pk for e in exams]).update(quality_grade="")
    for exam in exams:  # as four insert batches of an earlier import leave them
        with transaction.atomic():
            exams_quality_enqueue([exam.pk])
    root = settings.IMPORT_ROOT
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"before-quality-{uuid.uuid4().hex}"
    target.mkdir()
    shutil.copy(DATA / "cpsc2018" / "A1986.mat", target / "A1986.mat")
    response = client_for(diego).post(
        "/api/v1/imports/",
        {"dataset": "urgent", "paths": [target.name], "format": "cpsc2018"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    with celery_worker(queues="default", purge=False) as worker:  # every message waits in the queue
        wait_for(
            lambda: ImportJob.objects.filter(pk=response.json()["id"], status="done").exists(), timeout=120
        )
        wait_for(lambda: not Exam.objects.filter(quality_grade="").exists(), timeout=120)
    taken = re.findall(r"Task (annotations\.tasks\.\w+)\[", worker.log)
    assert taken[0] == "annotations.tasks.imports_run", taken
    assert taken.count("annotations.tasks.exams_quality") >= 4, taken
