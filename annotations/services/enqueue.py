"""The one way work leaves for the Celery workers: guarded, after commit, and swept up after an outage.

A request that wrote a job row (an import, a release) must answer even when the broker is down: the row
is committed, and losing the request because the message could not be sent would be worse than sending it
late. So every enqueue goes through `task_enqueue`, which never raises: a failure is logged, and the
periodic sweeps (`jobs_sweep_run` for imports and releases; suggestions_sweep_run and agreement_sweep for
the others) queue what is still waiting once the broker is back.

A successful enqueue leaves a marker in the cache (kept as long as a message may wait unacknowledged,
CELERY_VISIBILITY_TIMEOUT). The sweep re-queues a waiting job only when its marker is gone: its enqueue
failed, or Redis lost its data, and with it the message. A message merely waiting behind others is left
alone, so a busy queue does not get a second copy of every job.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from annotations.selectors.enqueue import alive_key as _alive
from annotations.selectors.enqueue import queued_key as _marker
from annotations.selectors.enqueue import task_beating as task_beating  # the services' name for it
from annotations.selectors.enqueue import took_key as _took_key
from annotations.selectors.enqueue import worker_last_took as worker_last_took  # the services' name
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
    from ecgreview.inprocess import background

    background.submit((task.name, *args), lambda: task.apply(args), delay=countdown or 0.0)
    return True


# The priority of catch-up work (the sweeps' messages): Redis hands out a queue's priority 0, every
# message's default, before 3, 6 and 9 (kombu's priority steps), so a sweep's thousands of exams wait
# behind what a coordinator just asked for, instead of the other way round.
CATCH_UP_PRIORITY = 9


def _unreachable(error: Exception) -> bool:
    """The broker did not answer (refused, timed out), as opposed to a message it could not take."""
    import redis
    from kombu.exceptions import OperationalError

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


def _waiting(model: _JobModel, task_name: str, now: datetime) -> list[int]:
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


# --- Messages a dead worker had taken ------------------------------------------------------------------
# With late acknowledgement, a message a worker has taken stays in the broker's "unacked" set (kombu's Redis
# transport: a hash of the messages and an index of when each was taken) until its task ends, and a worker
# that dies holding one gives it back only through the visibility timeout (hours). A worker takes one
# message per process (prefetch multiplier 1) and starts it at once, so a message held for
# JOBS_STALLED_AFTER_S past its ETA whose work has not started since was taken by a worker that is gone:
# killed between taking it and starting it. The jobs sweep gives such messages back to their queue through
# kombu's own restore, as the visibility timeout would, and a live worker takes them. Work that beats once
# started (an import, a release build, a shard) has its own rule for a death in the middle: its message is
# given back here only while the work has not begun since it was taken; a shard or the assembly, never
# (a quiet release has every unwritten shard sent again).
SYSTEM_ACTOR = "system:jobs-sweep"
IMPORT_TASK = "annotations.tasks.imports_run"
RELEASE_BUILD_TASK = "annotations.tasks.releases_build"
_LEFT_TO_THE_RELEASE_RULE = frozenset(
    {"annotations.tasks.releases_shard_build", "annotations.tasks.releases_shards_finish"}
)


@dataclass(frozen=True)
class TakenMessage:
    """A message a worker took and has not acknowledged."""

    tag: str
    task: str
    args: tuple[Any, ...]
    held_since: float  # epoch seconds: when it was taken, or its ETA if that came later


@contextmanager
def _broker_channel() -> Iterator[Any]:
    """A channel of the broker's Redis transport, or None on another transport (or none: eager tasks)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    with current_app.connection_for_write() as connection:
        channel = connection.default_channel
        yield channel if hasattr(channel, "unacked_index_key") and hasattr(channel, "qos") else None


def _taken(channel: Any, tag: str, taken_at: float) -> TakenMessage | None:
    """The message under `tag`, or None when it is gone (acknowledged since the index was read), not one
    of ours, or unreadable (another client's entry, an old protocol): such entries are left as they are."""
    raw = channel.client.hget(channel.unacked_key, tag)
    if raw is None:
        return None
    try:
        message = channel.Message(json.loads(raw)[0], channel=channel)
        task = message.headers.get("task", "")
        if not task.startswith("annotations.tasks."):
            return None  # another application's work on the same broker is not ours to judge
        args = tuple(message.decode()[0])
        eta = message.headers.get("eta")
        held_since = max(taken_at, datetime.fromisoformat(eta).timestamp()) if eta else taken_at
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        logger.warning("jobs sweep: the taken message %r cannot be read; left to the broker", tag)
        return None
    return TakenMessage(
        tag=str(tag, "ascii") if isinstance(tag, bytes) else tag, task=task, args=args, held_since=held_since
    )


