"""The app behind PgBouncer in transaction mode, as docs/scaling.md tells an operator to run it past about
100 connections: the startup option that turns JIT off, and the reader's prepared statements.

PgBouncer (Debian's package) runs for real in front of the suite's PostgreSQL; the app runs in a fresh
interpreter whose DATABASE_URL points at it, and a reader submits through the HTTP API."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from annotations.models import Assignment
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
# Its own Redis database: the submits queue the agreement's recomputation there, and no worker of
# another test may take those messages.
BROKER = "redis://127.0.0.1:6379/13"

# One reader submits each assignment in turn. Before every submit but the first, a second client holds
# the server connection the app used last inside a transaction, so PgBouncer hands the app's next
# transaction another one: what happens under load, made certain.
SUBMITS = """
import json, sys, django
django.setup()
import psycopg
from django.contrib.auth import get_user_model
from django.test import Client
pooler, reader_id, refs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
client = Client(raise_request_exception=False)
client.force_login(get_user_model().objects.get(pk=reader_id))
other = psycopg.connect(pooler, autocommit=True)
read = {"labels": [{"code": "NORM", "uncertain": False}], "revision": 0}
statuses = []
for index, ref in enumerate(refs):
    path = f"/api/v1/reading/assignments/{ref}/submit/"
    if index == 0:
        statuses.append(client.post(path, read, content_type="application/json").status_code)
        continue
    with other.transaction():
        other.execute("SELECT 1")
        statuses.append(client.post(path, read, content_type="application/json").status_code)
print(json.dumps(statuses))
"""


def _version() -> tuple[int, int]:
    printed = subprocess.run([_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = re.search(r"PgBouncer (\d+)\.(\d+)", printed).groups()
    return int(major), int(minor)


def _binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    assert found, "PgBouncer is not installed: .ci/run installs Debian's pgbouncer"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def pgbouncer(**settings: str | int) -> Iterator[str]:
    """PgBouncer in transaction mode, two server connections per database, in front of the suite's
    PostgreSQL; yields the URL of the test database through it."""
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    directory.chmod(0o755)  # run as root, PgBouncer drops to the postgres user, who must read its files
    port = _free_port()
    server = connection.settings_dict
    user = server["USER"] or "postgres"
    users = directory / "users.txt"
    users.write_text(f'"{user}" ""\n')
    lines = {
        "listen_addr": "127.0.0.1",
        "listen_port": port,
        "unix_socket_dir": "",
        "auth_type": "trust",
        "auth_file": users,
        "pool_mode": "transaction",
        "default_pool_size": 2,
        **settings,
    }
    config = directory / "pgbouncer.ini"
    config.write_text(
        f"[databases]\n* = host={server['HOST'] or '127.0.0.1'} port={server['PORT'] or 5432}\n[pgbouncer]\n"
        + "".join(f"{key} = {value}\n" for key, value in lines.items())
    )
    for written in (users, config):
        written.chmod(0o644)
    command = [_binary(), *(["-u", "postgres"] if os.geteuid() == 0 else []), str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(port, process)
        yield f"postgresql://{user}@127.0.0.1:{port}/{server['NAME']}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"PgBouncer stopped: {process.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("PgBouncer did not listen within 15 s")


def _submits(tmp_path, pooler: str, reader, assignments, **variables: str) -> subprocess.CompletedProcess:
    environ = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "VAR_DIR": str(tmp_path),
        "DEBUG": "1",
        "DATABASE_URL": pooler,
        "ALLOWED_HOSTS": "testserver",
        "SECRET_KEY": settings.SECRET_KEY,  # an assignment's reference is signed with it
        "REDIS_URL": BROKER,
        "CELERY_BROKER_URL": BROKER,
        **variables,
    }
    refs = ",".join(ref(assignment) for assignment in assignments)
    try:
        return subprocess.run(
            [sys.executable, "-c", SUBMITS, pooler, str(reader.pk), refs],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        redis.Redis.from_url(BROKER).flushdb()


def _submitted(assignments) -> list[str]:
    return [Assignment.objects.get(pk=a.pk).status for a in assignments]


def test_behind_pgbouncer_the_jit_option_needs_ignoring_or_turning_off(tmp_path):
    # PgBouncer refuses a startup option it was not told to ignore, and the app sends "-c jit=off".
    probe = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    with pgbouncer() as pooler:
        environ = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "ecgreview.settings"}
        environ |= {"VAR_DIR": str(tmp_path), "DEBUG": "1", "DATABASE_URL": pooler}
        refused = subprocess.run([sys.executable, "-c", probe], env=environ, capture_output=True, text=True)
        assert refused.returncode != 0
        assert "unsupported startup parameter" in refused.stderr
        left_to_the_server = subprocess.run(
            [sys.executable, "-c", probe], env=environ | {"DATABASE_JIT": "1"}, capture_output=True, text=True
        )
        assert left_to_the_server.returncode == 0, left_to_the_server.stderr
    with pgbouncer(ignore_startup_parameters="options") as pooler:
        environ["DATABASE_URL"] = pooler
        ignored = subprocess.run([sys.executable, "-c", probe], env=environ, capture_output=True, text=True)
        assert ignored.returncode == 0, ignored.stderr


def test_behind_pgbouncer_in_transaction_mode_submits_work_as_the_docs_say(tmp_path, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=6)
    mine = queue(batch, ana)
    tracks_prepared = _version() >= (1, 21)
    extra = {"max_prepared_statements": 100} if tracks_prepared else {}
    with pgbouncer(ignore_startup_parameters="options", **extra) as pooler:
        turned_off = _submits(tmp_path, pooler, ana, mine[:3], DATABASE_PREPARED_STATEMENTS="0")
        assert turned_off.returncode == 0, turned_off.stderr
        assert json.loads(turned_off.stdout) == [200, 200, 200]
        assert _submitted(mine[:3]) == ["submitted"] * 3
        prepared = _submits(tmp_path, pooler, ana, mine[3:])
    assert prepared.returncode == 0, prepared.stderr
    statuses = json.loads(prepared.stdout)
    if tracks_prepared:
        assert statuses == [200, 200, 200]
    else:
        # Why the setting exists: an older PgBouncer sends the statement to a server connection that
        # never prepared it (after such an error Django opens a new connection, which may be lucky).
        assert statuses[:2] == [200, 500] and set(statuses) <= {200, 500}
        assert 'prepared statement "_pg3_' in prepared.stderr
    # A failed submit fails whole: nothing of it is kept, and the reader can send it again.
    kept = {200: "submitted", 500: "pending"}
    assert _submitted(mine[3:]) == [kept[status] for status in statuses]
