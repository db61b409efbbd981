"""The broker misbehaving: with Redis stopped or frozen, reads are still saved; once it is back, the
agreement and suggestion work they left pending is done by the workers' sweeps within two minutes.

Everything runs for real: a test-owned redis-server on its own port (stopped with SIGTERM, frozen
with SIGSTOP), the app server and a Celery worker with embedded beat as separate processes on the
test database, and the readers and coordinator talking HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from annotations.models import (
    AgreementResult,
    Annotation,
    Assignment,
    BatchExam,
    ImportJob,
    Release,
    Suggestion,
)
from tests import services
from tests.factories import PASSWORD, DatasetFactory, UserFactory, make_exam
from tests.reading.helpers import ref
from tests.workers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


class RedisServer:
    """A redis-server this test owns, on a fixed port so a restart comes back at the same address."""

    def __init__(self) -> None:
        self.port = services._free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: services.redis_reachable(self.url, timeout=0.5), timeout=20)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)


def _environment(redis: RedisServer) -> dict[str, str]:
    from tests.workers import _database_url

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis.url,
        "WAVEFORM_STORAGE_URL": Path(settings.STORAGES["waveforms"]["OPTIONS"]["location"]).as_uri(),
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "AGREEMENT_RECOMPUTE_DELAY_S": "1",
        "AGREEMENT_SWEEP_SECONDS": "15",
        "SUGGESTION_SWEEP_MINUTES": "1",
        "JOBS_SWEEP_SECONDS": "15",
        "JOBS_REQUEUE_AFTER_S": "5",
        "IMPORT_ROOT": str(settings.IMPORT_ROOT),
        "REDIS_SOCKET_TIMEOUT": "1",
        # Plain HTTP on loopback: cookies must not be HTTPS-only here.
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
    }


@pytest.fixture
def stack(tmp_path):
    """Redis, the web app and a worker with beat, all started here and stopped after the test."""
    redis = RedisServer()
    redis.start()
    port = services._free_port()
    environ = _environment(redis)
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ecgreview",
            "worker",
            "-B",
            "--pool",
            "solo",
            "--queues",
            "default,models",
            "--loglevel",
            "INFO",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT,
        env=environ,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(base), timeout=60)
    try:
        yield redis, base
    finally:
        redis.thaw() if redis.process and redis.process.poll() is None else None
        for process in (worker, web):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if redis.process and redis.process.poll() is None:
            redis.stop()


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/accounts/login/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def session_for(base: str, username: str) -> requests.Session:
    client = requests.Session()
    client.get(f"{base}/accounts/login/", timeout=15)
    token = client.cookies["csrftoken"]
    response = client.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=15,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:300]
    client.headers.update({"X-CSRFToken": client.cookies["csrftoken"], "Referer": base})
    return client


def submit(client: requests.Session, base: str, assignment: Assignment, code: str) -> float:
    started = time.monotonic()
    response = client.post(
        f"{base}/api/v1/reading/assignments/{ref(assignment)}/submit/",
        json={"labels": [{"code": code}], "revision": 0},
        timeout=15,
    )
    assert response.status_code == 200, response.text[:300]
    return time.monotonic() - started


def production_passwords(*users) -> None:
    """The server runs the production hashers, not the tests' fast one."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    for user in users:
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])


def test_reads_are_saved_while_redis_is_stopped_or_frozen_and_the_pending_work_is_done_after(
    stack, ana, bruno, diego, tnmg
):
    redis, base = stack
    production_passwords(ana, bruno, diego)
    dataset = DatasetFactory(name="faults")
    exams = [make_exam(dataset, f"fault-{i}", seed=i, heart_rate=55 + 15 * i) for i in range(4)]
    coordinator = session_for(base, "diego")
    readers = {"ana": session_for(base, "ana"), "bruno": session_for(base, "bruno")}

    redis.stop()
    # A coordinator starts a batch while the broker is down: its suggestions cannot be queued.
    created = coordinator.post(
        f"{base}/api/v1/batches/",
        json={
            "name": "Broker down",
            "taxonomy_id": tnmg.pk,
            "reader_ids": [ana.pk, bruno.pk],
            "readers_per_exam": 2,
            "criteria": {"datasets": ["faults"]},
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    batch_id = created.json()["id"]
    # Logging in still works (throttling needs the cache; it steps aside).
    readers["ana"] = session_for(base, "ana")
    seconds = []
    for name, user in (("ana", ana), ("bruno", bruno)):
        for slot in Assignment.objects.filter(batch_id=batch_id, reader=user).order_by("position")[:2]:
            seconds.append(submit(readers[name], base, slot, "SB" if name == "ana" else "ST"))

    redis.start()
    redis.freeze()
    for name, user in (("ana", ana), ("bruno", bruno)):
        slot = Assignment.objects.filter(batch_id=batch_id, reader=user, status="pending").order_by(
            "position"
        )[0]
        seconds.append(submit(readers[name], base, slot, "NORM"))
    redis.thaw()
    print(f"submit times with the broker down or frozen: {[round(s, 2) for s in seconds]} s")

    submitted = Annotation.objects.filter(assignment__batch_id=batch_id, status="submitted", is_current=True)
    assert submitted.count() == 6
    # Back up: within two minutes the sweeps compute what the outage left pending.
    wait_for(lambda: AgreementResult.objects.filter(batch_id=batch_id, read_count=6).exists(), timeout=120)
    exam_ids = list(BatchExam.objects.filter(batch_id=batch_id).values_list("exam_id", flat=True))
    wait_for(
        lambda: Suggestion.objects.filter(exam_id__in=exam_ids, status="ok").count() == len(exams),
        timeout=120,
    )


def test_an_upload_and_a_release_made_while_redis_is_stopped_are_done_after_it_returns(
    stack, ana, bruno, carla, diego, tnmg
):
    """The job rows are committed while the broker is down; nothing queued them, so the jobs sweep must."""
    from tests.exporting import labelled_study

    redis, base = stack
    production_passwords(diego)
    carol = UserFactory(username="carol", roles=["reader"])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    coordinator = session_for(base, "diego")
    record = ROOT / "tests" / "data" / "wfdb" / "cinc2021"

    redis.stop()
    with (record / "HR06000.hea").open("rb") as header, (record / "HR06000.mat").open("rb") as signal_file:
        upload = coordinator.post(
            f"{base}/api/v1/imports/",
            files=[("files", ("HR06000.hea", header)), ("files", ("HR06000.mat", signal_file))],
            data={"dataset": "outage"},
            timeout=30,
        )
    assert upload.status_code == 201, upload.text[:300]
    release = coordinator.post(
        f"{base}/api/v1/releases/", json={"batches": [study.batch.pk], "hdf5": False}, timeout=30
    )
    assert release.status_code == 201, release.text[:300]
    job_id, release_id = upload.json()["id"], release.json()["id"]
    time.sleep(3)
    assert ImportJob.objects.get(pk=job_id).status == "queued"
    assert Release.objects.get(pk=release_id).status == "queued"

    redis.start()
    back = time.monotonic()
    wait_for(lambda: ImportJob.objects.get(pk=job_id).status == "done", timeout=120)
    wait_for(lambda: Release.objects.get(pk=release_id).status == "done", timeout=120)
    print(f"upload and release done {time.monotonic() - back:.0f} s after Redis came back")
    assert ImportJob.objects.get(pk=job_id).created == 1