def _started_since(message: TakenMessage) -> bool | None:
    """Whether the message's work began after the message was taken (a live worker has it, or had it);
    None for work whose dead workers another rule looks after."""
    from annotations.models import ImportJob, Release

    if message.task in _LEFT_TO_THE_RELEASE_RULE:
        return None
    rows: dict[str, _RunModel] = {IMPORT_TASK: ImportJob, RELEASE_BUILD_TASK: Release}
    model = rows.get(message.task)
    if model is None:  # short work that does not beat: held this long, it never began
        return False
    row = model.objects.filter(pk=message.args[0]).values("status", "started_at").first()
    if row is None or row["status"] != "queued":
        return True  # running (its own beat tells), finished, or gone: a twin would be dropped anyway
    started = row["started_at"]
    return started is not None and started.timestamp() >= message.held_since


def taken_messages_give_back(now: datetime) -> int:
    """Give back to their queues the messages dead workers had taken before their work began; returns how
    many. Raises if the broker cannot be read."""
    from annotations.services.audit import audit_record

    cutoff = now.timestamp() - settings.JOBS_STALLED_AFTER_S
    given = 0
    with _broker_channel() as channel:
        if channel is None:
            return 0
        index = channel.client.zrangebyscore(
            channel.unacked_index_key, "-inf", cutoff, start=0, num=settings.JOBS_SWEEP_LIMIT, withscores=True
        )
        for tag, taken_at in index:
            message = _taken(channel, tag, taken_at)
            if message is None or message.held_since > cutoff or _started_since(message) is not False:
                continue
            with transaction.atomic():
                audit_record(
                    actor=None,
                    actor_username=SYSTEM_ACTOR,
                    action="broker.message_given_back",
                    target=_target(message),
                    after={
                        "task": message.task,
                        "args": list(message.args),
                        "taken_at": datetime.fromtimestamp(taken_at, UTC).isoformat(),
                    },
                )
                channel.qos.restore_by_tag(tag)
            given += 1
    if given:
        logger.warning("jobs sweep gave back %s message(s) that dead workers had taken", given)
    return given


def _target(message: TakenMessage) -> ImportJob | Release | None:
    from annotations.models import ImportJob, Release

    models: dict[str, _RunModel] = {IMPORT_TASK: ImportJob, RELEASE_BUILD_TASK: Release}
    model = models.get(message.task)
    return model.objects.filter(pk=message.args[0]).first() if model else None


def jobs_sweep_run() -> dict[str, int]:
    """Give back the messages dead workers had taken before starting them; queue again the import jobs and
    releases still queued whose message was lost, and the work whose worker stopped beating (beat, every
    JOBS_SWEEP_SECONDS). Returns how many of each were given back or queued."""
    from annotations.models import ImportJob, Release

    now = timezone.now()
    queued: dict[str, int] = {}
    try:
        queued["taken by dead workers"] = taken_messages_give_back(now)
    except Exception:
        logger.warning("jobs sweep could not read the messages workers hold", exc_info=True)
    jobs = (
        ("imports", ImportJob, "annotations.tasks.imports_run"),
        ("releases", Release, "annotations.tasks.releases_build"),
    )
    for name, model, task in jobs:
        try:
            waiting = _waiting(model, task, now)
        except Exception:
            logger.warning("jobs sweep skipped: the cache is unavailable")
            return queued
        queued[name] = sum(task_enqueue(task, pk) for pk in waiting)
        if waiting:
            logger.info("jobs sweep queued %s of %s waiting %s", queued[name], len(waiting), name)
    try:
        queued["release shards"] = _release_shards_sweep(now)
    except Exception:
        logger.warning("jobs sweep skipped the release shards: the cache is unavailable")
    from annotations.services.benchmarks.create import benchmarks_preparing_requeue
    from annotations.services.benchmarks.submissions import submissions_waiting_requeue
    from annotations.services.imports.jobs import import_jobs_stalled_requeue
    from annotations.services.releases.builds import releases_stalled_requeue

    stalled = (
        ("benchmark submissions", lambda _now: submissions_waiting_requeue()),
        ("benchmarks preparing", benchmarks_preparing_requeue),
        ("stalled imports", import_jobs_stalled_requeue),
        ("stalled releases", releases_stalled_requeue),
    )
    for name, requeue in stalled:
        try:
            queued[name] = requeue(now)
        except Exception:
            logger.warning("jobs sweep skipped the %s: the cache is unavailable", name)
    return queued


