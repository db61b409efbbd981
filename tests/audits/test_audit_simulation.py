"""A simulation with known truth through the whole product: a batch of 400 exams whose released consensus
is wrong on a planted 8% of them, an audit of a random half read by an auditor who reads the truth, and
the estimated error rate's interval, read from the API, covering the planted rate."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.models import ReviewBatch
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.batches.lifecycle import batch_close
from tests.audits.helpers import auditors, read_all
from tests.factories import ExamFactory, batch_for

pytestmark = pytest.mark.django_db
N_EXAMS, PLANTED = 400, 0.08


def test_the_audit_s_interval_covers_a_planted_error_rate(ana, diego, tnmg, client_for):
    rng = np.random.default_rng(2026)
    exams = [ExamFactory() for _ in range(N_EXAMS)]
    truth = {exam.pk: bool(rng.random() < 0.3) for exam in exams}  # AF present, else NORM
    wrong = set(
        rng.choice([exam.pk for exam in exams], size=round(PLANTED * N_EXAMS), replace=False).tolist()
    )
    source = batch_for(tnmg, diego, [ana], exams, name="Single read", seed=1)
    # One read per exam: the consensus is that read (method single), wrong where it was planted wrong.
    read_all(source, ana, {pk: ["AF"] if truth[pk] != (pk in wrong) else ["NORM"] for pk in truth})
    batch_agreement_compute(source.pk)
    batch_close(batch=source, actor=diego)

    dora, _ = auditors()
    client = client_for(diego)
    body = {"name": "Audit", "audit_of": [source.pk], "auditor_ids": [dora.pk], "seed": 9, "sample_size": 200}
    response = client.post("/api/v1/batches/audits/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["population"] == N_EXAMS
    audit = ReviewBatch.objects.get(pk=response.json()["id"])
    read_all(audit, dora, {pk: ["AF"] if truth[pk] else ["NORM"] for pk in truth})

    found = client.get(f"/api/v1/batches/{audit.pk}/audit/").json()
    rows = {row["code"]: row for row in found["classes"]}
    sampled = set(audit.batch_exams.values_list("exam_id", flat=True))
    for code in ("AF", "NORM"):
        row = rows[code]
        assert row["compared"] == 200
        assert row["errors"] == len(sampled & wrong)  # every planted error in the sample, and no other
        low, high = row["error_ci"]
        assert low <= PLANTED <= high, (code, row["error_rate"], low, high)
    assert found["finite_population_correction"] == pytest.approx(np.sqrt(200 / 399))
