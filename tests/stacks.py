"""The product started for real, the two ways it is run, for end-to-end walks.

- "embedded": what `make run` configures. No DATABASE_URL and no REDIS_URL (SQLite under VAR_DIR, Celery
  tasks in-process), `migrate`, `load_taxonomy --shipped`, `seed_demo`, then `runserver`: each a
  subprocess with a clean environment, so nothing of the test process's PostgreSQL or Redis leaks in.
- "postgres": a fresh PostgreSQL database, this process's Redis database as broker and cache, a real
  Celery worker and gunicorn with DEBUG off, after the same commands plus `collectstatic`.

A test takes the `stack` fixture (tests/conftest.py), parametrised over both, and inspects the database
with `stack.query` (plain SQL), never through Django.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench._load import free_port
from tests.browser import screenshot_path

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {  # seed_demo's public demo accounts, as `make run` prints them
    "ana": "ana-reads-ecgs",
    "bruno": "bruno-reads-ecgs",
    "carla": "carla-adjudicates",
    "diego": "diego-coordinates",
}
SECRET_KEY = "whole-job-walk-" + "k" * 50


@dataclass
class Stack:
    """A running product: its base URL, its VAR_DIR, and read-only SQL on its database."""

    name: str
    url: str
    var_dir: Path
    query: Callable[..., list[tuple]]
    logs: list[Path]

    def log_tail(self, characters: int = 3000) -> str:
        return "\n".join(
            f"== {log.name}\n{log.read_text(errors='replace')[-characters:]}" for log in self.logs
        )


def manage(environ: dict[str, str], *args: str, timeout: float = 300) -> str:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    print(f"manage.py {args[0]}: {time.monotonic() - started:.1f} s", file=sys.stderr)
    return result.stdout


@contextmanager
def process(command: list[str], environ: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as output:
        started = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield started
    finally:
        started.terminate()
        try:
            started.wait(timeout=20)
        except subprocess.TimeoutExpired:
            started.kill()
            started.wait(timeout=10)


def wait_answering(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def wait_worker_ready(worker: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " ready." in log.read_text(errors="replace"):
            return
        if worker.poll() is not None:
            raise RuntimeError(f"the celery worker exited early:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"the celery worker was not ready in time:\n{log.read_text()[-4000:]}")


def base_environ(var_dir: Path) -> dict[str, str]:
    """A clean environment: none of this test process's settings (DATABASE_URL, REDIS_URL, ...)."""
    environ = {"PATH": os.environ["PATH"], "VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    # The webhook walks' receiver listens on this machine's loopback, which production refuses.
    environ["WEBHOOK_ALLOW_LOOPBACK"] = "1"
    for name in ("HOME", "LANG", "TMPDIR"):
        if name in os.environ:
            environ[name] = os.environ[name]
    return environ


# The seeded VAR_DIR of `make run`'s set-up steps, by the test's own settings: the first walk of a
# process runs the commands, later ones start from a copy of what they left (12 of a walk's 20 s).
_SEEDED: dict[tuple[tuple[str, str], ...], Path] = {}


def set_up_embedded(var_dir: Path, environ: dict[str, str], extra: dict[str, str]) -> None:
    key = tuple(sorted(extra.items()))
    if key in _SEEDED:
        shutil.copytree(_SEEDED[key], var_dir, dirs_exist_ok=True)
        return
    manage(environ, "migrate", "--no-input")
    manage(environ, "load_taxonomy", "--shipped")
    assert "Log in as" in manage(environ, "seed_demo")
    snapshot = Path(tempfile.mkdtemp(prefix="walk-seeded-"))
    shutil.copytree(var_dir, snapshot, dirs_exist_ok=True)
    _SEEDED[key] = snapshot


@contextmanager
def embedded_stack(var_dir: Path, extra: dict[str, str] | None = None) -> Iterator[Stack]:
    """`make run`: DEBUG=1, no DATABASE_URL, no REDIS_URL; the steps of its recipe, then runserver.
    `extra`: settings of the test's own (the stack_environ fixture)."""
    environ = base_environ(var_dir) | {"DEBUG": "1"} | (extra or {})
    set_up_embedded(var_dir, environ, extra or {})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = var_dir / "runserver.log"
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with process(command, environ, log) as server:
        wait_answering(url, server, log)

        def query(sql: str, *params) -> list[tuple]:
            with sqlite3.connect(var_dir / "db.sqlite3", timeout=30) as database:
                return database.execute(sql.replace("%s", "?"), params).fetchall()

        yield Stack("embedded", url, var_dir, query, [log])


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database beside the test database; dropped afterwards."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"]
    name = f"walk_{uuid.uuid4().hex[:10]}"
    admin = f"host={host} port={port} user={user} dbname=postgres"
    if db.get("PASSWORD"):
        admin += f" password={db['PASSWORD']}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_stack(var_dir: Path, extra: dict[str, str] | None = None) -> Iterator[Stack]:
    """PostgreSQL, Redis, a Celery worker and gunicorn with DEBUG off, as a deployment runs it."""
    import psycopg
    from django.conf import settings

    from ecgreview import celery_app

    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres_database())
        celery_app.control.purge()  # this process's Redis database: nothing left from earlier tests
        environ = base_environ(var_dir) | {
            "DEBUG": "0",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url,
            "REDIS_URL": settings.REDIS_URL,
            # Plain HTTP on loopback: no TLS-terminating proxy in front of this server.
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "AGREEMENT_RECOMPUTE_DELAY_S": "1",
            "LOG_LEVEL": "WARNING",
        }
        environ |= extra or {}
        manage(environ, "migrate", "--no-input")
        # The worker starts while the demo is seeded (it takes the demo's suggestion tasks meanwhile);
        # gunicorn only once collectstatic is done, since WhiteNoise lists the static files at start-up.
        worker_log, server_log = var_dir / "celery.log", var_dir / "gunicorn.log"
        celery = [sys.executable, "-m", "celery", "-A", "ecgreview", "worker", "--pool", "solo"]
        celery += ["--queues", "default,models", "--hostname", f"walk-{uuid.uuid4().hex[:8]}@%h"]
        celery += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
        worker = stack.enter_context(process(celery, environ, worker_log))
        manage(environ, "load_taxonomy", "--shipped")
        assert "Log in as" in manage(environ, "seed_demo", "--allow-without-debug")
        manage(environ, "collectstatic", "--no-input")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        gunicorn = [sys.executable, "-m", "gunicorn", "ecgreview.wsgi:application"]
        gunicorn += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread"]
        gunicorn += ["--threads", "4", "--timeout", "120"]
        server = stack.enter_context(process(gunicorn, environ, server_log))
        started = time.monotonic()
        wait_worker_ready(worker, worker_log)
        wait_answering(url, server, server_log)
        print(f"worker and gunicorn ready: {time.monotonic() - started:.1f} s", file=sys.stderr)

        def query(sql: str, *params) -> list[tuple]:
            with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as connection:
                return connection.execute(sql, params).fetchall()

        yield Stack("postgres", url, var_dir, query, [server_log, worker_log])


