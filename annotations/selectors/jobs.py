"""Whether the work a coordinator waits for is being done: what the import and release pages say when no
worker takes their job, or the run in hand stopped reporting. Silent on the embedded default, where the
web process runs the work itself, and silent while a queue is merely busy."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# --- Keys the workers write and the pages read ------------------------------------------------------
# A marker longer than this, or with characters a cache key must not hold (a list of exam ids: "[1, 2,
# 3]"), names its arguments by their digest instead: Django warns on such keys, memcached refuses them.
_MARKER_PLAIN = re.compile(r"[\w.:-]{1,200}")


def queued_key(task_name: str, *args: object) -> str:
    """One per message: the task and its arguments (a release's shards share the release's id)."""
    key = ":".join(["queued", task_name, *map(str, args)])
    if _MARKER_PLAIN.fullmatch(key):
        return key
    digest = hashlib.sha256(repr(args).encode()).hexdigest()
    return f"queued:{task_name}:sha256:{digest}"


def alive_key(task_name: str, *args: object) -> str:
    """The heartbeat of the work a message started (services.jobs.dispatch.task_beat)."""
    return "alive:" + queued_key(task_name, *args)


def task_beating(name: str, *args: object) -> bool:
    """Whether a worker beat for this task within JOBS_STALLED_AFTER_S. False when the cache is down: the
    sweeps that ask skip their round then."""
    try:
        return cache.get(alive_key(name, *args)) is not None
    except Exception:
        return False


def took_key(queue: str) -> str:
    return f"workers:took:{queue}"


def worker_last_took(queue: str) -> float | None:
    """When a worker last started a task from `queue` (epoch seconds), None if none ever did. Raises if the
    cache is unavailable."""
    took: float | None = cache.get(took_key(queue))
    return took


def _patience_s() -> float:
    """How long a queued job may wait before its wait is news: the jobs sweep's own delay before it sends
    a lost job again, and two of its rounds."""
    return settings.JOBS_REQUEUE_AFTER_S + 2 * settings.JOBS_SWEEP_SECONDS


def _minutes(seconds: float) -> str:
    minutes = max(1, int(seconds // 60))
    return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}


def queue_quiet_notice(queue: str, waiting_since: datetime) -> str:
    """The notice for a job queued on `queue` since `waiting_since`, or "" when there is nothing to say."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return ""
    now = time.time()
    waited = now - waiting_since.timestamp()
    if waited < _patience_s():
        return ""
    try:
        last = worker_last_took(queue)
    except Exception:  # the cache is the broker's Redis in every shipped configuration
        return _("The broker (Redis) cannot be reached: no worker can take this job until it is back.")
    if last is not None and now - last < _patience_s():
        return ""  # workers take work from this queue: the job waits its turn
    parts = {"queue": queue, "waited": _minutes(waited)}
    if last is None:
        return (
            _(
                "No worker has taken work from the queue “%(queue)s” since this server's cache was last "
                "emptied, and this job has waited %(waited)s: the Celery workers are stopped or cannot reach "
                "the broker. It starts as soon as a worker takes it."
            )
            % parts
        )
    since = date_format(timezone.localtime(datetime.fromtimestamp(last, tz=UTC)), "SHORT_DATETIME_FORMAT")
    return _(
        "No worker has taken work from the queue “%(queue)s” since %(since)s, and this job has waited "
        "%(waited)s: the Celery workers are stopped, cannot reach the broker, or are all busy with long "
        "work. It starts as soon as a worker takes it."
    ) % {**parts, "since": since}


def run_stopped_notice(started_at: datetime | None, beating: Callable[[], bool]) -> str:
    """The notice for a run whose worker no longer beats (its beat lives JOBS_STALLED_AFTER_S), or ""."""
    if settings.CELERY_TASK_ALWAYS_EAGER or started_at is None:
        return ""
    running_for = time.time() - started_at.timestamp()
    if running_for < max(60, 2 * settings.JOBS_HEARTBEAT_S) or beating():
        return ""
    return _(
        "This run stopped reporting progress over %(silent)s ago: its worker may have stopped. The jobs "
        "sweep runs it again from where it stopped once a worker and the scheduler (celery beat) are running."
    ) % {"silent": _minutes(min(running_for, settings.JOBS_STALLED_AFTER_S))}
