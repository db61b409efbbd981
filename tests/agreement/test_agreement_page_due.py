"""The agreement page says when its figures are behind the batch and, when the recomputation has waited
with no worker taking work, why. A walk on PostgreSQL + Redis with the worker stopped saw kappas computed
before 25 adjudications, with no word of a recomputation due, and "not computed yet" with 60 reads in,
while the import and release pages said that no worker was taking work."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from annotations.models import Annotation
from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.agreement.compute import batch_agreement_compute
from tests.factories import ExamFactory, batch_for, read

pytestmark = pytest.mark.django_db


def _status(client, batch) -> str:
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    return html.unescape(page.split('id="agreement-status"', 1)[1].split("<form", 1)[0])


def test_a_decision_signed_after_the_figures_were_computed_makes_a_recomputation_due(
    ana, bruno, carla, diego, tnmg, client_for
):
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [exam], name="Consensus")
    read(ana, batch, exam, ["SR", "LAD"])
    read(bruno, batch, exam, ["SR"])
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    assert "recomputation is due" not in _status(client, batch)
    adjudication_decide(
        actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("LAD", True)], rationale="", version=0
    )
    said = _status(client, batch)
    assert "An adjudicator signed decisions after these figures were computed" in said, said


def test_a_recomputation_no_worker_takes_says_so(ana, bruno, diego, tnmg, client_for):
    cache.delete("workers:took:default")
    exams = [ExamFactory(), ExamFactory()]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Consensus")
    read(ana, batch, exams[0], ["SR"])
    read(bruno, batch, exams[0], ["SR"])
    client = client_for(diego)
    assert "No worker" not in _status(client, batch)  # just submitted: the recomputation waits its turn
    Annotation.objects.filter(assignment__batch=batch).update(
        submitted_at=timezone.now() - timedelta(minutes=9)
    )
    said = _status(client, batch)
    assert "not been computed" in said
    assert "No worker has taken work from the queue “default”" in said and "9 minutes" in said, said
    batch_agreement_compute(batch.pk)  # a worker computed it: nothing is due, nothing to say
    assert "No worker" not in _status(client, batch) and "recomputation is due" not in _status(client, batch)
