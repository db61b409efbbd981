"""The audit's pages: designing an audit beside the batch designer, its refusals, and what it found."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch
from tests.audits.helpers import auditors, finished_study, read_all

pytestmark = pytest.mark.django_db


def _form(study, auditor_ids, **extra) -> dict:
    return {
        "name": "Page audit",
        "audit_of": [study.batch.pk],
        "auditors": auditor_ids,
        "seed": 7,
        "readers_per_exam": 1,
        **extra,
    }


def test_the_batch_list_offers_an_audit_and_the_page_creates_one(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    _, flor = auditors()
    client = client_for(diego)
    assert 'href="/batches/new/audit/"' in client.get("/batches/").content.decode()
    assert 'href="/batches/new/audit/"' in client.get("/batches/new/").content.decode()  # the designer
    page = client.get("/batches/new/audit/")
    assert page.status_code == 200 and study.batch.name in page.content.decode()
    response = client.post("/batches/new/audit/", _form(study, [flor.pk], sample_size=4))
    audit = ReviewBatch.objects.get(name="Page audit")
    assert response.status_code == 302 and response["Location"] == f"/batches/{audit.pk}/audit/"
    assert (audit.design["sample"], audit.design["population"]) == (4, 4)

    e = {key: exam.pk for key, exam in study.exams.items()}
    read_all(audit, flor, {e["E001"]: ["RBBB"], e["E002"]: ["NORM"], e["E003"]: ["NORM"], e["E004"]: ["ST"]})
    assert f'href="/batches/{audit.pk}/audit/"' in client.get(f"/batches/{audit.pk}/").content.decode()
    assert (
        f'href="/batches/{audit.pk}/audit/"'
        in client.get(f"/batches/{study.batch.pk}/audit/").content.decode()
    )
    html = client.get(f"/batches/{audit.pk}/audit/").content.decode()
    assert "A simple random sample of 4 of 4 exams with a consensus (seed 7); 4 read so far." in html
    af = html.split('data-code="AF"')[1].split("</tr>")[0]
    assert "<td>1 / 4</td><td>0.250</td><td>0.046\u20130.699</td>" in af
    assert "1 of 1 adjudicated cells (1 exams) agreed (1.000)" in html


def test_the_page_refuses_a_sample_larger_than_the_population(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    response = client_for(diego).post("/batches/new/audit/", _form(study, [dora.pk], sample_size=9))
    assert response.status_code == 200
    assert "a sample of 9 is larger than the 4 exams" in response.content.decode()
    assert ReviewBatch.objects.count() == 1


def test_readers_reach_neither_audit_page(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    client = client_for(ana)
    assert client.get("/batches/new/audit/").status_code == 403
    assert client.get(f"/batches/{study.batch.pk}/audit/").status_code == 403
    assert (
        "Nobody has audited this batch."
        in client_for(diego).get(f"/batches/{study.batch.pk}/audit/").content.decode()
    )
