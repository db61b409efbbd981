"""Benchmarks as each role sees them. The labels, per-exam anything and other submitters' files never
leave here for anyone but a coordinator: a submitter gets the exam ids and their row order, the
readers' and their own submissions' aggregate figures (the private split's only once the benchmark is
closed), and the leaderboard of finished submissions."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, NotFound
from annotations.models import Benchmark, BenchmarkExam, BenchmarkSubmission, Release
from annotations.roles import Role, benchmark_scope, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SPLITS = ("public", "private")


def is_coordinator(user: User) -> bool:
    return has_role(user, Role.COORDINATOR)


def may_see_benchmarks(user: User) -> bool:
    return is_coordinator(user) or has_role(user, Role.SUBMITTER)


def benchmark_list(user: User) -> QuerySet[Benchmark]:
    if not may_see_benchmarks(user):
        raise Forbidden
    benchmarks = Benchmark.objects.select_related("release")
    scope = benchmark_scope(user)  # a one-benchmark token finds that benchmark alone
    return benchmarks if scope is None else benchmarks.filter(pk=scope)


def benchmark_get(user: User, benchmark_id: int) -> Benchmark:
    benchmark = benchmark_list(user).filter(pk=benchmark_id).first()
    if benchmark is None:
        raise NotFound(_("no such benchmark"))
    return benchmark


def benchmarks_for_tokens(user: User) -> list[Benchmark]:
    """The benchmarks a coordinator may hand a one-benchmark token for: those not closed or failed."""
    if not is_coordinator(user):
        return []
    closed = (Benchmark.Status.CLOSED, Benchmark.Status.FAILED)
    return list(Benchmark.objects.exclude(status__in=closed).order_by("-pk")[:200])


def benchmark_release(user: User, release_id: int) -> Release:
    """A finished release a coordinator may turn into a benchmark."""
    if not is_coordinator(user):
        raise Forbidden
    release = Release.objects.filter(pk=release_id).select_related("taxonomy").first()
    if release is None:
        raise NotFound(_("no such release"))
    return release


def visible_splits(user: User, benchmark: Benchmark) -> tuple[str, ...]:
    """The public split always; the private one to coordinators, and to everyone once closed."""
    if is_coordinator(user) or benchmark.status == Benchmark.Status.CLOSED:
        return SPLITS
    return ("public",)


def benchmark_exam_ids(user: User, benchmark: Benchmark) -> list[str]:
    """The exam ids in row order (the order of the tracings file and of an NPY's rows)."""
    if not may_see_benchmarks(user):
        raise Forbidden
    return list(
        BenchmarkExam.objects.filter(benchmark=benchmark).order_by("row").values_list("exam_key", flat=True)
    )


def benchmark_labels(user: User, benchmark: Benchmark) -> list[tuple[str, str, list[int]]]:
    """(exam id, split, 0/1 per class) in row order: coordinators only."""
    if not is_coordinator(user):
        raise NotFound(_("no such benchmark"))
    return list(
        BenchmarkExam.objects.filter(benchmark=benchmark)
        .order_by("row")
        .values_list("exam_key", "split", "labels")
    )


def _splits(figures: dict[str, Any], splits: tuple[str, ...]) -> dict[str, Any]:
    return {split: figures[split] for split in splits if split in figures}


def benchmark_readers(user: User, benchmark: Benchmark) -> list[dict[str, Any]]:
    """Each reader of the release scored against the benchmark's labels, by pseudonym; coordinators
    also get the account's name."""
    splits = visible_splits(user, benchmark)
    names = {}
    if is_coordinator(user):
        ids = [r.get("user_id") for r in benchmark.readers if r.get("user_id")]
        names = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    return [
        {
            "reader": entry["reader"],
            **({"name": names.get(entry.get("user_id"), "")} if is_coordinator(user) else {}),
            "n": entry["n"],
            **_splits(entry, splits),
        }
        for entry in benchmark.readers
    ]


def submission_list(user: User, benchmark: Benchmark) -> QuerySet[BenchmarkSubmission]:
    """A submitter's own submissions to the benchmark; every one for a coordinator."""
    rows = BenchmarkSubmission.objects.filter(benchmark=benchmark).select_related("submitter").defer("scores")
    if is_coordinator(user):
        return rows
    if not has_role(user, Role.SUBMITTER):
        raise Forbidden
    scope = benchmark_scope(user)
    return rows.filter(submitter=user) if scope is None else rows.filter(submitter=user, benchmark_id=scope)


def submission_get(user: User, submission_id: int) -> BenchmarkSubmission:
    """One submission: the submitter's own (404 for anyone else's) or any for a coordinator."""
    if not may_see_benchmarks(user):
        raise Forbidden
    rows = BenchmarkSubmission.objects.select_related("benchmark", "submitter").defer("scores")
    if not is_coordinator(user):
        rows = rows.filter(submitter=user)
    if (scope := benchmark_scope(user)) is not None:
        rows = rows.filter(benchmark_id=scope)
    submission = rows.filter(pk=submission_id).first()
    if submission is None:
        raise NotFound(_("no such submission"))
    return submission


def submission_view(user: User, submission: BenchmarkSubmission) -> dict[str, Any]:
    return {
        "id": submission.pk,
        "benchmark": submission.benchmark_id,
        "model_name": submission.model_name,
        "model_version": submission.model_version,
        "file_name": submission.file_name,
        "file_sha256": submission.file_sha256,
        "threshold_rule": submission.threshold_rule,
        "thresholds": submission.thresholds,
        "status": submission.status,
        "created_at": submission.created_at,
        "finished_at": submission.finished_at,
        "results": _splits(submission.results or {}, visible_splits(user, submission.benchmark)),
    }


def leaderboard(user: User, benchmark: Benchmark) -> list[dict[str, Any]]:
    """Finished submissions, best public macro F1 first, with their model, version, submitter and date."""
    if not may_see_benchmarks(user):
        raise Forbidden
    splits = visible_splits(user, benchmark)
    rows = (
        BenchmarkSubmission.objects.filter(benchmark=benchmark, status=BenchmarkSubmission.Status.DONE)
        .select_related("submitter")
        .defer("scores")
    )
    entries: list[dict[str, Any]] = []
    for s in rows:
        entry: dict[str, Any] = {
            "id": s.pk,
            "model_name": s.model_name,
            "model_version": s.model_version,
            "submitter": s.submitter.username,
            "created_at": s.created_at,
        }
        for split in splits:
            figures = (s.results.get(split) or {}).get("figures", {})
            entry[split] = {
                avg: {m: (figures.get(avg, {}).get(m) or {}).get("value") for m in ("auroc", "auprc", "f1")}
                for avg in ("macro", "micro")
            }
        entries.append(entry)
    entries.sort(key=lambda e: -(e["public"]["macro"]["f1"] or 0.0))
    return entries


def quota_left(user: User, benchmark: Benchmark) -> int:
    used = BenchmarkSubmission.objects.filter(
        submitter=user, benchmark=benchmark, created_at__gte=timezone.now() - timedelta(days=1)
    ).count()
    return max(0, benchmark.daily_quota - used)
