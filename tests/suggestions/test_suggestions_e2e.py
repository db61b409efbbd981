"""End to end with a real Celery worker consuming only the "models" queue: creating a batch fills the
suggestions of all its exams; a broken exam fails alone and is reported; a killed worker leaves no
duplicates, and the sweep fills what it left undone."""

from __future__ import annotations

import pytest

from annotations.models import Suggestion
from annotations.selectors.suggestions.scoring import META
from annotations.selectors.suggestions.summary import batch_suggestion_progress
from annotations.services.exams.waveforms import waveform_delete
from annotations.services.jobs.sweeps import jobs_sweep_run
from annotations.services.suggestions import exams_missing_suggestions, suggestions_sweep_run
from ecgreview import celery_app
from tests.factories import batch_for, make_exam
from tests.workers import broker_forget_taken, broker_taken, broker_taken_age, celery_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_creating_a_batch_fills_suggestions_for_all_its_exams(ana, bruno, diego, tnmg):
    good = [make_exam(heart_rate=rate, seed=i) for i, rate in enumerate((50.0, 72.0, 110.0))]
    broken = make_exam(heart_rate=65.0)  # samples unlike the others': blobs are content-addressed
    waveform_delete(broken.waveform_key)  # the row stays, its samples are gone
    # Only the models queue: the tasks get there by their routing, or this test times out.
    with celery_worker(queues="models", timeout=90):
        batch = batch_for(tnmg, diego, [ana, bruno], [*good, broken], name="Suggested")
        wait_for(lambda: Suggestion.objects.filter(exam__in=[*good, broken]).count() == 4, timeout=180)
    rows = {row.exam_id: row for row in Suggestion.objects.all()}
    assert [rows[exam.pk].status for exam in good] == ["ok"] * 3, [rows[e.pk].error for e in good]
    assert rows[broken.pk].status == "failed" and "FileNotFoundError" in rows[broken.pk].error
    rates = [rows[exam.pk].measurements["heart_rate_bpm"] for exam in good]
    assert rates == pytest.approx([50.0, 72.0, 110.0], abs=3.0)
    sb = [rows[exam.pk].scores.get(diagnostic_class__code="SB").score for exam in good]
    assert sb[0] > 0.9 > 0.1 > sb[1] and sb[2] < 0.1
    # The worker stores why: the bradycardia's criterion, source and the rate that met it.
    why = rows[good[0].pk].measurements[META]["rationale"]["SB"]
    assert "60" in why["criterion"] and why["source"] and "bpm" in why["finding"], why
    (progress,) = batch_suggestion_progress(batch)["providers"]
    assert (progress["ok"], progress["failed"], progress["missing"]) == (3, 1, 0)
    assert progress["failures"][0]["exam_id"] == broken.pk


def test_a_worker_killed_mid_batch_leaves_no_duplicates_and_the_sweep_fills_the_holes(
    ana, bruno, diego, tnmg, settings
):
    exams = [make_exam(heart_rate=60.0 + 5 * i, seed=10 + i) for i in range(6)]
    try:
        with celery_worker(queues="models", timeout=90) as worker:
            batch_for(tnmg, diego, [ana, bruno], exams, name="Interrupted")
            wait_for(lambda: Suggestion.objects.filter(exam__in=exams).exists(), timeout=180, interval=0.05)
            worker.kill()  # SIGKILL mid-batch: no cleanup, the task in hand is never acknowledged
            worker.wait()
        assert Suggestion.objects.filter(exam__in=exams).count() < len(exams)
        # The kill may land between taking the next message and starting it: that exam still reads as
        # waiting, and only the jobs sweep gives its message back, once it has been held this long.
        broker_taken_age(settings.JOBS_STALLED_AFTER_S + 1)
        jobs_sweep_run()
        with celery_worker(queues="models", timeout=90, purge=False):
            # The killed worker's unacknowledged message comes back only after the visibility timeout
            # (hours); the sweeps do not wait for it. (Messages still queued may be consumed first, so
            # the sweep queues at most what is missing.)
            assert suggestions_sweep_run() <= len(exams) - 1
            wait_for(lambda: not exams_missing_suggestions(limit=100), timeout=180)
    finally:
        broker_forget_taken()
    for exam in exams:
        assert Suggestion.objects.filter(exam=exam).count() == 1
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"ok"}


