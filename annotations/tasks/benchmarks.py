"""Blind benchmarks: prepare one (its tracings and the readers' figures), score one submission."""

from __future__ import annotations

from celery import shared_task

from annotations.services.benchmarks.create import benchmark_prepare
from annotations.services.benchmarks.submissions import submission_score


@shared_task(acks_late=True, name="annotations.tasks.benchmarks_prepare")
def benchmarks_prepare(benchmark_id: int) -> None:
    """Write a new benchmark's tracings and open it; idempotent (an open one is left alone)."""
    benchmark_prepare(benchmark_id)


@shared_task(acks_late=True, name="annotations.tasks.benchmarks_score")
def benchmarks_score(submission_id: int) -> None:
    """Score a submission against its benchmark's labels; idempotent (a scored one is left alone)."""
    submission_score(submission_id)
