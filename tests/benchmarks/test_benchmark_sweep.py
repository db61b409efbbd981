"""A submission whose message never left (the broker was down at its commit) is queued again by the jobs
sweep and scored."""

from __future__ import annotations

import pytest

from annotations.models import BenchmarkSubmission
from annotations.services.benchmarks.create import benchmark_create, benchmark_prepare
from annotations.services.benchmarks.submissions import submission_create
from annotations.services.jobs.sweeps import jobs_sweep_run
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, submitter

pytestmark = pytest.mark.django_db
N = 10


def test_the_jobs_sweep_scores_a_submission_whose_message_was_lost(
    tmp_path,
    diego,
    code15,  # noqa: F811
    settings,
    eager_worker,
):
    settings.JOBS_REQUEUE_AFTER_S = 0
    release = code_test_release(tmp_path, diego, n_exams=N)
    made = benchmark_create(actor=diego, release=release, name="b", label_source="reference")
    benchmark = benchmark_prepare(made.pk)  # as its task would
    lines = ["exam_id," + ",".join(CODES), *(f"{i},0.5,0.5,0.5,0.5,0.5,0.5" for i in range(N))]
    submission = submission_create(  # its on-commit enqueue never runs inside the test's transaction
        actor=submitter(),
        benchmark=benchmark,
        data="\n".join(lines).encode(),
        file_name="s.csv",
        model_name="m",
        model_version="1",
        thresholds=THRESHOLDS,
    )
    assert BenchmarkSubmission.objects.get(pk=submission.pk).status == "queued"
    queued = jobs_sweep_run()
    assert queued["benchmark submissions"] == 1
    assert BenchmarkSubmission.objects.get(pk=submission.pk).status == "done"
