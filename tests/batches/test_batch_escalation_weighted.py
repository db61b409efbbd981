"""The clinically weighted escalation trigger: an exam escalates when the weights of the statements its
reads disagree on add up to the design's threshold (weights from the shipped table, overridable per
statement); the design, its audit row and the batch page record it, and the preview counts it."""

import json

import pytest

from annotations.models import Assignment, AuditEvent, BatchExam, ReviewBatch
from annotations.selectors.batches.escalation import WEIGHTS_FILE, default_weights
from annotations.services.batches.lifecycle import batch_create
from tests.batches.test_batch_escalation import read
from tests.factories import DatasetFactory, ExamFactory, batch_for

pytestmark = pytest.mark.django_db


def _spec(tnmg, readers, dataset, **escalation):
    return {
        "name": "Weighted",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 2,
        "criteria": {"datasets": [dataset.name]},
        "escalation": "adjudicate",
        **escalation,
    }


def _weighted(**extra):
    return {"escalation_trigger": "weighted", "escalation_threshold": 3, **extra}


def test_the_shipped_table_weighs_every_shipped_statement_and_life_threatening_ones_most(tnmg):
    from annotations.services.taxonomy import SHIPPED_DIR

    table = json.loads(WEIGHTS_FILE.read_text())["taxonomies"]
    for path in [*SHIPPED_DIR.glob("*.json"), *SHIPPED_DIR.glob("archive/*.json")]:
        shipped = json.loads(path.read_text())
        assert {c["code"] for c in shipped["classes"]} <= set(table[shipped["key"]]), path.name
    weights = default_weights(tnmg)
    assert len(weights) == tnmg.classes.count() and min(weights.values()) >= 0
    assert min(weights[c] for c in ("VT", "AVB3", "STEMI")) > max(weights[c] for c in ("AF", "RBBB"))
    assert max(weights[c] for c in ("SA", "LOWV_LIMB", "LOWV_PREC")) < weights["RBBB"]


def test_only_exams_whose_disputed_weight_reaches_the_threshold_are_escalated(
    ana, bruno, diego, tnmg, client_for
):
    dataset = DatasetFactory(name="weighted")
    minor, urgent, summed, overridden = (ExamFactory(dataset=dataset) for _ in range(4))
    spec = _spec(tnmg, [ana, bruno], dataset, **_weighted(escalation_weights={"SB": 3, "ERP": 0}))
    created = client_for(diego).post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    rule = batch.design["escalation"]
    assert rule["trigger"] == "weighted" and rule["threshold"] == 3.0
    assert rule["overrides"] == {"SB": 3.0, "ERP": 0.0}
    assert rule["weights"]["SB"] == 3.0 and rule["weights"]["VT"] == default_weights(tnmg)["VT"]
    assert len(rule["weights"]) == tnmg.classes.count()
    audit = AuditEvent.objects.get(action="batch.create").after
    assert audit["escalation"] == rule
    answers = {
        minor: (["SR", "SA"], ["SR", "ERP"]),  # 0.5 + 0 disputed
        urgent: (["AF"], ["SR"]),  # AF 3 + SR 0.5
        summed: (["SR", "1dAVb", "RBBB", "LAFB"], ["SR"]),  # 1 + 1 + 1
        overridden: (["SB"], ["SB", "ERP"]),  # SB agreed; ERP weighs 0 here
    }
    for exam, (a, b) in answers.items():
        read(ana, Assignment.objects.get(batch=batch, reader=ana, exam=exam), a)
        read(bruno, Assignment.objects.get(batch=batch, reader=bruno, exam=exam), b)
    escalated = set(
        BatchExam.objects.filter(batch=batch, needs_adjudication=True).values_list("exam_id", flat=True)
    )
    assert escalated == {urgent.pk, summed.pk}


