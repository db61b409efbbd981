"""A real gunicorn serving the test database on 127.0.0.1, for tests that speak HTTP as clients do.

Tests using it need committed data (django_db(transaction=True)): the server is another process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from bench import _load
from tests.workers import _database_url


@contextmanager
def live_gunicorn(workers: int = 4) -> Iterator[_load.Server]:
    """gunicorn (sync workers, DEBUG off) on this test process's database and Redis database."""
    with _load.gunicorn(
        database_url=_database_url(),
        redis_url=settings.REDIS_URL,
        var_dir=os.environ["VAR_DIR"],
        secret_key=settings.SECRET_KEY,  # the session rows written here must verify there
        workers=workers,
        extra_env={
            "WAVEFORM_STORAGE_URL": Path(settings.STORAGES["waveforms"]["OPTIONS"]["location"]).as_uri()
        },
    ) as server:
        yield server
