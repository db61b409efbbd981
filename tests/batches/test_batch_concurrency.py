"""Many readers working one batch at once on real PostgreSQL: every slot is read exactly once."""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Annotation, AnnotationRevision, Assignment
from annotations.selectors.reading.assignments import assignment_next_for_reader
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.factories import ExamFactory, UserFactory, batch_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READERS, EXAMS_EACH = 20, 50


def work_through_queue(reader, batch_id: int, errors: list) -> None:
    """A reader's session: ask for the next exam, save a draft, submit, until the queue is empty."""
    try:
        while (assignment := assignment_next_for_reader(reader, batch_id=batch_id)) is not None:
            draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
            annotation_submit(
                actor=reader,
                assignment=assignment,
                labels=[LabelInput("NORM")],
                time_on_task_ms=1000,
                revision=draft.revision,
            )
    except Exception as error:  # surfaced by the test below, never swallowed
        errors.append(repr(error))
    finally:
        connection.close()


def test_twenty_readers_pulling_and_submitting_fifty_exams_each_leave_nothing_lost_or_doubled(diego, tnmg):
    readers = [UserFactory(username=f"reader{i:02d}", roles=["reader"]) for i in range(READERS)]
    exams = ExamFactory.create_batch(READERS * EXAMS_EACH // 2)
    batch = batch_for(tnmg, diego, readers, exams, name="Busy", readers_per_exam=2, seed=20)
    errors: list[str] = []
    threads = [threading.Thread(target=work_through_queue, args=(r, batch.pk, errors)) for r in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert errors == []
    slots = Assignment.objects.filter(batch=batch)
    assert slots.count() == READERS * EXAMS_EACH
    assert set(slots.values_list("status", flat=True)) == {"submitted"}
    submitted = Annotation.objects.filter(assignment__batch=batch, status="submitted", is_current=True)
    per_slot = Counter(submitted.values_list("assignment_id", flat=True))
    assert len(per_slot) == READERS * EXAMS_EACH and set(per_slot.values()) == {1}
    per_reader = Counter(submitted.values_list("assignment__reader_id", flat=True))
    assert set(per_reader.values()) == {EXAMS_EACH}
    assert (
        AnnotationRevision.objects.filter(annotation__assignment__batch=batch).count()
        == 2 * READERS * EXAMS_EACH
    )
