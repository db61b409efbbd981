"""Agreement on qualifiers through the agreement API and page: per statement and qualifier, among the reads
that chose the statement; per-statement agreement is what it was without qualifiers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotations.lib.stats import class_agreement
from annotations.lib.stats.qualifiers import qualifier_agreement
from annotations.models import Assignment
from annotations.roles import Role
from annotations.services.agreement.compute import batch_agreement_compute
from tests.factories import UserFactory
from tests.reading.helpers import ref, shared_batch

pytestmark = pytest.mark.django_db
READING = "/api/v1/reading/assignments"


@pytest.fixture
def study(client_for, ana, bruno, diego, tnmg):
    """Three readers, two exams. Exam 0: all mark the inactive area, A and B inferior, C lateral. Exam 1:
    A inferior and lateral, B inferior, C only sinus rhythm."""
    cris = UserFactory(username="cris", roles=[Role.READER])
    readers = [ana, bruno, cris]
    batch = shared_batch(readers=readers, coordinator=diego, taxonomy=tnmg, exams=2)
    exams = sorted({a.exam_id for a in Assignment.objects.filter(batch=batch)})
    eia = lambda *q: {"code": "EIA", "qualifiers": list(q)}  # noqa: E731
    chosen = {
        (ana, 0): [eia("inferior")],
        (bruno, 0): [eia("inferior")],
        (cris, 0): [eia("lateral")],
        (ana, 1): [eia("inferior", "lateral")],
        (bruno, 1): [eia("inferior")],
        (cris, 1): [{"code": "SR"}],
    }
    for (reader, exam), labels in chosen.items():
        slot = Assignment.objects.get(batch=batch, reader=reader, exam_id=exams[exam])
        answer = client_for(reader).post(
            f"{READING}/{ref(slot)}/submit/",
            json.dumps({"labels": labels, "revision": 0}),
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.content
    batch_agreement_compute(batch.pk)
    return batch


def test_the_api_gives_agreement_on_each_qualifier_among_reads_that_chose_the_statement(
    study, client_for, diego
):
    data = client_for(diego).get(f"/api/v1/batches/{study.pk}/agreement/").json()
    rows = {(row["code"], row["qualifier"]): row for row in data["qualifiers"]}
    assert set(rows) == {("EIA", "inferior"), ("EIA", "lateral")}  # the qualifiers anyone chose
    # Readers A, B, C (by username: ana, bruno, cris); exam 1's third read did not choose the statement.
    statement = np.array([[1, 1], [1, 1], [1, 0]])
    chosen = np.array([[[1, 0], [1, 1]], [[1, 0], [1, 0]], [[0, 1], [0, 0]]], dtype=bool)
    expected = qualifier_agreement(statement, chosen)
    inferior = rows[("EIA", "inferior")]
    # Exam 0: 1 of 3 pairs agree; exam 1: its one pair agrees -> (1/3 + 1) / 2.
    assert inferior["observed_agreement"] == pytest.approx(2 / 3)
    assert inferior["observed_agreement"] == pytest.approx(float(expected.observed_agreement[0]))
    assert inferior["fleiss_kappa"] == pytest.approx(float(expected.fleiss_kappa[0]))
    assert inferior["gwet_ac1"] == pytest.approx(float(expected.gwet_ac1[0]))
    assert (inferior["statement_reads"], inferior["pairable_exams"], inferior["label"]) == (5, 2, "Inferior")
    assert rows[("EIA", "lateral")]["fleiss_kappa"] == pytest.approx(float(expected.fleiss_kappa[1]))
    # The statement's own agreement is computed from the statement alone, qualifiers aside.
    eia = next(row for row in data["classes"] if row["code"] == "EIA")
    alone = class_agreement(np.array([[[1], [1]], [[1], [1]], [[1], [0]]]))
    assert eia["fleiss_kappa"] == pytest.approx(float(alone.fleiss_kappa[0]), nan_ok=True)


def test_the_agreement_page_shows_the_qualifier_table(study, client_for, diego):
    page = client_for(diego).get(f"/batches/{study.pk}/agreement/").content.decode()
    assert 'id="qualifier-agreement"' in page
    assert "Inferior" in page
