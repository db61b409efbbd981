"""A submitter's predictions: checked whole (annotations.lib.benchmark_file), kept with the audit row in
one transaction, scored by a worker after commit (annotations.tasks.benchmarks)."""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Conflict, Forbidden, Invalid
from annotations.lib.benchmark_file import (
    THRESHOLDS_WITH_RULE,
    SubmissionRefused,
    read_submission,
    read_thresholds,
)
from annotations.lib.stats.benchmark import score, thresholds_max_f1
from annotations.models import Benchmark, BenchmarkExam, BenchmarkSubmission
from annotations.roles import Role, has_role
from annotations.services.audit import audit_record
from annotations.services.jobs import dispatch  # by attribute: a test's stand-in reaches every caller
from annotations.services.jobs.dispatch import task_enqueue_on_commit, task_started
from annotations.services.webhooks.events import benchmark_result_emit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)
SCORE_TASK = "annotations.tasks.benchmarks_score"
RULES = BenchmarkSubmission.ThresholdRule


class QuotaSpent(Conflict):
    status = 429


def _exam_keys(benchmark: Benchmark) -> list[str]:
    return list(
        BenchmarkExam.objects.filter(benchmark=benchmark).order_by("row").values_list("exam_key", flat=True)
    )


def submissions_today(submitter: User, benchmark: Benchmark) -> int:
    since = timezone.now() - timedelta(days=1)
    return BenchmarkSubmission.objects.filter(
        submitter=submitter, benchmark=benchmark, created_at__gte=since
    ).count()


