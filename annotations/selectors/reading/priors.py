"""Serial comparison: the earlier ECGs of the patient whose exam a reader has open, when the batch was
designed with it (``ReviewBatch.design["serial_comparison"]``).

An earlier exam is one of the same dataset (patient ids are the dataset's own: PTB-XL's patient 17 is not
CODE-15%'s) and the same non-blank patient id, acquired strictly before the open exam; the most recent
PRIORS_SHOWN of them are offered, newest first, numbered 1, 2, 3 within the reader's assignment. A reader
gets their waveform and acquisition date only: nothing anybody said about them (reads, reference labels,
suggestions), no dataset or exam id, and the waveform only through their own assignment (404 otherwise).

An adjudicator settling the exam's dispute sees what its readers were offered, the same way: the same
earlier ECGs, numbered alike, through the case they have to decide (case_prior_exams,
prior_exam_for_case).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext

from annotations.errors import NotFound
from annotations.models import Assignment, Exam, ReviewBatch
from annotations.selectors.reading.assignments import assignment_for_reader, waveform_etag

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Enough to see a change over time without turning the page into an archive.
PRIORS_SHOWN = 3


def serial_comparison_on(batch: ReviewBatch) -> bool:
    return bool((batch.design or {}).get("serial_comparison"))


def _earlier_exams(exam: Exam) -> list[Exam]:
    if not exam.patient_pseudo_id or exam.acquired_at is None:
        return []
    earlier = Exam.objects.filter(
        dataset_id=exam.dataset_id,
        patient_pseudo_id=exam.patient_pseudo_id,
        acquired_at__lt=exam.acquired_at,
    )
    fields = ("acquired_at", "sampling_rate", "n_samples", "lead_names", "gain_uv", "waveform_key")
    return list(earlier.only(*fields, "waveform_sha256").order_by("-acquired_at", "-id")[:PRIORS_SHOWN])


def _scope(assignment: Assignment, n: int) -> str:
    return f"assignment:{assignment.pk}:prior:{n}"


def _day(exam: Exam) -> str:
    assert exam.acquired_at is not None  # earlier exams are found by their acquisition time
    return exam.acquired_at.date().isoformat()


def _offered(
    exam: Exam,
    waveform_url: Callable[[int], str],
    scope: Callable[[int], str],
    overlay_url: Callable[[int], str] | None = None,
) -> list[dict[str, Any]]:
    """Each earlier exam as a page is given it: its number, date, geometry and where its waveform is (and,
    for a reader, where its median beats overlaid on the open exam's are: selectors.reading.serial)."""
    offered = [
        {
            "n": n,
            "acquired_on": _day(earlier),
            "sampling_rate": earlier.sampling_rate,
            "n_samples": earlier.n_samples,
            "lead_names": earlier.lead_names,
            "gain_uv": earlier.gain_uv,
            "waveform_url": waveform_url(n),
            "waveform_etag": waveform_etag(scope(n), earlier),
        }
        for n, earlier in enumerate(_earlier_exams(exam), start=1)
    ]
    if overlay_url:
        for prior in offered:
            prior["overlay_url"] = overlay_url(prior["n"])
    return offered


def prior_exams(assignment: Assignment) -> list[dict[str, Any]]:
    """The reader's view of the earlier exams of their own assignment (the caller checked that it is
    theirs): an empty list unless the batch shows them."""
    if not serial_comparison_on(assignment.batch):
        return []
    return _offered(
        assignment.exam,
        lambda n: reverse("api-reading-prior-waveform", args=[assignment.pk, n]),
        lambda n: _scope(assignment, n),
        lambda n: reverse("api-reading-prior-overlay", args=[assignment.pk, n]),
    )


def _case_scope(user_id: int, batch: ReviewBatch, exam: Exam, n: int) -> str:
    return f"adjudication:{user_id}:{batch.pk}:{exam.pk}:prior:{n}"


def case_prior_exams(user: User, batch: ReviewBatch, exam: Exam) -> list[dict[str, Any]]:
    """The earlier exams an adjudication case offers (the caller checked that the case is the user's):
    those its batch offered the exam's readers, numbered alike; none unless the batch shows them."""
    if not serial_comparison_on(batch):
        return []
    return _offered(
        exam,
        lambda n: reverse("api-adjudication-prior-waveform", args=[batch.pk, exam.pk, n]),
        lambda n: _case_scope(user.pk, batch, exam, n),
    )


def prior_exam_for_case(user: User, batch: ReviewBatch, exam: Exam, n: int) -> tuple[Exam, str]:
    """The n-th earlier exam of a case the user has to decide (the caller checked that), with its
    waveform's cache scope; 404 when the batch does not show earlier exams or there is no such one."""
    if not serial_comparison_on(batch) or not 1 <= n <= PRIORS_SHOWN:
        raise NotFound(gettext("no such earlier exam"))
    earlier = _earlier_exams(exam)
    if n > len(earlier):
        raise NotFound(gettext("no such earlier exam"))
    return earlier[n - 1], _case_scope(user.pk, batch, exam, n)


def prior_exam_for_reader(user: User, assignment_id: int, n: int) -> tuple[Exam, str]:
    """The n-th earlier exam (1: the most recent) of the reader's own assignment, with the scope of its
    waveform's cache token; 404 when the assignment is not theirs, the batch does not show earlier exams,
    or there is no such earlier exam."""
    assignment = assignment_for_reader(user, assignment_id)
    if not serial_comparison_on(assignment.batch) or not 1 <= n <= PRIORS_SHOWN:
        raise NotFound(gettext("no such earlier exam"))
    earlier = _earlier_exams(assignment.exam)
    if n > len(earlier):
        raise NotFound(gettext("no such earlier exam"))
    return earlier[n - 1], _scope(assignment, n)
