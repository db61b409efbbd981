"""The one way work leaves for the Celery workers: guarded, after commit, and swept up after an outage.

A request that wrote a job row (an import, a release) must answer even when the broker is down: the row
is committed, and losing the request because the message could not be sent would be worse than sending it
late. So every enqueue goes through `task_enqueue`, which never raises: a failure is logged, and the
periodic sweeps (services.jobs.sweeps.jobs_sweep_run for imports, releases and benchmarks;
suggestions_sweep_run and agreement_sweep for the others) queue what is still waiting once the broker is
back.

A successful enqueue leaves a marker in the cache (kept as long as a message may wait unacknowledged,
CELERY_VISIBILITY_TIMEOUT). The sweep re-queues a waiting job only when its marker is gone: its enqueue
failed, or Redis lost its data, and with it the message. A message merely waiting behind others is left
alone, so a busy queue does not get a second copy of every job.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from kombu.exceptions import OperationalError

from annotations.selectors.jobs import alive_key as _alive
from annotations.selectors.jobs import queued_key as _marker
from annotations.selectors.jobs import task_beating as task_beating  # the services' name for it
from annotations.selectors.jobs import took_key as _took_key
from annotations.selectors.jobs import worker_last_took as worker_last_took  # the services' name
from ecgreview.inprocess import background
from ecgreview.redis_breaker import redis_answering, redis_failed

if TYPE_CHECKING:
    from celery import Task

    from annotations.models import Benchmark, BenchmarkSubmission, ImportJob, Release

    # The rows whose work a task does, each with a status and its own task.
    _JobModel = type[ImportJob] | type[Release] | type[Benchmark] | type[BenchmarkSubmission]
    _RunModel = type[ImportJob] | type[Release]  # those that record when their run began

logger = logging.getLogger(__name__)


def _task(name: str) -> Task[Any, Any]:
    """The registered task called `name`. Services name tasks rather than import them, so the task layer
    may call services without a cycle; importing the task package here registers them in a web process,
    where no worker's autodiscovery ran."""
    import_module("annotations.tasks")
    return current_app.tasks[name]


# Without a broker, eager Celery would run these inside the request that queued them: the coordinator's
# upload or release request would hold the page for as long as the import or the build takes, and the
# job's page would only ever show it finished. The web process's background thread runs them after the
# response instead, one at a time, as a worker would (ecgreview/inprocess.py); their pages poll it.
AFTER_THE_RESPONSE = frozenset(
    {
        "annotations.tasks.benchmarks_prepare",
        "annotations.tasks.imports_run",
        "annotations.tasks.releases_build",
        "annotations.tasks.releases_shard_build",
        "annotations.tasks.releases_shards_finish",
        "annotations.tasks.suggestions_batch",
        # A receiver may take WEBHOOK_TIMEOUT_S to answer; a retry waits out its back-off.
        "annotations.tasks.webhooks_deliver",
    }
)


def _in_background(task: Task[Any, Any], args: tuple[Any, ...], countdown: float | None) -> bool:
    background.submit((task.name, *args), lambda: task.apply(args), delay=countdown or 0.0)
    return True


# The priority of catch-up work (the sweeps' messages): Redis hands out a queue's priority 0, every
# message's default, before 3, 6 and 9 (kombu's priority steps), so a sweep's thousands of exams wait
# behind what a coordinator just asked for, instead of the other way round.
CATCH_UP_PRIORITY = 9


def _unreachable(error: Exception) -> bool:
    """The broker did not answer (refused, timed out), as opposed to a message it could not take."""
    return isinstance(error, OperationalError | redis.ConnectionError | redis.TimeoutError | OSError)


def task_enqueue(name: str, *args: Any, countdown: float | None = None, priority: int | None = None) -> bool:
    """Send the task called `name`; never raises. Returns whether the broker took it. Without a broker
    (the embedded default) Celery runs the task in-process: here, or after the response for the long
    ones (AFTER_THE_RESPONSE). `priority`: CATCH_UP_PRIORITY for work nobody is waiting on."""
    task = _task(name)
    if settings.CELERY_TASK_ALWAYS_EAGER and task.name in AFTER_THE_RESPONSE:
        return _in_background(task, args, countdown)
    broker = settings.CELERY_BROKER_URL
    if broker and not redis_answering(broker):
        logger.warning(
            "not queueing %s%r: the broker did not answer a moment ago; the sweep will", task.name, args
        )
        return False
    try:
        # None is Celery's own default for both; celery-types declares them as plain numbers.
        task.apply_async(args, countdown=countdown, retry=False, priority=priority)  # type: ignore[arg-type]
    except Exception as error:  # kombu, redis and socket errors alike: the sweep sends it later
        if broker and _unreachable(error):
            redis_failed(broker)
        logger.exception("could not queue %s%r; the sweep will", task.name, args)
        return False
    if args and not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            cache.set(
                _marker(task.name, *args),
                1,
                timeout=settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"],
            )
        except Exception:  # the cache is optional; without the marker the sweep may send a harmless copy
            logger.warning("could not mark %s%r as queued", task.name, args)
    return True


