"""The Celery app: a real Redis broker in tests and production, in-process tasks on a laptop."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from ecgreview import celery_app

ROOT = Path(__file__).resolve().parents[2]


@celery_app.task(name="tests.ping_database")
def ping_database(user_id: int) -> None:
    """A task for the harness test only: proves the worker reached the test database."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk=user_id).update(first_name="seen by worker")


def test_the_app_reaches_its_redis_broker():
    assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        assert connection.connected
        # Producers write to the broker itself: the in-memory transport is only the embedded default's.
        assert connection.transport_cls == "redis"


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies():
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1
    assert celery_app.conf.broker_transport_options["visibility_timeout"] >= 3600


def test_without_a_broker_a_task_runs_in_process(tmp_path):
    script = (
        "import json, django; django.setup(); from ecgreview import celery_app as app\n"
        "@app.task\ndef double(x): return 2 * x\n"
        "print(json.dumps({'eager': app.conf.task_always_eager, 'result': double.delay(21).get()}))"
    )
    environ = {
        "PATH": os.environ["PATH"],
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"eager": True, "result": 42}


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_runs_a_queued_task_against_the_test_database(django_user_model):
    """The e2e harness itself: a task queued here is consumed by a worker process on the same database."""
    from tests.workers import celery_worker, wait_for

    user = django_user_model.objects.create(username="task-target")
    with celery_worker(include=__name__):
        ping_database.delay(user.pk)
        wait_for(lambda: django_user_model.objects.filter(pk=user.pk, first_name="seen by worker").exists())
