"""A request that queues work while the broker refuses connections tries once and goes on: the write is
committed, and the sweeps queue the work later. kombu's first connection of a process retried for its
connect timeout (4 s) with 2 s between tries, so creating a batch, asking for a release or uploading an
import took 6 s each with Redis down (an operator's walk, PostgreSQL + Redis + worker)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ENQUEUE = """
import django, logging
django.setup()
logging.disable(logging.CRITICAL)
from annotations.services.jobs.dispatch import task_enqueue
print([task_enqueue("annotations.tasks.releases_build", n) for n in (1, 2)])
"""


class RefusingBroker:
    """A port that accepts each connection and closes it at once, counting them: a Redis that is down
    behind a proxy, or restarting. Each connection is one try of the client's."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.tries = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.tries += 1
            connection.close()


def test_queueing_work_tries_the_broker_once_per_request_when_it_refuses():
    broker = RefusingBroker()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": f"redis://127.0.0.1:{broker.port}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{broker.port}/0",
        "DEBUG": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", ENQUEUE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    broker.server.close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[False, False]"  # not taken: the sweep sends them
    assert broker.tries <= 2, f"{broker.tries} connections for two requests"
