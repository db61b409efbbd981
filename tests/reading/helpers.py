"""Helpers shared by the reading tests: a batch that ana and bruno both read, exam by exam."""

from __future__ import annotations

from annotations.models import Assignment, ReviewBatch
from tests.factories import batch_for, make_exam


def shared_batch(
    *, readers, coordinator, taxonomy, exams=2, mode=ReviewBatch.SuggestionMode.HIDDEN, **exam_fields
):
    """Every reader reads every exam (k = number of readers)."""
    return batch_for(
        taxonomy,
        coordinator,
        readers,
        [make_exam(seed=i, **exam_fields) for i in range(exams)],
        name="Reading study",
        suggestion_mode=mode,
        seed=5,
    )


def queue(batch, reader) -> list[Assignment]:
    return list(Assignment.objects.filter(batch=batch, reader=reader).order_by("position"))


def labels(*codes: str, uncertain: tuple[str, ...] = ()) -> list[dict]:
    return [{"code": code, "uncertain": code in uncertain} for code in codes]


def page_html(response) -> str:
    """A page's HTML."""
    return response.getvalue().decode()


def ref(assignment: Assignment | int | str) -> str:
    """What the reader's URLs call an assignment (selectors.reading.refs): its reference, not its id."""
    from annotations.selectors.reading.refs import assignment_ref

    if isinstance(assignment, str):
        return assignment
    return assignment_ref(getattr(assignment, "pk", assignment))
