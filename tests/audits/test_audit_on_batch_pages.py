"""What a re-adjudication audit found reaches the audited batch's own page, its agreement page and its
agreement API (a summary and a link), not only the audit's page."""

from __future__ import annotations

import re

import pytest

from annotations.services.adjudication import Decision, adjudication_decide
from tests.audits.helpers import audit_body, auditors, finished_study, read_all

pytestmark = pytest.mark.django_db


def _audited(ana, bruno, carla, diego, tnmg, client):
    """tests.exporting's study with carla deciding SB absent on E004 too (beside ST present), then audited
    by flor, who adjudicates and reads E004 as NORM alone: SB absent agreed, ST present not."""
    study = finished_study(ana, bruno, carla, diego, tnmg, close=False)
    adjudication_decide(
        actor=carla,
        batch=study.batch,
        exam_id=study.exams["E004"].pk,
        decisions=[Decision("SB", False)],
        rationale="no bradycardia",
        version=1,
    )
    from annotations.services.batches.lifecycle import batch_close

    batch_close(batch=study.batch, actor=diego)
    _, flor = auditors()
    created = client.post(
        "/api/v1/batches/audits/",
        audit_body(study, [flor.pk], sample_size=4),
        content_type="application/json",
    ).json()
    e = {key: exam.pk for key, exam in study.exams.items()}
    from annotations.models import ReviewBatch

    audit = ReviewBatch.objects.get(pk=created["id"])
    read_all(
        audit, flor, {e["E001"]: ["RBBB"], e["E002"]: ["NORM"], e["E003"]: ["NORM"], e["E004"]: ["NORM"]}
    )
    return study, audit


def test_the_audited_batch_s_pages_and_api_summarise_the_audit(ana, bruno, carla, diego, tnmg, client_for):
    client = client_for(diego)
    study, audit = _audited(ana, bruno, carla, diego, tnmg, client)
    found = client.get(f"/api/v1/batches/{audit.pk}/audit/").json()
    judged = found["adjudicators"]
    assert (judged["cells"], judged["agreements"]) == (2, 1)
    assert judged["kappa"] is not None

    summary = client.get(f"/api/v1/batches/{study.batch.pk}/agreement/").json()["audits"]
    assert len(summary) == 1
    (entry,) = summary
    assert entry["audit_batch"] == audit.pk and entry["url"] == f"/api/v1/batches/{audit.pk}/audit/"
    assert entry["adjudicators"] == judged
    assert (entry["sample"], entry["population"], entry["exams_read"]) == (4, 4, 4)
    assert entry["errors"] == sum(row["errors"] for row in found["classes"])
    assert entry["compared"] == sum(row["compared"] for row in found["classes"])

    kappa = f"{judged['kappa']:.3f}"
    for page in (f"/batches/{study.batch.pk}/", f"/batches/{study.batch.pk}/agreement/"):
        html = client.get(page).content.decode()
        section = re.search(r'<section class="card" id="audits-summary">.*?</section>', html, re.S).group(0)
        assert f'href="/batches/{audit.pk}/audit/"' in section, page
        assert "1 of 2 adjudicated cells agreed (0.500" in section, page
        assert f'<span class="audit-kappa">{kappa}</span>' in section, page
        assert f"differ on {entry['errors']} of {entry['compared']} cells" in section, page


def test_a_batch_nobody_audited_shows_no_audit_section(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    client = client_for(diego)
    assert 'id="audits-summary"' not in client.get(f"/batches/{study.batch.pk}/").content.decode()
    assert client.get(f"/api/v1/batches/{study.batch.pk}/agreement/").json()["audits"] == []


def test_the_audit_s_own_agreement_page_links_its_findings(ana, bruno, carla, diego, tnmg, client_for):
    client = client_for(diego)
    _, audit = _audited(ana, bruno, carla, diego, tnmg, client)
    html = client.get(f"/batches/{audit.pk}/agreement/").content.decode()
    assert f'href="/batches/{audit.pk}/audit/"' in html