def jobs_resume() -> list[tuple[str, int]]:
    """Queue again every import and release still queued or running, and every benchmark still preparing:
    on the embedded default, where the web process's own thread ran them and nothing delivers their task
    again once that process is gone (killed mid-import, the laptop's power). Called before the web process
    starts (manage.py resume_jobs, which `make run` runs), never while one serves. The tasks are
    idempotent: a file already imported comes back unchanged, a release is built again from its frozen
    snapshot, a benchmark's tracings are written again from its frozen exams. Returns what it
    queued as (kind, id); with a broker it queues nothing, as the workers' redelivery and jobs_sweep_run
    finish such work there."""
    from annotations.models import Benchmark, ImportJob, Release

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    preparing = Benchmark.objects.filter(status=Benchmark.Status.PREPARING).order_by("created_at", "pk")
    left = [
        *(("import", pk, "annotations.tasks.imports_run") for pk in _unfinished(ImportJob)),
        *(("release", pk, "annotations.tasks.releases_build") for pk in _unfinished(Release)),
        *(
            ("benchmark", pk, "annotations.tasks.benchmarks_prepare")
            for pk in preparing.values_list("pk", flat=True)
        ),
    ]
    for _, pk, task in left:
        task_enqueue(task, pk)
    return [(kind, pk) for kind, pk, _ in left]


def _unfinished(model: _JobModel) -> list[int]:
    return list(
        model.objects.filter(status__in=["queued", "running"])
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


def _release_shards_sweep(now: datetime) -> int:
    """Queue again each unwritten shard of a sharded release being built (or its assembly, once every
    shard is written) whose marker is gone: its message was never sent, or was lost with Redis, or was
    taken by a worker that died and the visibility timeout has passed (the broker then delivers it
    again too, and the twin finds the shard written or writes the same bytes)."""
    from annotations.selectors.releases.builds import release_shards_due

    old_enough = now - timedelta(seconds=settings.JOBS_REQUEUE_AFTER_S)
    messages = [
        ("annotations.tasks.releases_shard_build", (release_id, index))
        if index is not None
        else ("annotations.tasks.releases_shards_finish", (release_id,))
        for release_id, index in release_shards_due(old_enough, settings.JOBS_SWEEP_LIMIT)
    ]
    if not messages:
        return 0
    present = cache.get_many([_marker(name, *args) for name, args in messages])
    # A release none of whose work has shown life for JOBS_STALLED_AFTER_S (services.releases.builds.
    # release_activity_mark): its "waiting" markers are not believed, since a message a killed worker
    # had taken but not started still bears one.
    quiet = {args[0] for _, args in messages if not task_beating(RELEASE_BUILD_TASK, args[0])}
    # Neither a message waiting (marker) nor a worker on it (beat): lost with Redis, or with its worker.
    lost = [
        (name, args)
        for name, args in messages
        if (_marker(name, *args) not in present or args[0] in quiet) and not task_beating(name, *args)
    ]
    sent = sum(task_enqueue(name, *args) for name, args in lost)
    for release_id in quiet:  # what was just sent gets its time before it is thought lost again
        task_beat(RELEASE_BUILD_TASK, release_id)
    if lost:
        logger.info("jobs sweep queued %s of %s lost release shard tasks", sent, len(lost))
    return sent


# --- Workers seen at work ------------------------------------------------------------------------------
# A coordinator whose import or release waits must hear when no worker takes work at all (workers stopped,
# or unable to reach the broker) instead of watching "Queued" for ever. Each task a worker starts stamps
# its queue (ecgreview/celery.py); the job pages compare that stamp with how long their job has waited
# (selectors.enqueue).
def worker_took_task(queue: str) -> None:
    """A worker started a task from `queue` just now; never raises."""
    try:
        cache.set(_took_key(queue), time.time(), timeout=None)
    except Exception:
        logger.warning("could not record that a worker took a task from %s", queue)
