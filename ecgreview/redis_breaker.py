"""One process's memory of a Redis server that did not answer, so the next calls skip it for a while.

Every Redis call of a request (a cache key, the broker's publish) waits up to REDIS_SOCKET_TIMEOUT when
the server is frozen. A submit makes two or three of them, so it took 4 s where the docs promise 2: the
first failure now marks that server as out for REDIS_RETRY_AFTER_S, and calls to it until then fail at
once, without touching the network. Everything they would have done is optional by design (the cache
is a hint, the broker's work is queued again by the sweeps), so failing early loses nothing. Servers
are told apart by their URL: one the cache and the broker share is marked out for both.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

from django.conf import settings

_lock = threading.Lock()
_out_until: dict[str, float] = {}


def redis_server(url: str) -> str:
    """The server a redis:// URL names, as `host:port/db`: the name a cache pool and the broker share."""
    parts = urlparse(url)
    database = (parts.path or "/0").lstrip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{database}"


def redis_answering(url: str) -> bool:
    """False while `url` is marked out after a failure; calls to it should not be tried."""
    return time.monotonic() >= _out_until.get(redis_server(url), 0.0)


def redis_failed(url: str) -> None:
    """A call to `url` failed (timeout, refused connection): mark it out for REDIS_RETRY_AFTER_S."""
    with _lock:
        _out_until[redis_server(url)] = time.monotonic() + settings.REDIS_RETRY_AFTER_S


def redis_reset() -> None:
    """Forget every failure (tests that restart a server, a process that forks)."""
    with _lock:
        _out_until.clear()