# --- The walk ------------------------------------------------------------------------------------------
def eventually(condition: Callable[[], object], timeout: float = 60, interval: float = 0.3, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


class Walk:
    """One browser context per person, as if each sat at their own computer."""

    def __init__(self, browser, stack: Stack, downloads: Path):
        self.browser, self.stack, self.downloads = browser, stack, downloads
        self.contexts: list = []
        self.errors: list[str] = []
        self.pages: dict[str, object] = {}

    def browser_for(self, username: str):
        """A new browser (its own context) for the person, its page's script errors collected."""
        context = self.browser.new_context(
            viewport={"width": 1400, "height": 900}, locale="en-US", accept_downloads=True
        )
        self.contexts.append(context)
        page = context.new_page()
        self.pages[username] = page
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: self.errors.append(f"{username}: {error}"))
        return page

    def sign_in(self, page, username: str, password: str) -> None:
        """Fill in and send the login form; where it lands is the caller's to wait for."""
        page.goto(f"{self.stack.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")

    def log_in(self, username: str):
        """The person's browser, logged in on the login page the first time."""
        if username in self.pages:
            return self.pages[username]
        page = self.browser_for(username)
        self.sign_in(page, username, PASSWORDS[username])
        page.wait_for_url(f"{self.stack.url}/")
        return page

    def read_queue(self, reader: str, batch: str, call: Callable[[str], str], on_exam=None) -> list[str]:
        """`reader` opens `batch` from their worklist and reads their queue to its end: on each exam, once
        drawn, the statement `call` picks from the exam's header, submitted with the keyboard as a reader
        does. `on_exam(page, headers)` looks first, given the headers so far. The headers read, in order."""
        page = self.log_in(reader)
        page.locator("#worklist tr", has_text=batch).locator("a.continue").click()
        headers: list[str] = []
        while "/read/" in page.url:
            ref = page.url.rstrip("/").rsplit("/", 1)[1]
            page.wait_for_selector(f"#ecg[data-drawn='{ref}']")
            page.wait_for_function("() => document.getElementById('exam-context').textContent !== ''")
            headers.append(page.inner_text("#exam-context"))
            if on_exam:
                on_exam(page, headers)
            page.keyboard.press("/")
            page.keyboard.type(call(headers[-1]))
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            before = page.url
            with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
                page.click("#submit")
            assert submitted.value.status == 200, submitted.value.text()
            page.wait_for_function("before => location.href !== before", arg=before)
            page.wait_for_load_state()
            assert len(headers) < 50, "the queue does not end"
        return headers

    def design_batch(self, name: str, dataset: str, readers, mode: str = "hidden"):
        """diego designs a batch of `dataset` for `readers` (k = 2) on the designer page, previews it and
        creates it: the page, on its preview, for the caller to check and show."""
        page = self.log_in("diego")
        page.goto(f"{self.stack.url}/batches/new/")
        page.fill("#id_name", name)
        tnmg = page.locator("#id_taxonomy option", has_text="(tnmg ").get_attribute("value")
        page.select_option("#id_taxonomy", tnmg)
        page.select_option("#id_suggestion_mode", mode)
        for reader in readers:
            page.locator("#id_readers label", has_text=reader).locator("input").check()
        page.fill("#id_readers_per_exam", "2")
        page.locator("#id_datasets label", has_text=dataset).locator("input").check()
        page.click("button[value=preview]")
        page.wait_for_selector("#design-preview")
        preview = page.inner_text("#design-preview")
        page.click("button[value=create]")
        page.wait_for_url(f"{self.stack.url}/batches/*/")
        return preview

    def shot(self, page, step: str) -> None:
        page.screenshot(path=str(screenshot_path(f"whole-job-{self.stack.name}-{step}")), full_page=True)

    def shoot_all(self, step: str) -> None:
        for username, page in self.pages.items():
            try:
                self.shot(page, f"{step}-{username}")
            except Exception as error:  # a closed page: nothing to show
                print(f"no screenshot of {username}'s page: {error}", file=sys.stderr)

    def close(self) -> None:
        for context in self.contexts:
            context.close()
