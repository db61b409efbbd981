"""The Celery application.

Without a broker configured (no REDIS_URL / CELERY_BROKER_URL) settings switch Celery to eager mode, so
tasks run in-process and a laptop needs no Redis. With a broker, tasks are acknowledged late and are
idempotent, so a worker killed mid-task only causes a harmless re-run.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgreview.settings")

app = Celery("ecgreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