def test_a_new_batch_s_suggestions_go_before_a_sweep_s_backlog(ana, bruno, diego, tnmg):
    """The sweep catches up on thousands of exams (a new model version, an enqueue lost); a batch a
    coordinator creates meanwhile must not wait behind all of them to show its readers suggestions."""
    backlog = [make_exam(heart_rate=55.0 + i % 40, seed=100 + i) for i in range(40)]
    batch_for(tnmg, diego, [ana, bruno], backlog, name="Older")
    with celery_app.connection_for_write() as connection:  # as if its message had been lost
        connection.default_channel.queue_purge("models")
    fresh = [make_exam(heart_rate=70.0 + i, seed=300 + i) for i in range(3)]
    with celery_worker(queues="models", timeout=90):
        assert suggestions_sweep_run() == len(backlog)
        batch_for(tnmg, diego, [ana, bruno], fresh, name="New")
        wait_for(lambda: Suggestion.objects.filter(exam__in=fresh).count() == 3, timeout=180, interval=0.05)
        done_before = Suggestion.objects.filter(exam__in=backlog).count()
        wait_for(lambda: not exams_missing_suggestions(limit=100), timeout=180)
    # The one exam in hand when the batch came, and one more while its exams were being queued.
    assert done_before <= 4, f"{done_before} of the sweep's {len(backlog)} exams went first"


def test_the_sweep_does_not_queue_again_what_still_waits_in_the_queue(ana, bruno, diego, tnmg):
    """Each sweep queued every exam still missing its suggestion, waiting in the queue or not: with a
    backlog the models queue grew to 10,210 messages for 1,455 exams (a walk on the production stack)."""
    exams = [make_exam(heart_rate=60.0 + i, seed=500 + i) for i in range(6)]
    batch_for(tnmg, diego, [ana, bruno], exams, name="Backlog")
    with celery_app.connection_for_write() as connection:  # as if its message had been lost
        connection.default_channel.queue_purge("models")
    assert suggestions_sweep_run() == 6
    assert suggestions_sweep_run() == 0  # all six still wait: nothing queued twice
    with celery_app.connection_for_write() as connection:
        assert connection.default_channel.queue_declare(queue="models", passive=True).message_count == 6
    with celery_worker(queues="models", timeout=90) as worker:
        wait_for(lambda: not exams_missing_suggestions(limit=100), timeout=180)
        worker.kill()
        worker.wait()
    assert Suggestion.objects.filter(exam__in=exams).count() == 6


def test_an_exam_s_message_taken_by_a_worker_that_died_before_scoring_it_is_given_back(
    ana, bruno, diego, tnmg, monkeypatch, settings
):
    """Killed after taking an exam's message and before scoring it: the exam's "waiting" marker keeps the
    suggestions sweep off it, and the broker would give the message back only after hours. The jobs sweep
    gives it back ten minutes on, and a live worker scores every exam once."""
    settings.JOBS_STALLED_AFTER_S = 600
    exams = [make_exam(heart_rate=60.0 + 10 * i, seed=40 + i) for i in range(3)]
    monkeypatch.setenv("DIE_BEFORE_TASK", "annotations.tasks.suggestions_exam")
    try:
        with celery_worker(queues="models", timeout=90, include="tests.dying_worker") as doomed:
            batch_for(tnmg, diego, [ana, bruno], exams, name="Taken")
            assert doomed.wait(timeout=90) == -9
        assert not Suggestion.objects.filter(exam__in=exams).exists()
        assert suggestions_sweep_run() == 0  # every exam reads as waiting in the queue
        broker_taken_age(601)
        assert jobs_sweep_run()["taken by dead workers"] == 1
        monkeypatch.delenv("DIE_BEFORE_TASK")
        with celery_worker(queues="models", timeout=90, purge=False):
            wait_for(lambda: Suggestion.objects.filter(exam__in=exams).count() == 3, timeout=180)
        assert broker_taken() == {}
    finally:
        broker_forget_taken()
    assert set(Suggestion.objects.filter(exam__in=exams).values_list("status", flat=True)) == {"ok"}
