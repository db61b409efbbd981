"""Celery tasks, one module per capability: thin wrappers that look the work up by id and call a service.

acks_late is on globally (settings), so a task whose worker dies is redelivered; every task is idempotent
for that reason. Task names stay "annotations.tasks.<name>" whichever module holds them, so messages
queued by an older deployment still find their task. Importing this package registers every task
(Celery's autodiscovery imports `annotations.tasks`).
"""

from annotations.tasks.agreement import agreement_recompute, agreement_sweep, evidence_warm
from annotations.tasks.benchmarks import benchmarks_prepare, benchmarks_score
from annotations.tasks.exams import exams_quality
from annotations.tasks.imports import imports_run
from annotations.tasks.jobs import jobs_sweep
from annotations.tasks.releases import releases_build, releases_shard_build, releases_shards_finish
from annotations.tasks.suggestions import suggestions_batch, suggestions_exam, suggestions_sweep
from annotations.tasks.webhooks import webhooks_deliver, webhooks_sweep

__all__ = [
    "agreement_recompute",
    "agreement_sweep",
    "benchmarks_prepare",
    "benchmarks_score",
    "evidence_warm",
    "exams_quality",
    "imports_run",
    "jobs_sweep",
    "releases_build",
    "releases_shard_build",
    "releases_shards_finish",
    "suggestions_batch",
    "suggestions_exam",
    "suggestions_sweep",
    "webhooks_deliver",
    "webhooks_sweep",
]
