"""Signal-quality reports stored on exams: computed at import, and backfilled for older exams.

The report itself is pure numpy (annotations/lib/ecg/quality.py); this module turns it into the three Exam
columns (grade, flags, report) and writes them.

When: exam_create (one exam) computes it with the row. The file importer queues the exams of each
insert batch instead (exams_quality_enqueue, after commit): the report costs ~5 ms per exam, about four
times what the whole import of a CODE-15% exam costs, so computing it inline took bench/import_hdf5.py
from ~0.5x of its I/O floor to 0.06x. A worker fills the reports in seconds; without a broker (the
embedded default) the task runs in-process right after the import commits. Exams whose message was
lost are found by `manage.py quality_report --missing`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from annotations.lib.ecg.leads import STANDARD_LEADS
from annotations.lib.ecg.quality import quality_report
from annotations.models import Exam
from annotations.services.audit import audit_record
from annotations.services.exams.waveforms import waveform_load
from annotations.services.jobs.dispatch import CATCH_UP_PRIORITY, task_enqueue_on_commit
from ecgreview.inprocess import background

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:quality"
# Seconds the embedded default waits before computing reports of imported exams, so that a file's
# import is not slowed by them while it still runs (a CODE-15% part takes a few seconds).
QUALITY_DELAY_S = 5.0


def quality_fields(samples: np.ndarray, gain_uv: float, sampling_rate: float) -> dict[str, Any]:
    """Exam column values for stored samples (int, the 12 standard leads first) at gain_uv per step.

    A report that cannot be computed (too short, a bug on an odd record) never stops an import: the
    exam is stored without one, the log says why, and the backfill command tries again.
    """
    try:
        report = quality_report(samples[: len(STANDARD_LEADS)] * (gain_uv / 1000.0), sampling_rate)
    except Exception:
        logger.warning("quality report failed", exc_info=True)
        return {}
    return {
        "quality_grade": report["grade"],
        "quality_flags": flags_column(report["flags"]),
        "quality_report": report,
    }


def flags_column(flags: list[str]) -> str:
    """ ",flat,noise," : delimited on both sides so that a filter matches a whole flag name."""
    return f",{','.join(flags)}," if flags else ""


def exam_quality_compute(exam: Exam) -> bool:
    """Compute and store one exam's report; False when it could not be computed."""
    samples = waveform_load(exam.waveform_key)
    order = [exam.lead_names.index(lead) for lead in STANDARD_LEADS if lead in exam.lead_names]
    if len(order) != len(STANDARD_LEADS):
        return False
    fields = quality_fields(samples[order], exam.gain_uv, exam.sampling_rate)
    if not fields:
        return False
    Exam.objects.filter(pk=exam.pk).update(**fields)
    return True


def exams_quality_enqueue(exam_ids: list[int]) -> None:
    """Queue the reports of newly created exams once the current transaction commits.

    Without a broker (the embedded default) eager Celery would compute them inside the import, so the
    in-process background thread does it instead, QUALITY_DELAY_S later and coalesced: one job fills
    every exam still without a report, however many insert batches asked for it meanwhile."""

    if not exam_ids:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(
            lambda: background.submit(("quality", "missing"), _missing_in_process, delay=QUALITY_DELAY_S)
        )
        return
    # Behind the work a coordinator waits for on the same queue (the next import, a release, the jobs
    # sweep): a large import leaves dozens of these, seconds each, and nobody waits on a quality grade.
    task_enqueue_on_commit("annotations.tasks.exams_quality", list(exam_ids), priority=CATCH_UP_PRIORITY)


def _missing_in_process() -> int:
    ids = list(Exam.objects.filter(quality_grade="").order_by("pk").values_list("pk", flat=True))
    return exams_quality_run(ids)


def exams_quality_run(exam_ids: list[int]) -> int:
    """The task's work: reports of those exams still without one (a redelivered message redoes nothing)."""
    done = 0
    for exam in Exam.objects.filter(pk__in=exam_ids, quality_grade="").order_by("pk"):
        try:
            done += exam_quality_compute(exam)
        except (OSError, ValueError) as error:
            logger.warning("quality report of exam %s: %s", exam.pk, error)
    return done


def exams_quality_backfill(*, missing_only: bool = True, limit: int | None = None) -> dict[str, int]:
    """Reports for exams that have none (or every exam); one audit row for the run, not one per exam."""
    exams = Exam.objects.order_by("pk")
    if missing_only:
        exams = exams.filter(quality_grade="")
    ids = list(exams.values_list("pk", flat=True)[:limit] if limit else exams.values_list("pk", flat=True))
    done = failed = 0
    for exam in Exam.objects.filter(pk__in=ids).order_by("pk").iterator(chunk_size=200):
        try:
            ok = exam_quality_compute(exam)
        except (OSError, ValueError) as error:  # a missing or unreadable blob: say so, carry on
            logger.warning("quality report of exam %s: %s", exam.pk, error)
            ok = False
        done, failed = done + ok, failed + (not ok)
    with transaction.atomic():
        audit_record(
            actor=None,
            actor_username=SYSTEM_ACTOR,
            action="exams.quality_backfill",
            after={"computed": done, "failed": failed, "missing_only": missing_only},
        )
    return {"computed": done, "failed": failed}
