"""Real HTTP against a real gunicorn on loopback, shared by bench/load_reads.py and the slow tests.

- `gunicorn(...)`: starts gunicorn (bench._bare_wsgi: the product plus two reference views) bound to
  127.0.0.1 on a free port, waits until it answers, and always stops it.
- `reader_session(user)`: a logged-in session row and a CSRF secret, as the login page would leave
  them, without paying a password hash per simulated client.
- `HttpClient`: one client's connection (http.client: a few tens of microseconds per request, so the
  client threads do not eat the CPU the server is measured on).
- `submit_reads` / `hit_bare`: the client loops, bounded by a deadline and a count; `run_clients`
  starts them together and gathers what each saw.

Django must already be set up in the calling process (bench/_django.py or pytest-django).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE_PATH = "/_bench/bare/"
MINIMAL_WRITE_PATH = "/_bench/minimal-write/"  # bench._bare_wsgi: the least an authenticated write costs
MINIMAL_WRITE_TABLE = "bench_minimal_write"
READ = {"labels": [{"code": "NORM", "uncertain": False}], "time_on_task_ms": 1000, "revision": 0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    log: Path
    pid: int  # gunicorn's master: the workers are its children (bench/_cpu.py counts them with it)

    def log_tail(self, characters: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-characters:]


@contextmanager
def gunicorn(
    *,
    database_url: str,
    redis_url: str,
    var_dir: str,
    secret_key: str,
    workers: int = 4,
    worker_class: str = "sync",
    threads: int = 1,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[Server]:
    """gunicorn on 127.0.0.1 only, DEBUG off, against the given database and Redis database."""
    port = free_port()
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "VAR_DIR": var_dir,
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",  # JSON only: no collectstatic needed
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "bench._bare_wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", worker_class]
    command += ["--threads", str(threads), "--timeout", "60", "--graceful-timeout", "10"]
    command += ["--backlog", "512", "--log-level", "warning"]
    log = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=output, stderr=subprocess.STDOUT)
    server = Server(port=port, log=log, pid=process.pid)
    try:
        _wait_until_answering(server, process, ready_timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.unlink(missing_ok=True)  # read (log_tail) inside the with block, while the server runs


def _wait_until_answering(server: Server, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log_tail()}")
        try:
            status, _, _ = HttpClient(server.port, timeout=2).request("GET", BARE_PATH)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{server.log_tail()}")


@dataclass(frozen=True)
class Credentials:
    cookie: str  # the Cookie header: session and CSRF cookies
    csrf: str  # the X-CSRFToken header


def reader_session(user) -> Credentials:
    """What a successful login leaves in the database and the browser, for one user."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import get_random_string

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    # Django compares the header with the cookie's secret; a client may pick the secret itself.
    csrf = get_random_string(32)
    return Credentials(
        cookie=f"{settings.SESSION_COOKIE_NAME}={session.session_key}; {settings.CSRF_COOKIE_NAME}={csrf}",
        csrf=csrf,
    )


class HttpClient:
    """One client's connection; reopened transparently when the server closes it (sync workers do)."""

    def __init__(self, port: int, credentials: Credentials | None = None, timeout: float = 60.0):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {"Host": "127.0.0.1", "Accept": "application/json"}
        if credentials is not None:
            self.headers |= {"Cookie": credentials.cookie, "X-CSRFToken": credentials.csrf}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte of the answer)."""
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # the next request opens a fresh connection
            raise
        elapsed = time.perf_counter() - started
        if response.will_close:
            self.connection.close()
        return response.status, data, elapsed

    def json(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        status, data, elapsed = self.request(method, path, body)
        try:
            return status, json.loads(data or b"{}"), elapsed
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}, elapsed


@dataclass
class ClientLog:
    """What one client saw: every answer's status and latency, and the reads the server acknowledged."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    acknowledged: list = field(default_factory=list)  # what the server named each stored read by
    errors: list[str] = field(default_factory=list)


def submit_reads(client: HttpClient, batch_id: int, deadline: float, limit: int, log: ClientLog) -> None:
    """A reader submitting one exam after another ("submit and next") until the deadline or the limit."""
    status, answer, _ = client.json("GET", f"/api/v1/reading/next/?batch={batch_id}")
    following = answer.get("next_assignment_id") if status == 200 else None
    while following is not None and time.monotonic() < deadline and len(log.acknowledged) < limit:
        status, answer, elapsed = client.json(
            "POST", f"/api/v1/reading/assignments/{following}/submit/", READ
        )
        log.latencies.append(elapsed)
        log.statuses[status] += 1
        if status == 200:
            log.acknowledged.append(following)
            following = answer.get("next_assignment_id")
        else:
            log.errors.append(f"{status} on {following}: {answer}")
            status, answer, _ = client.json("GET", f"/api/v1/reading/next/?batch={batch_id}")
            following = answer.get("next_assignment_id") if status == 200 else None