def tasks_waiting(name: str, ids: list[int]) -> set[int]:
    """Of these ids, those whose task `name` was queued and has not started yet (its marker is there; a
    task clears its own when it starts: task_started). Raises if the cache is unavailable."""
    keys = {pk: _marker(_task(name).name, pk) for pk in ids}
    present = cache.get_many(list(keys.values()))
    return {pk for pk, key in keys.items() if key in present}


def task_started(name: str, *args: object) -> None:
    """The task is in a worker's hands: no longer waiting in the queue. Its marker goes, so that a sweep
    queues it again should that worker die (the broker would only after the visibility timeout); never
    raises."""
    try:
        cache.delete(_marker(_task(name).name, *args))
    except Exception:
        logger.warning("could not clear the queued marker of %s%r", name, args)


# --- Heartbeats ---------------------------------------------------------------------------------------
# Long work (a release build, a shard) beats while it runs: a key living JOBS_STALLED_AFTER_S, renewed at
# most every JOBS_HEARTBEAT_S. A worker killed in the middle stops beating; the broker would deliver its
# message again only after the visibility timeout (hours), so the jobs sweep queues again work that has
# neither a message waiting (marker) nor a beat, and a twin delivery of work still beating is dropped.
def task_beat(name: str, *args: object) -> None:
    """This task, with these arguments, is being worked on right now; never raises."""
    try:
        cache.set(_alive(_task(name).name, *args), 1, timeout=settings.JOBS_STALLED_AFTER_S)
    except Exception:
        logger.warning("could not record the heartbeat of %s%r", name, args)


def task_done(name: str, *args: object) -> None:
    """The task ended (done or failed): no beat left behind; never raises."""
    try:
        cache.delete(_alive(_task(name).name, *args))
    except Exception:
        logger.warning("could not clear the heartbeat of %s%r", name, args)


class Beat:
    """A callable that beats for a task at most every JOBS_HEARTBEAT_S, for a long loop to call often."""

    def __init__(self, name: str, *args: object) -> None:
        self.name, self.args, self.last = name, args, 0.0

    def __call__(self, *_ignored: object) -> None:
        now = time.monotonic()
        if now - self.last >= settings.JOBS_HEARTBEAT_S:
            self.last = now
            task_beat(self.name, *self.args)


def task_enqueue_on_commit(name: str, *args: Any, priority: int | None = None) -> None:
    """Send the task called `name` once the current transaction commits (never for a rolled-back one)."""
    transaction.on_commit(lambda: task_enqueue(name, *args, priority=priority))


def jobs_waiting(model: _JobModel, task_name: str, now: datetime) -> list[int]:
    """Ids of the model's queued rows old enough that their enqueue has had its chance, whose marker is
    gone. Raises if the cache is unavailable (then the broker, usually the same Redis, is too)."""
    old_enough = now - timedelta(seconds=settings.JOBS_REQUEUE_AFTER_S)
    ids = list(
        model.objects.filter(status="queued", created_at__lte=old_enough)
        .order_by("created_at")
        .values_list("pk", flat=True)[: settings.JOBS_SWEEP_LIMIT]
    )
    if not ids:
        return []
    present = cache.get_many([_marker(task_name, pk) for pk in ids])
    return [pk for pk in ids if _marker(task_name, pk) not in present]


# The jobs' own tasks, by the names their modules register (services name tasks, never import them).
IMPORT_TASK = "annotations.tasks.imports_run"
RELEASE_BUILD_TASK = "annotations.tasks.releases_build"


# --- Workers seen at work ------------------------------------------------------------------------------
# A coordinator whose import or release waits must hear when no worker takes work at all (workers stopped,
# or unable to reach the broker) instead of watching "Queued" for ever. Each task a worker starts stamps
# its queue (ecgreview/celery.py); the job pages compare that stamp with how long their job has waited
# (selectors.jobs).
def worker_took_task(queue: str) -> None:
    """A worker started a task from `queue` just now; never raises."""
    try:
        cache.set(_took_key(queue), time.time(), timeout=None)
    except Exception:
        logger.warning("could not record that a worker took a task from %s", queue)
