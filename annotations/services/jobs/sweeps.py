"""The sweeps that finish what an outage left: messages a dead worker had taken, jobs whose message was
lost, work whose worker stopped beating (jobs_sweep_run, on beat), and on the embedded default the jobs
the web process's own thread was running when it stopped (jobs_resume, before it starts again). What they
queue leaves through services.jobs.dispatch like any other work."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from annotations.models import Benchmark, ImportJob, Release
from annotations.selectors.jobs import queued_key as _marker
from annotations.selectors.releases.builds import release_shards_due
from annotations.services.audit import audit_record
from annotations.services.benchmarks.create import benchmarks_preparing_requeue
from annotations.services.benchmarks.submissions import submissions_waiting_requeue
from annotations.services.imports.jobs import import_jobs_stalled_requeue
from annotations.services.jobs.dispatch import (
    IMPORT_TASK,
    RELEASE_BUILD_TASK,
    jobs_waiting,
    task_beat,
    task_beating,
    task_enqueue,
)
from annotations.services.releases.builds import releases_stalled_requeue

if TYPE_CHECKING:
    from annotations.models import BenchmarkSubmission

    # The rows whose work a task does, each with a status and its own task.
    _JobModel = type[ImportJob] | type[Release] | type[Benchmark] | type[BenchmarkSubmission]
    _RunModel = type[ImportJob] | type[Release]  # those that record when their run began

logger = logging.getLogger(__name__)


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
    models: dict[str, _RunModel] = {IMPORT_TASK: ImportJob, RELEASE_BUILD_TASK: Release}
    model = models.get(message.task)
    return model.objects.filter(pk=message.args[0]).first() if model else None


def jobs_sweep_run() -> dict[str, int]:
    """Give back the messages dead workers had taken before starting them; queue again the import jobs and
    releases still queued whose message was lost, and the work whose worker stopped beating (beat, every
    JOBS_SWEEP_SECONDS). Returns how many of each were given back or queued."""
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
            waiting = jobs_waiting(model, task, now)
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