def _check_text(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit or any(ord(c) < 32 for c in text):
        raise Invalid(_("%(field)s: 1 to %(limit)s printable characters") % {"field": field, "limit": limit})
    return text


def _npy_bytes(scores: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, scores.astype(np.float64), allow_pickle=False)
    return out.getvalue()


# Long because the checks come in the order a submitter fixes them (role, state, quota, names, the file,
# the thresholds) and all of them run before the one transaction that stores anything.
def submission_create(
    *,
    actor: User,
    benchmark: Benchmark,
    data: bytes,
    file_name: str,
    model_name: str,
    model_version: str,
    thresholds: list[Any] | None = None,
    threshold_rule: str = RULES.SUBMITTED,
    ip_address: str | None = None,
) -> BenchmarkSubmission:
    """Check a predictions file and store it for scoring; a refusal stores nothing."""
    if not has_role(actor, Role.SUBMITTER):
        raise Forbidden(_("only a benchmark submitter may submit predictions"))
    if benchmark.status == Benchmark.Status.PREPARING:
        raise Conflict(
            _(
                "the benchmark is still being prepared (its tracings are being written): "
                "submit once it is open"
            )
        )
    if benchmark.status == Benchmark.Status.FAILED:
        raise Conflict(
            _("the benchmark failed to be prepared (%(error)s): it takes no submissions")
            % {"error": benchmark.error}
        )
    if benchmark.status != Benchmark.Status.OPEN:
        raise Conflict(_("the benchmark is closed: it takes no more submissions"))
    model_name = _check_text(model_name, _("model name"), 100)
    model_version = _check_text(model_version, _("model version"), 60)
    if threshold_rule not in RULES.values:
        raise Invalid(_("unknown threshold rule “%(rule)s”") % {"rule": threshold_rule})
    if len(data) > settings.BENCHMARK_MAX_SUBMISSION_MB * 1024 * 1024:
        raise Invalid(_("the file is over %(mb)s MB") % {"mb": settings.BENCHMARK_MAX_SUBMISSION_MB})
    classes = list(benchmark.classes)
    try:
        scores = read_submission(data, exam_ids=_exam_keys(benchmark), classes=classes)
        chosen = None
        if threshold_rule == RULES.SUBMITTED:
            chosen = read_thresholds(thresholds if thresholds is not None else [], classes).tolist()
        elif thresholds:
            raise SubmissionRefused(THRESHOLDS_WITH_RULE)
    except SubmissionRefused as error:
        raise Invalid(error.refusal.render(_)) from None
    with transaction.atomic():
        Benchmark.objects.select_for_update().filter(pk=benchmark.pk).first()
        if submissions_today(actor, benchmark) >= benchmark.daily_quota:
            raise QuotaSpent(
                _("%(n)s submissions in the last 24 hours: this benchmark's quota; try again later")
                % {"n": benchmark.daily_quota}
            )
        submission = BenchmarkSubmission.objects.create(
            benchmark=benchmark,
            submitter=actor,
            model_name=model_name,
            model_version=model_version,
            file_name=(file_name or "")[:200],
            file_sha256=hashlib.sha256(data).hexdigest(),
            scores=_npy_bytes(scores),
            threshold_rule=threshold_rule,
            thresholds=chosen,
        )
        audit_record(
            actor=actor,
            action="benchmark.submit",
            target=submission,
            after={
                "benchmark": benchmark.pk,
                "model": f"{model_name} {model_version}",
                "file": submission.file_name,
                "sha256": submission.file_sha256,
                "bytes": len(data),
                "threshold_rule": threshold_rule,
            },
            ip_address=ip_address,
        )
        task_enqueue_on_commit(SCORE_TASK, submission.pk)
    return submission


def _truth(benchmark: Benchmark) -> tuple[np.ndarray, np.ndarray]:
    rows = BenchmarkExam.objects.filter(benchmark=benchmark).order_by("row").values_list("labels", "split")
    labels = [r[0] for r in rows]
    private = np.array([r[1] == BenchmarkExam.Split.PRIVATE for r in rows], dtype=bool)
    return np.array(labels, dtype=np.int64).reshape(len(labels), len(benchmark.classes)), private


def submission_figures(submission: BenchmarkSubmission) -> tuple[list[float], dict[str, Any]]:
    """The thresholds used and {public, private} figures of a submission (pure computation, no write)."""
    benchmark = submission.benchmark
    truth, private = _truth(benchmark)
    scores = np.load(io.BytesIO(bytes(submission.scores)), allow_pickle=False)
    if submission.threshold_rule == RULES.MAX_F1_PUBLIC:
        thresholds = thresholds_max_f1(truth[~private], scores[~private])
    else:
        thresholds = np.asarray(submission.thresholds, dtype=np.float64)
    classes = list(benchmark.classes)
    results = {
        split: score(truth[mask], scores[mask], thresholds, classes=classes).as_dict()
        for split, mask in (("public", ~private), ("private", private))
    }
    return thresholds.tolist(), results


def submission_score(submission_id: int) -> BenchmarkSubmission | None:
    """Score a queued submission; idempotent (a finished one is left alone)."""
    submission = BenchmarkSubmission.objects.filter(pk=submission_id).select_related("benchmark").first()
    if submission is None or submission.status == BenchmarkSubmission.Status.DONE:
        return submission
    task_started(SCORE_TASK, submission_id)
    BenchmarkSubmission.objects.filter(pk=submission_id).update(
        status=BenchmarkSubmission.Status.RUNNING, started_at=timezone.now()
    )
    try:
        thresholds, results = submission_figures(submission)
    except Exception as error:
        logger.exception("scoring submission %s failed", submission_id)
        BenchmarkSubmission.objects.filter(pk=submission_id).update(
            status=BenchmarkSubmission.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    with transaction.atomic():
        BenchmarkSubmission.objects.filter(pk=submission_id).update(
            status=BenchmarkSubmission.Status.DONE,
            thresholds=thresholds,
            results=results,
            error="",
            finished_at=timezone.now(),
        )
        audit_record(
            actor=None,
            actor_username="system:benchmarks",
            action="benchmark.scored",
            target=submission,
            after={"thresholds": thresholds},
        )
        submission.status = BenchmarkSubmission.Status.DONE
        benchmark_result_emit(submission)
    submission.refresh_from_db()
    return submission


def submissions_waiting_requeue() -> int:
    """Queue again the submissions still queued whose message was lost (the jobs sweep calls this)."""
    waiting = dispatch.jobs_waiting(BenchmarkSubmission, SCORE_TASK, timezone.now())
    return sum(dispatch.task_enqueue(SCORE_TASK, pk) for pk in waiting)
