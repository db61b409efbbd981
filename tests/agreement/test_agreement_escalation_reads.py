"""Agreement is measured on the designed first reads: an escalation's extra read goes only to an exam
whose reads already disagreed, so counted as an ordinary read it would bias every coefficient. The extra
reads still feed the consensus."""

import numpy as np
import pytest

from annotations.lib.stats import MISSING, class_agreement
from annotations.lib.stats.simulate import CODES, FAIR, simulate_study
from annotations.models import Assignment, Consensus
from annotations.selectors.agreement.summary import ReadsSnapshot
from annotations.services.agreement.compute import batch_agreement_compute
from tests.batches.test_batch_escalation import read
from tests.factories import ExamFactory, UserFactory, batch_for

LVH = CODES.index("LVH")


def _escalated_study(seed: int, n_exams: int) -> tuple[ReadsSnapshot, np.ndarray]:
    """Six readers of equal skill, three drawn per exam: the first two are the designed reads, the third
    an escalation read, kept only where the two disagree on some class (the "any class differs" rule).
    Returns the snapshot (extra reads marked) and the reads of all three, escalation or not."""
    study = simulate_study(seed, [FAIR] * 6, n_exams=n_exams, reads_per_exam=3)
    present = (study.reads != MISSING).any(axis=2)
    third = present & (np.cumsum(present, axis=0) == 3)
    designed = np.where(third[:, :, None], MISSING, study.reads)
    positive = (designed == 1).sum(axis=0)
    disputed = ((positive > 0) & (positive < 2)).any(axis=1)
    extra = third & disputed[None, :]
    reads = np.where((third & ~extra)[:, :, None], MISSING, study.reads)
    snapshot = ReadsSnapshot(
        reads=reads,
        reader_ids=list(range(6)),
        exam_ids=list(range(n_exams)),
        class_ids=list(range(len(CODES))),
        class_codes=list(CODES),
        class_names=list(CODES),
        read_count=int(present.sum()),
        latest_submission_at=None,
        extra=extra,
    )
    return snapshot, study.reads


def test_kappa_on_designed_reads_is_unbiased_where_counting_the_extra_reads_inflates_it():
    # The truth: Fleiss' kappa of readers of this skill, from a large study read without escalation.
    _, unselected = _escalated_study(1, 60_000)
    truth = class_agreement(unselected).fleiss_kappa[LVH]
    designed, counted = [], []
    for seed in range(100, 120):
        snapshot, _ = _escalated_study(seed, 2000)
        assert snapshot.extra_read_count > 0
        counted.append(class_agreement(snapshot.reads).fleiss_kappa[LVH])
        designed.append(class_agreement(snapshot.designed().reads).fleiss_kappa[LVH])
    print(f"LVH truth {truth:.3f} designed {np.mean(designed):.3f} with extras {np.mean(counted):.3f}")
    assert abs(np.mean(designed) - truth) < 0.015
    assert np.mean(counted) - truth > 0.04


@pytest.mark.django_db
def test_an_escalated_batchs_agreement_leaves_the_extra_read_out_and_its_consensus_counts_it(
    ana, bruno, diego, tnmg, client_for
):
    carol = UserFactory(username="carol", roles=["reader"])
    exam = ExamFactory()
    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno, carol],
        [exam],
        name="E",
        readers_per_exam=2,
        escalation={"mode": "add_reader_majority", "cap": 1},
    )
    first, second = Assignment.objects.filter(batch=batch).order_by("reader__username")
    read(first.reader, first, ["SB", "1dAVb"])
    read(second.reader, second, ["SB"])
    third = Assignment.objects.filter(batch=batch).exclude(pk__in=[first.pk, second.pk]).get()
    assert third.escalated and not first.escalated
    read(third.reader, third, ["SB", "1dAVb"])
    batch_agreement_compute(batch.pk)
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb")
    assert (row.value, row.method, row.positive_votes, row.total_votes) == (True, "majority", 2, 3)
    body = client_for(diego).get(f"/api/v1/batches/{batch.pk}/agreement/").json()
    assert body["escalation_reads"] == 1
    assert body["consensus"]["majority"] == 1  # 1dAVb, decided by the extra read
    classes = {row["code"]: row for row in body["classes"]}
    assert classes["1dAVb"]["positive_reads"] == 1  # the designed pair's one positive, not two
    assert classes["SB"]["positive_reads"] == 2
    readers = {row["reader_id"]: row for row in body["readers"]}
    assert readers[third.reader_id]["exams_read"] == 0
    page = client_for(diego).get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert "Escalation reads: 1, used for consensus only" in page
