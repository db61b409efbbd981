"""The suite's builders (tests/factories.py) make what their names say, through the real services: a
started batch, a batch with its reads submitted, a disputed exam, an adjudicated one, a built release."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, Consensus, DisputedLabel, Release, ReviewBatch
from tests.factories import (
    adjudicated_exam,
    batch_for,
    batch_with_reads,
    disputed_exam,
    make_exam,
    release_of,
)

pytestmark = pytest.mark.django_db


def test_a_batch_for_readers_hands_every_reader_every_exam_unless_told_otherwise(ana, bruno, diego, tnmg):
    batch = batch_for(taxonomy=tnmg, actor=diego, readers=[ana, bruno], exams=3)
    assert batch.status == ReviewBatch.Status.ACTIVE and batch.readers_per_exam == 2
    assert Assignment.objects.filter(batch=batch, reader=ana).count() == 3
    exam = make_exam(seed=7)
    one = batch_for(
        taxonomy=tnmg, actor=diego, readers=[ana, bruno], exams=[exam], readers_per_exam=1, name="One"
    )
    assert list(Assignment.objects.filter(batch=one).values_list("exam_id", flat=True)) == [exam.pk]
    again = batch_for(taxonomy=tnmg, actor=diego, readers=[ana], exams=[exam], name="Again", again=True)
    assert Assignment.objects.filter(batch=again, reader=ana, exam=exam).exists()


def test_a_batch_with_reads_has_them_submitted_and_its_agreement_computed(ana, bruno, diego, tnmg):
    batch = batch_with_reads(
        taxonomy=tnmg, actor=diego, readers=[ana, bruno], reads=[[["SB"], ["SB"]], [["AF"], ["SB"]]]
    )
    assert not Assignment.objects.filter(batch=batch).exclude(status=Assignment.Status.SUBMITTED).exists()
    sb = Consensus.objects.filter(batch=batch, diagnostic_class__code="SB")
    assert list(sb.values_list("positive_votes", "total_votes")) == [(2, 2)]  # the first exam's
    tied = DisputedLabel.objects.filter(batch=batch).values_list("diagnostic_class__code", flat=True)
    assert sorted(tied) == ["AF", "SB"]  # the second's


def test_a_disputed_exam_is_open_and_an_adjudicated_one_is_settled(ana, bruno, carla, diego, tnmg):
    batch, exam = disputed_exam(taxonomy=tnmg, actor=diego, readers=[ana, bruno])
    assert DisputedLabel.objects.filter(batch=batch, exam=exam, diagnostic_class__code="1dAVb").exists()
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="SB").value is True

    settled, decided = adjudicated_exam(taxonomy=tnmg, actor=diego, readers=[ana, bruno], adjudicator=carla)
    consensus = Consensus.objects.get(batch=settled, exam=decided, diagnostic_class__code="1dAVb")
    assert (consensus.method, consensus.value) == (Consensus.Method.ADJUDICATED, True)


def test_a_release_of_a_batch_is_built(ana, bruno, diego, tnmg):
    batch = batch_with_reads(taxonomy=tnmg, actor=diego, readers=[ana, bruno], reads=[[["SB"], ["SB"]]])
    release = release_of(actor=diego, batches=[batch])
    assert release.status == Release.Status.DONE and list(release.batches.all()) == [batch]