def minimal_writes(client: HttpClient, deadline: float, limit: int, log: ClientLog) -> None:
    """The reference write: one authenticated ORM upsert per request, as fast as the server answers."""
    while time.monotonic() < deadline and len(log.latencies) < limit:
        status, answer, elapsed = client.json("POST", MINIMAL_WRITE_PATH, READ)
        log.latencies.append(elapsed)
        log.statuses[status] += 1
        if status != 200:
            log.errors.append(f"{status} on the minimal write: {answer}")


def hit_bare(client: HttpClient, deadline: float, limit: int, log: ClientLog) -> None:
    """The floor: the bare view, as fast as the server answers."""
    count = 0
    while time.monotonic() < deadline and count < limit:
        status, _, elapsed = client.request("GET", BARE_PATH)
        log.latencies.append(elapsed)
        log.statuses[status] += 1
        count += 1


@dataclass(frozen=True)
class LoadResult:
    seconds: float
    logs: list[ClientLog]
    # CPU seconds each side spent meanwhile (bench/_cpu.py's groups), when the phase was metered.
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return sum(len(log.latencies) for log in self.logs)

    @property
    def ok(self) -> int:
        return sum(log.statuses[200] for log in self.logs)

    @property
    def statuses(self) -> Counter:
        return sum((log.statuses for log in self.logs), Counter())

    @property
    def acknowledged(self) -> list:
        return [pk for log in self.logs for pk in log.acknowledged]

    @property
    def errors(self) -> list[str]:
        return [error for log in self.logs for error in log.errors]

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(latency for log in self.logs for latency in log.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def cpu_ms_per_request(self, group: str) -> float:
        """Milliseconds of CPU that `group` spent per request answered 200 (NaN when not metered)."""
        return self.cpu[group] * 1000 / self.ok if group in self.cpu and self.ok else float("nan")


def run_clients(jobs: list[Callable[[ClientLog], None]]) -> LoadResult:
    """Start every client at once (one thread each) and wait for all; a client's crash is recorded."""
    logs = [ClientLog() for _ in jobs]
    start = threading.Barrier(len(jobs) + 1)

    def run(job: Callable[[ClientLog], None], log: ClientLog) -> None:
        start.wait()
        try:
            job(log)
        except Exception as error:  # reported with the figures, never swallowed
            log.errors.append(f"client crashed: {error!r}")

    threads = [
        threading.Thread(target=run, args=(job, log), daemon=True)
        for job, log in zip(jobs, logs, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return LoadResult(seconds=time.monotonic() - began, logs=logs)


def reading_batch(
    *, name: str, taxonomy, coordinator, readers: list, reads_each: int, readers_per_exam: int = 2
):
    """An active batch in which every reader has `reads_each` exams to read (blob-less exam rows, inserted
    by SQL: the reading endpoints never open a waveform), created through the real batch service."""
    from django.db import connection

    from annotations.models import Dataset, Exam
    from annotations.services.batches.lifecycle import batch_create

    dataset, _ = Dataset.objects.get_or_create(name=f"load {name}")
    wanted = len(readers) * reads_each // readers_per_exam
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO annotations_exam (dataset_id, external_id, patient_pseudo_id, sex,
                   sampling_rate, n_samples, lead_names, gain_uv, waveform_key, waveform_sha256,
                   source_format, source_sha256, source_record, identifiers, imported_at,
                   quality_grade, quality_flags, quality_report)
               SELECT %s, 'load-' || g, '', 'U', 500, 5000, '[]', 1, 'none', md5(g::text), 'bench', '',
                      '', '{}', now(), '', '', '{}'
               FROM generate_series(1, %s) AS g""",
            [dataset.pk, wanted],
        )
    exams = list(Exam.objects.filter(dataset=dataset).only("pk"))
    return batch_create(
        name=name,
        taxonomy=taxonomy,
        exams=exams,
        readers=readers,
        readers_per_exam=readers_per_exam,
        actor=coordinator,
        seed=7,
    )
