"""Find the PostgreSQL and Redis servers the tests need, or start throwaway ones.

`make test` must work on a newcomer's machine: it uses DATABASE_URL / REDIS_URL when given, else the
local servers; when nothing answers it starts private servers from the installed binaries (in a
temporary folder, on a free port, removed at exit), and when there are no binaries either it stops
with the exact packages to install instead of a traceback.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

INSTALL_HINT = (
    "install them (Debian/Ubuntu: sudo apt-get install postgresql redis-server) "
    "or point DATABASE_URL and REDIS_URL at running servers"
)


class ServiceUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_reachable(url: str, timeout: float = 3.0) -> bool:
    import psycopg

    parsed = urlparse(url)
    try:
        with psycopg.connect(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password,
            dbname="postgres",
            connect_timeout=max(1, int(timeout)),
        ):
            return True
    except psycopg.OperationalError:
        return False


def redis_reachable(url: str, timeout: float = 3.0) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def _postgres_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else shutil.which(name)


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; run them as the 'postgres' system user then.
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def start_throwaway_postgres() -> tuple[str, callable]:
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise ServiceUnavailable(
            f"no PostgreSQL server answers and no PostgreSQL binaries are installed: {INSTALL_HINT}"
        )
    folder = Path(tempfile.mkdtemp(prefix="ecgreview-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(
        _as_postgres_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres_user([pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(folder / "log"), "start"]),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)

    return f"postgres://postgres@127.0.0.1:{port}/ecgreview", stop


def start_throwaway_redis() -> tuple[str, callable]:
    binary = shutil.which("redis-server")
    if not binary:
        raise ServiceUnavailable(f"no Redis server answers and redis-server is not installed: {INSTALL_HINT}")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not redis_reachable(url, timeout=0.5):
        if time.monotonic() > deadline:
            process.kill()
            raise ServiceUnavailable(f"redis-server on port {port} did not start")
        time.sleep(0.05)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return url, stop


def ensure(environ=os.environ) -> list[str]:
    """Make DATABASE_URL and REDIS_URL point at answering servers; return what was started."""
    started = []
    database_url = environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ecgreview")
    if not postgres_reachable(database_url):
        environ["DATABASE_URL"], stop = start_throwaway_postgres()
        atexit.register(stop)
        started.append(f"PostgreSQL at {environ['DATABASE_URL']}")
    redis_url = environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    if not redis_reachable(redis_url):
        environ["REDIS_URL"], stop = start_throwaway_redis()
        atexit.register(stop)
        started.append(f"Redis at {environ['REDIS_URL']}")
    return started
