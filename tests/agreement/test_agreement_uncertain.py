"""Marks a reader flags as uncertain count as positives in every agreement figure; a reviewer asks how
much that matters. Each class with uncertain marks gets Fleiss' kappa three ways (uncertain marks as
positive, as absent, and the cells left out), checked against statsmodels, through the API and the page."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from annotations.models import Assignment
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.factories import ExamFactory, batch_for

pytestmark = pytest.mark.django_db
# exam -> reader -> RBBB read: 1 present, "?" present but uncertain, 0 absent
READS = [
    {"ana": 1, "bruno": 1, "carol": 1},
    {"ana": 1, "bruno": "?", "carol": 0},
    {"ana": 0, "bruno": 0, "carol": 0},
    {"ana": "?", "bruno": 1, "carol": 1},
    {"ana": 0, "bruno": "?", "carol": 0},
    {"ana": 1, "bruno": 1, "carol": 0},
    {"ana": 0, "bruno": 0, "carol": 0},
    {"ana": 1, "bruno": 1, "carol": 1},
]


def statsmodels_kappa(rows: list[list[int]]) -> float:
    table, _ = aggregate_raters(np.array(rows))
    return float(fleiss_kappa(table, method="fleiss"))


def irrcac_fleiss(rows: list[list[int | None]]) -> float:
    """Fleiss' kappa as irrCAC's fleiss.kappa.raw computes it with unequal raters per exam (Gwet 2014):
    observed agreement averaged over exams read twice or more, chance from per-exam proportions."""
    kept = [[v for v in row if v is not None] for row in rows]
    kept = [row for row in kept if len(row) >= 2]
    share = np.mean([sum(row) / len(row) for row in kept])
    chance = share**2 + (1 - share) ** 2
    observed = np.mean(
        [
            (sum(r) * (sum(r) - 1) + (len(r) - sum(r)) * (len(r) - sum(r) - 1)) / (len(r) * (len(r) - 1))
            for r in kept
        ]
    )
    return float((observed - chance) / (1 - chance))


def test_each_class_with_uncertain_marks_gets_kappa_three_ways(client, ana, bruno, diego, tnmg):
    from tests.factories import UserFactory

    carol = UserFactory(username="carol", roles=["reader"])
    readers = {"ana": ana, "bruno": bruno, "carol": carol}
    exams = ExamFactory.create_batch(len(READS))
    batch = batch_for(tnmg, diego, list(readers.values()), exams, name="Uncertain", readers_per_exam=3)
    for exam, row in zip(exams, READS, strict=True):
        for name, mark in row.items():
            slot = Assignment.objects.get(batch=batch, exam=exam, reader=readers[name])
            draft = annotation_save_draft(actor=readers[name], assignment=slot, labels=[], revision=0)
            labels = [LabelInput("SR")] + ([LabelInput("RBBB", uncertain=mark == "?")] if mark else [])
            annotation_submit(actor=readers[name], assignment=slot, labels=labels, revision=draft.revision)
    batch_agreement_compute(batch.pk)
    client.force_login(diego)
    body = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    [rbbb] = [row for row in body["uncertain"]["classes"] if row["code"] == "RBBB"]
    as_positive = [[1 if m else 0 for m in row.values()] for row in READS]
    as_absent = [[1 if m == 1 else 0 for m in row.values()] for row in READS]
    left_out = [[None if m == "?" else m for m in row.values()] for row in READS]
    assert rbbb["uncertain_marks"] == 3 and body["uncertain"]["marks"] == 3
    assert rbbb["as_positive"] == pytest.approx(statsmodels_kappa(as_positive), abs=1e-12)
    assert rbbb["as_absent"] == pytest.approx(statsmodels_kappa(as_absent), abs=1e-12)
    # Left out, exams keep the reads they have (statsmodels needs equal raters): irrCAC's formula.
    assert rbbb["left_out"] == pytest.approx(irrcac_fleiss(left_out), abs=1e-12)
    assert irrcac_fleiss(as_positive) == pytest.approx(statsmodels_kappa(as_positive), abs=1e-12)
    # The figure the batch reports is the first of the three: uncertain marks count as positives.
    [reported] = [row for row in body["classes"] if row["code"] == "RBBB"]
    assert reported["fleiss_kappa"] == pytest.approx(rbbb["as_positive"], abs=1e-12)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert 'id="uncertain-sensitivity"' in page and "RBBB" in page
