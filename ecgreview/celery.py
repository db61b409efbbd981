"""The Celery application.

Without a broker configured (no REDIS_URL / CELERY_BROKER_URL) settings switch Celery to eager mode, so
tasks run in-process and a laptop needs no Redis. With a broker, tasks are acknowledged late and are
idempotent, so a worker killed mid-task only causes a harmless re-run.
"""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")

app = Celery("ecgreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _queue_seen_at_work(task=None, **_) -> None:
    """Stamp the queue a worker just took a task from: the job pages tell a coordinator when none has for
    a while (annotations.selectors.jobs). Tasks run in-process (no broker) stamp nothing."""
    request = getattr(task, "request", None)
    queue = ((getattr(request, "delivery_info", None) or {}).get("routing_key")) if request else None
    if not queue or getattr(request, "is_eager", False):
        return
    from annotations.services.jobs.dispatch import worker_took_task

    worker_took_task(queue)
