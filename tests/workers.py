"""A real Celery worker process for end-to-end tests: same code, the test database, the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(
    queues: str = "default,models", timeout: float = 60.0, include: str | None = None, purge: bool = True
):
    """Start `celery worker` against the test database; yield once it is ready; stop it after.

    Tests using it need committed data (django_db(transaction=True)): the worker is another process.
    purge=False keeps what the queues hold (a test's own messages, queued before the worker starts).
    """
    from ecgreview import celery_app

    if purge:
        celery_app.control.purge()  # nothing left over from earlier tests of this process
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "VAR_DIR": os.environ["VAR_DIR"],
        "WAVEFORM_STORAGE_URL": Path(settings.STORAGES["waveforms"]["OPTIONS"]["location"]).as_uri(),
        "RELEASE_STORAGE_DIR": str(settings.RELEASE_STORAGE_DIR),
        "DEBUG": "0",
    }
    command = [sys.executable, "-m", "celery", "-A", "ecgreview", "worker", "--pool", "solo"]
    command += [
        "--queues",
        queues,
        "--hostname",
        name,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if include:
        command += ["--include", include]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        _wait_until_ready(lines, process, timeout)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(timeout=5)
        process.log = "".join(lines)


def _wait_until_ready(lines: list[str], process, timeout: float) -> None:
    """The worker logs "ready." once it consumes; a ping could be answered before tasks are loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(" ready." in line for line in list(lines)):
            return
        if process.poll() is not None:
            raise RuntimeError("celery worker exited early:\n" + "".join(lines))
        time.sleep(0.1)
    raise RuntimeError("celery worker was not ready in time:\n" + "".join(lines))


def wait_for(condition, timeout: float = 60.0, interval: float = 0.2):
    """Poll until condition() is truthy (work done by another process); fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def broker_taken() -> dict[str, float]:
    """The messages workers have taken and not acknowledged: delivery tag -> when it was taken (epoch s)."""
    from ecgreview import celery_app

    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        return dict(channel.client.zrange(channel.unacked_index_key, 0, -1, withscores=True))


def broker_taken_age(seconds: float) -> None:
    """Make every taken message read as taken `seconds` earlier than it was: the time that passes."""
    from ecgreview import celery_app

    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        for tag, score in broker_taken().items():
            channel.client.zadd(channel.unacked_index_key, {tag: score - seconds})


def broker_forget_taken() -> None:
    """Drop what dead workers of a test left taken, so that no later test's sweep finds it."""
    from ecgreview import celery_app

    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.client.delete(channel.unacked_index_key, channel.unacked_key)
