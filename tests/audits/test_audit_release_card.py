"""A release whose batches were audited carries the audit's error rates on its dataset card, in the JSON
and the Markdown; a release of batches nobody audited carries none."""

from __future__ import annotations

import json

import pytest

from annotations.models import Release, ReviewBatch
from annotations.services.releases.builds import release_build
from tests.audits.helpers import audit_body, auditors, finished_study, read_all

pytestmark = pytest.mark.django_db


def _card(client, batch_ids: list[int]) -> tuple[dict, str]:
    response = client.post(
        "/api/v1/releases/", {"batches": batch_ids, "hdf5": False}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)

    def text(name: str) -> str:
        return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()

    return json.loads(text("dataset_card.json")), text("dataset_card.md")


def test_the_card_of_an_audited_release_gives_the_error_rates(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    _, flor = auditors()
    client = client_for(diego)
    created = client.post(
        "/api/v1/batches/audits/",
        audit_body(study, [flor.pk], sample_size=4),
        content_type="application/json",
    ).json()
    audit = ReviewBatch.objects.get(pk=created["id"])
    e = {key: exam.pk for key, exam in study.exams.items()}
    read_all(audit, flor, {e["E001"]: ["RBBB"], e["E002"]: ["NORM"], e["E003"]: ["NORM"], e["E004"]: ["ST"]})

    card, markdown = _card(client, [study.batch.pk])
    (entry,) = card["audit"]
    assert (entry["audit_batch"], entry["audit_of"]) == (audit.pk, [study.batch.pk])
    assert (entry["sample"], entry["population"], entry["seed"]) == (4, 4, 7)
    rows = {row["code"]: row for row in entry["classes"]}
    assert (rows["AF"]["errors"], rows["AF"]["compared"], rows["AF"]["error_rate"]) == (1, 4, 0.25)
    assert rows["AF"]["error_ci"] == pytest.approx([0.0455873, 0.6993582], abs=1e-5)  # Wilson, 1 of 4
    assert rows["NORM"]["false_negative_rate"] == 0.5
    assert entry["adjudicators"]["cells"] == 1 and entry["adjudicators"]["agreements"] == 1
    assert f"## Error rate of the released labels: audit batch {audit.pk}" in markdown
    assert "| AF | 1 of 4 | 0.250 | 0.046 to 0.699 | 1 of 4 | 0 of 0 | 0 | 0 |" in markdown
    assert "1 agreed (1.000" in markdown


def test_a_release_nobody_audited_has_no_audit(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    card, markdown = _card(client_for(diego), [study.batch.pk])
    assert card["audit"] == []
    assert "Error rate of the released labels" not in markdown
