"""Gold exams are read by every reader and chosen for their known answer: counted beside the sampled exams
they would lift every coefficient. Agreement is computed on the sampled exams alone; the gold exams still
score each reader and feed the consensus, and the figures say how many were kept out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from statsmodels.stats.inter_rater import fleiss_kappa

from annotations.models import Assignment, Consensus, ReferenceLabel
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.card import batch_agreement
from tests.agreement import test_agreement_tables as tables
from tests.agreement.test_agreement_tables import download, number, read
from tests.factories import ExamFactory, UserFactory, batch_for

pytestmark = pytest.mark.django_db
code15 = tables.code15

# Non-gold exams: the RBBB marks of the two readers the design drew for each.
SAMPLED = [(1, 1), (1, 0), (0, 0), (0, 1), (0, 0), (0, 0), (1, 1), (0, 1), (0, 0), (1, 0)]


def _fleiss_rbbb() -> float:
    table = np.array([[sum(pair), 2 - sum(pair)] for pair in SAMPLED])
    return float(fleiss_kappa(table, method="fleiss"))


def _gold_batch(ana, bruno, diego, code15):
    """Ten sampled exams read by two of three readers (SAMPLED), four gold RBBB exams read by all three."""
    readers = [ana, bruno, UserFactory(username="carol", roles=["reader"])]
    sampled = ExamFactory.create_batch(len(SAMPLED))
    gold = ExamFactory.create_batch(4)
    for exam in gold:
        ReferenceLabel.objects.create(exam=exam, code_system="code15", code="RBBB")
    batch = batch_for(
        code15, diego, readers, sampled + gold, name="Gold", readers_per_exam=2, gold_exams=gold, seed=4
    )
    for exam, marks in zip(sampled, SAMPLED, strict=True):
        slots = Assignment.objects.filter(batch=batch, exam=exam).order_by("reader_id")
        for slot, mark in zip(slots, marks, strict=True):
            read(slot.reader, batch, exam, ["RBBB"] if mark else [])
    for exam in gold:  # every reader finds the gold RBBB: perfect agreement, were it counted
        for reader in readers:
            read(reader, batch, exam, ["RBBB"])
    return batch, gold


def test_gold_exams_stay_out_of_agreement_but_score_readers_and_reach_consensus(
    client, ana, bruno, diego, code15
):
    batch, gold = _gold_batch(ana, bruno, diego, code15)
    batch_agreement_compute(batch.pk)

    client.force_login(diego)
    body = client.get(f"/api/v1/batches/{batch.pk}/agreement/").json()
    classes = {row["code"]: row for row in body["classes"]}
    assert classes["RBBB"]["fleiss_kappa"] == pytest.approx(_fleiss_rbbb(), abs=1e-12)
    assert classes["RBBB"]["positive_reads"] == sum(map(sum, SAMPLED))
    assert classes["RBBB"]["n_exams_read"] == len(SAMPLED)
    assert body["gold_exams_left_out"] == 4
    csv_rows = {row["code"]: row for row in download(client, diego, batch, "classes")}
    assert number(csv_rows["RBBB"]["fleiss_kappa"]) == pytest.approx(_fleiss_rbbb(), abs=1e-12)
    reader_rows = {row["reader"]: row for row in download(client, diego, batch, "readers")}
    assert reader_rows["ana"]["gold_exams"] == "4"
    assert number(reader_rows["ana"]["gold_exam_accuracy"]) == 1.0
    reader_classes = download(client, diego, batch, "reader_classes")
    assert any(r["reference"] == "gold" and r["code"] == "RBBB" and r["n"] == "4" for r in reader_classes)
    # The gold exams' reads still decide their consensus.
    decided = Consensus.objects.filter(batch=batch, exam__in=gold, diagnostic_class__code="RBBB", value=True)
    assert decided.count() == 4
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert "Gold exams: 4, left out of agreement" in page
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert "Gold exams: 4, left out of agreement" in page


def test_the_release_card_measures_agreement_without_gold_exams_computed_or_stored(
    tmp_path, ana, bruno, diego, code15
):
    batch, _ = _gold_batch(ana, bruno, diego, code15)
    # Before any computation is stored (a release written straight from the reads), the card computes the
    # figures itself; it must compute the same ones the stored result holds.
    cards = {"computed": batch_agreement(batch, {})}
    call_command(
        "export_labels", "--batch", str(batch.pk), "--out", str(tmp_path), "--no-hdf5", "--no-progress"
    )
    cards["stored"] = json.loads((tmp_path / "dataset_card.json").read_text())["agreement"][str(batch.pk)]
    for source, agreement in cards.items():
        assert agreement["source"] == source
        assert agreement["classes"]["RBBB"]["fleiss_kappa"] == pytest.approx(_fleiss_rbbb(), abs=1e-6)
        assert agreement["gold_exams_left_out"] == 4
        assert agreement["interval_method"] == "exams_and_readers"  # three readers: readers as random
        assert (
            agreement["classes"]["RBBB"]["fleiss_kappa_ci"]
            == cards["stored"]["classes"]["RBBB"]["fleiss_kappa_ci"]
        )
    markdown = (tmp_path / "dataset_card.md").read_text()
    assert f"Batch {batch.pk}: 95% intervals" in markdown and "4 gold exams left out" in markdown
    flow = json.loads((tmp_path / "dataset_card.json").read_text())["flow"]
    assert (flow["exams_designed"], flow["exams_gold"]) == (14, 4)
    assert "| of which gold exams (read by every reader; left out of agreement) | 4 |" in markdown
