"""Loaded into a test's real worker (`celery worker --include tests.dying_worker`): the worker kills itself
with SIGKILL once it has taken a message of the task named in DIE_BEFORE_TASK, before the task's body runs,
as a worker does whose machine goes away between the two. The message stays taken and unacknowledged in
the broker, as it would."""

from __future__ import annotations

import os
import signal

from celery.signals import task_prerun


@task_prerun.connect
def _die_before_the_task(sender=None, **_kwargs) -> None:
    if sender is not None and sender.name == os.environ.get("DIE_BEFORE_TASK"):
        os.kill(os.getpid(), signal.SIGKILL)