def test_an_overridden_weight_escalates_what_the_table_alone_would_not(ana, bruno, diego, tnmg, client_for):
    dataset = DatasetFactory(name="weighted")
    exam = ExamFactory(dataset=dataset)
    spec = _spec(tnmg, [ana, bruno], dataset, **_weighted(escalation_weights={"SB": 3}))
    batch = ReviewBatch.objects.get(
        pk=client_for(diego).post("/api/v1/batches/", spec, content_type="application/json").json()["id"]
    )
    read(ana, Assignment.objects.get(batch=batch, reader=ana, exam=exam), ["SB"])
    read(bruno, Assignment.objects.get(batch=batch, reader=bruno, exam=exam), ["SR"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is True


@pytest.mark.parametrize(
    ("escalation", "said"),
    [
        (_weighted(escalation_weights={"NOPE": 2}), "NOPE"),
        (_weighted(escalation_weights={"SB": -1}), "escalation_weights"),
        (_weighted(escalation_threshold=0), "escalation_threshold"),
        (_weighted(escalation_threshold=-2), "escalation_threshold"),
        ({"escalation_trigger": "weighted"}, "escalation_threshold"),
    ],
)
def test_bad_weights_or_threshold_are_refused_and_nothing_is_stored(
    ana, bruno, diego, tnmg, client_for, escalation, said
):
    dataset = DatasetFactory(name="weighted")
    ExamFactory(dataset=dataset)
    client = client_for(diego)
    spec = _spec(tnmg, [ana, bruno], dataset, **escalation)
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        refused = client.post(url, spec, content_type="application/json")
        assert refused.status_code == 400, refused.content
        assert said in refused.content.decode()
    assert not ReviewBatch.objects.exists() and not AuditEvent.objects.filter(action="batch.create").exists()


def test_a_service_caller_cannot_store_a_negative_weight_either(ana, bruno, diego, tnmg):
    from annotations.errors import Invalid

    rule = {"mode": "adjudicate", "cap": 1, "trigger": "weighted", "threshold": 3, "weights": {"SB": -1}}
    with pytest.raises(Invalid):
        batch_create(
            name="E",
            taxonomy=tnmg,
            exams=[ExamFactory()],
            readers=[ana, bruno],
            readers_per_exam=2,
            actor=diego,
            escalation=rule,
        )
    assert not ReviewBatch.objects.exists()


def test_the_preview_counts_what_the_weighted_trigger_would_escalate(ana, bruno, diego, tnmg, client_for):
    dataset = DatasetFactory(name="weighted")
    exams = [ExamFactory(dataset=dataset) for _ in range(4)]
    earlier = batch_for(tnmg, diego, [ana, bruno], exams, name="Earlier")
    answers = [(["SR"], ["SR"]), (["SR", "SA"], ["SR"]), (["AF"], ["SR"]), (["SB", "1dAVb", "RBBB"], [])]
    for exam, (a, b) in zip(exams, answers, strict=True):
        read(ana, Assignment.objects.get(batch=earlier, reader=ana, exam=exam), a)
        read(bruno, Assignment.objects.get(batch=earlier, reader=bruno, exam=exam), b or ["NORM"])
    spec = _spec(tnmg, [ana, bruno], dataset, **_weighted(escalation_weights={"NORM": 0}))
    preview = client_for(diego).post(
        "/api/v1/batches/preview/",
        {**spec, "exclude_seen": False, "independence_off_reason": "test"},
        content_type="application/json",
    )
    assert preview.status_code == 200, preview.content
    estimate = preview.json()["escalation_estimate"]
    assert estimate["exams_read"] == 4
    assert estimate["triggers"] == [
        {"trigger": "any", "classes": [], "escalated": 3},
        {"trigger": "weighted", "classes": [], "threshold": 3.0, "escalated": 2},
    ]
    assert "weighted" in estimate["note"]


def test_the_designer_page_takes_weights_shows_the_estimate_and_the_batch_page_the_rule(
    ana, bruno, diego, tnmg, client_for
):
    from tests.batches.test_batch_pages import design_post

    dataset = DatasetFactory(name="archive")
    ExamFactory(dataset=dataset)
    client = client_for(diego)
    post = design_post(
        tnmg,
        [ana, bruno],
        escalation="adjudicate",
        escalation_trigger="weighted",
        escalation_weights="SB=3, SA = 0",
        escalation_threshold="2.5",
    )
    page = client.post("/batches/new/", {**post, "action": "preview"}).content.decode()
    assert 'id="escalation-estimate"' in page and 'name="escalation_weights"' in page
    created = client.post("/batches/new/", {**post, "action": "create"})
    assert created.status_code == 302, created.content.decode()[:2000]
    batch = ReviewBatch.objects.get()
    assert batch.design["escalation"]["overrides"] == {"SB": 3.0, "SA": 0.0}
    assert batch.design["escalation"]["threshold"] == 2.5
    detail = client.get(f"/batches/{batch.pk}/").content.decode()
    assert 'id="escalation-rule"' in detail and "2.5" in detail and "SB=3" in detail
    for bad, said in (("SB=3, NOPE=1", "NOPE"), ("SB=-1", "SB"), ("SB=lots", "SB=lots")):
        refused = client.post("/batches/new/", {**post, "escalation_weights": bad, "action": "create"})
        assert said in refused.content.decode() and ReviewBatch.objects.count() == 1
    refused = client.post("/batches/new/", {**post, "escalation_threshold": "0", "action": "create"})
    assert refused.status_code == 200 and ReviewBatch.objects.count() == 1


def test_the_rule_is_said_in_portuguese_on_the_batch_page(ana, bruno, diego, tnmg, client_for):
    dataset = DatasetFactory(name="weighted")
    ExamFactory(dataset=dataset)
    client = client_for(diego)
    spec = _spec(tnmg, [ana, bruno], dataset, **_weighted())
    batch_id = client.post("/api/v1/batches/", spec, content_type="application/json").json()["id"]
    page = client.get(f"/batches/{batch_id}/", HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9").content.decode()
    assert "pesos clínicos" in page and "limiar" in page
