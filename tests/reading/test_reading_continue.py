"""Home → Continue takes a reader back where they left off: the exam whose draft they were working on when
they left (logged out, closed the tab, went for coffee), not the next unread exam with that draft pushed to
the end of the queue. Once they submit or skip something after it, Continue goes on with the unread
exams, drafts last, as before."""

from __future__ import annotations

import pytest

from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = pytest.mark.django_db


def _continue(client, batch) -> str:
    home = client.get("/").content.decode()
    link = f'/read/next/?batch={batch.pk}"'
    assert link in home
    return client.get(f"/read/next/?batch={batch.pk}")["Location"]


def test_continue_reopens_the_draft_the_reader_left_and_then_goes_on_in_queue_order(
    client_for, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=4)
    first, second, third, fourth = queue(batch, ana)
    draft = annotation_save_draft(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=0)
    client = client_for(ana)
    assert _continue(client, batch) == f"/read/{ref(first)}/"  # left mid-exam: back to it
    annotation_submit(actor=ana, assignment=second, labels=[LabelInput("SR")], revision=0)
    assert _continue(client, batch) == f"/read/{ref(third)}/"  # moved on since: the queue's order
    annotation_submit(actor=ana, assignment=first, labels=[LabelInput("SB")], revision=draft.revision)
    annotation_save_draft(actor=ana, assignment=fourth, labels=[LabelInput("AF")], revision=0)
    assert _continue(client, batch) == f"/read/{ref(fourth)}/"
