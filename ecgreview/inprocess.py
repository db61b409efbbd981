"""After-the-response side effects on the embedded default (no broker: Celery is eager).

With a broker, a submit queues the agreement recomputation and a Celery worker runs it later. Without
one, Celery's eager mode would run it inside the submitting request, which then waits seconds for a
bootstrap nobody asked it to wait for. ``background`` stands in for the worker: one daemon thread in the
web process runs the jobs handed to it after their delay, with its own database connections (Django's
are per thread) that it closes after each job.

Jobs are coalesced by key exactly as the broker path coalesces them: a key already waiting is not
queued twice, and a job's key is released when it starts, so work submitted while it runs schedules the
next run. Work still waiting when the process exits (a runserver reload, Ctrl-C) runs before it exits.
A job that raises is logged and dropped; the coordinator's "recompute" button and the next submit
catch up, as the periodic sweep does on the broker path.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable

logger = logging.getLogger(__name__)


class BackgroundJobs:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._jobs: dict[Hashable, Callable[[], object]] = {}
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._running = False
        self._exit_hook = False

    def submit(self, key: Hashable, job: Callable[[], object], *, delay: float = 0.0) -> bool:
        """Run job on the background thread after delay seconds, unless job `key` is already waiting.
        Returns whether it was queued."""
        with self._lock:
            if key in self._jobs:
                return False
            self._jobs[key] = job
            heapq.heappush(self._heap, (time.monotonic() + max(delay, 0.0), next(self._order), key))
            self._start()
            self._lock.notify()
        return True

    def pending(self) -> int:
        with self._lock:
            return len(self._jobs)

    def drain(self) -> None:
        """Run every waiting job now, in the calling thread, and wait for a running one to finish."""
        while True:
            with self._lock:
                if not self._heap:
                    break
                _, _, key = heapq.heappop(self._heap)
                job = self._jobs.pop(key)
            self._run(key, job)
        with self._lock:  # a job the thread had already taken: let it finish
            while self._running:
                self._lock.wait(0.05)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="ecgreview-background", daemon=True)
            self._thread.start()
            if not self._exit_hook:
                atexit.register(self.drain)
                self._exit_hook = True

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._lock.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, key = heapq.heappop(self._heap)
                job = self._jobs.pop(key)
                self._running = True
            try:
                self._run(key, job)
            finally:
                with self._lock:
                    self._running = False
                    self._lock.notify_all()

    @staticmethod
    def _run(key: Hashable, job: Callable[[], object]) -> None:
        from django.db import connections

        try:
            job()
        except Exception:
            logger.exception("background job %r failed", key)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()  # this thread's own connections only


background = BackgroundJobs()
