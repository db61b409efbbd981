"""Creating a re-adjudication audit batch over the API, its refusals, its blinding, and what it found,
counted by hand on tests.exporting's study."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from annotations.models import Adjudication, Assignment, AuditEvent, ReviewBatch
from annotations.roles import Role
from annotations.services.batches.audits import audit_sample
from tests.audits.helpers import audit_body, auditors, finished_study, read_all
from tests.reading.helpers import ref
from tests.reading.test_reading_api import _everything_a_reader_can_open

pytestmark = pytest.mark.django_db
URL = "/api/v1/batches/audits/"


def _post(client, body):
    return client.post(URL, body, content_type="application/json")


def test_an_audit_batch_samples_the_exams_with_a_consensus_seeded(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, flor = auditors()
    response = _post(client_for(diego), audit_body(study, [dora.pk, flor.pk], sample_size=3))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sample"] == 3 and body["population"] == 4 and body["audit_of"] == [study.batch.pk]
    audit = ReviewBatch.objects.get(pk=body["id"])
    assert audit.design["kind"] == "audit" and audit.design["seed"] == 7
    assert audit.suggestion_mode == "hidden" and audit.taxonomy_id == study.batch.taxonomy_id
    population = sorted(exam.pk for key, exam in study.exams.items() if key != "E005")
    sampled = sorted(audit.batch_exams.values_list("exam_id", flat=True))
    assert sampled == audit_sample(population, 3, 7)
    assert AuditEvent.objects.filter(action="batch.audit_create", target_id=str(audit.pk)).count() == 1
    assert AuditEvent.objects.filter(action="batch.create", target_id=str(audit.pk)).count() == 1


def test_a_sample_fraction_takes_its_share_of_the_population(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    response = _post(client_for(diego), audit_body(study, [dora.pk], sample_fraction=0.5))
    assert response.status_code == 201, response.content
    assert response.json()["sample"] == 2


@pytest.mark.parametrize(
    "change,words",
    [
        ({"sample_size": 5}, "larger than the 4 exams"),
        ({"sample_size": 2, "auditor_ids": []}, "auditor_ids"),
        ({}, "either a sample size or a sample fraction"),
        ({"sample_size": 2, "sample_fraction": 0.5}, "either a sample size or a sample fraction"),
        ({"sample_fraction": 1.5}, "at most 1"),
    ],
)
def test_bad_audits_are_refused_and_create_nothing(ana, bruno, carla, diego, tnmg, client_for, change, words):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    batches = ReviewBatch.objects.count()
    response = _post(client_for(diego), {**audit_body(study, [dora.pk]), **change})
    assert response.status_code == 400
    assert words in json.dumps(response.json())
    assert ReviewBatch.objects.count() == batches
    assert not AuditEvent.objects.filter(action="batch.audit_create").exists()


def test_an_open_batch_is_not_audited(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg, close=False)  # E005 is still unread
    dora, _ = auditors()
    response = _post(client_for(diego), audit_body(study, [dora.pk], sample_size=2))
    assert response.status_code == 400
    assert "still open" in response.json()["detail"]
    assert ReviewBatch.objects.count() == 1


def test_only_coordinators_create_or_read_audits(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    assert _post(client_for(dora), audit_body(study, [dora.pk], sample_size=2)).status_code == 403
    assert client_for(dora).get(f"/api/v1/batches/{study.batch.pk}/audit/").status_code == 403
    # An ordinary batch is no audit: the answer names the audits made of it.
    response = client_for(diego).get(f"/api/v1/batches/{study.batch.pk}/audit/")
    assert response.status_code == 409 and response.json()["audits"] == []


def test_an_auditor_is_never_handed_an_exam_they_read_or_whose_dispute_they_saw(
    ana, bruno, carla, diego, tnmg, client_for
):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    carla.groups.add(Group.objects.get_or_create(name=Role.READER.value)[0])  # she adjudicates and reads
    body = audit_body(study, [ana.pk, carla.pk, dora.pk], sample_size=4)
    response = _post(client_for(diego), body)
    assert response.status_code == 201, response.content
    audit = ReviewBatch.objects.get(pk=response.json()["id"])
    slots = Assignment.objects.filter(batch=audit)
    assert not slots.filter(reader=ana).exists()  # ana read every exam of the study
    e004 = study.exams["E004"].pk
    assert Adjudication.objects.filter(exam_id=e004, adjudicator=carla).exists()
    assert not slots.filter(reader=carla, exam_id=e004).exists()  # carla decided its dispute
    assert slots.count() == 4


def test_an_audit_only_the_source_readers_could_read_is_refused(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    response = _post(client_for(diego), audit_body(study, [ana.pk], sample_size=2))
    assert response.status_code == 400
    assert ReviewBatch.objects.count() == 1


def test_auditors_see_nothing_of_the_source_reads(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    response = _post(client_for(diego), audit_body(study, [dora.pk], sample_size=4))
    audit = ReviewBatch.objects.get(pk=response.json()["id"])
    e004 = Assignment.objects.get(batch=audit, exam=study.exams["E004"])
    client = client_for(dora)
    bodies = _everything_a_reader_can_open(client, e004)
    context = json.loads(bodies[2])
    assert context["annotation"]["labels"] == []
    for body in bodies:
        text = body.decode()
        assert "clear sinus tachycardia" not in text  # the source adjudicator's rationale
    # The source batch's slots stay out of reach.
    source_slot = Assignment.objects.filter(batch=study.batch, exam=study.exams["E004"]).first()
    assert client.get(f"/api/v1/reading/assignments/{ref(source_slot)}/").status_code == 404


def test_what_an_audit_found_counted_by_hand(ana, bruno, carla, diego, tnmg, client_for):
    """The study's released labels: E001 RBBB; E002 AF; E003 NORM; E004 ST (adjudicated by carla), SB
    undecided. flor (an adjudicator who reads) re-reads all four: E001 RBBB, E002 NORM, E003 NORM,
    E004 ST. AF: one false positive in 4; NORM: one false negative in 4 (1 of 2 audit positives);
    SB: E004 undecided in the release, left out; carla's ST on E004 against flor's: agreed."""
    study = finished_study(ana, bruno, carla, diego, tnmg)
    _, flor = auditors()
    client = client_for(diego)
    created = _post(client, audit_body(study, [flor.pk], sample_size=4)).json()
    audit = ReviewBatch.objects.get(pk=created["id"])
    assert client.get(f"/api/v1/batches/{study.batch.pk}/audit/").json()["audits"] == [audit.pk]
    e = {key: exam.pk for key, exam in study.exams.items()}
    read_all(audit, flor, {e["E001"]: ["RBBB"], e["E002"]: ["NORM"], e["E003"]: ["NORM"], e["E004"]: ["ST"]})

    found = client.get(f"/api/v1/batches/{audit.pk}/audit/").json()
    assert (found["sample"], found["population"], found["exams_read"]) == (4, 4, 4)
    assert found["finite_population_correction"] == 0.0
    rows = {row["code"]: row for row in found["classes"]}
    assert set(rows) == {"RBBB", "AF", "NORM", "ST", "SB"}
    assert (rows["AF"]["errors"], rows["AF"]["compared"], rows["AF"]["false_positives"]) == (1, 4, 1)
    assert rows["AF"]["error_rate"] == 0.25 and rows["AF"]["false_negative_rate"] is None
    assert (rows["NORM"]["false_negatives"], rows["NORM"]["audit_positives"]) == (1, 2)
    assert rows["NORM"]["false_negative_rate"] == 0.5 and rows["NORM"]["false_positive_rate"] == 0.0
    assert rows["RBBB"]["errors"] == 0 and rows["ST"]["errors"] == 0
    assert (rows["SB"]["released_undecided"], rows["SB"]["compared"]) == (1, 3)
    adjudicators = found["adjudicators"]
    assert (adjudicators["cells"], adjudicators["agreements"], adjudicators["agreement"]) == (1, 1, 1.0)
    assert adjudicators["kappa"] is None  # one category throughout: kappa undefined


def test_the_refusal_speaks_the_language_asked_for(ana, bruno, carla, diego, tnmg, client_for):
    study = finished_study(ana, bruno, carla, diego, tnmg)
    dora, _ = auditors()
    response = client_for(diego).post(
        URL,
        audit_body(study, [dora.pk], sample_size=9),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="pt-br",
    )
    assert response.status_code == 400
    assert "uma amostra de 9 é maior que os 4 exames" in response.json()["detail"]
