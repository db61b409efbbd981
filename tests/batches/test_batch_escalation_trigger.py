"""What escalates: any class the reads differ on (the default), or only the classes the design lists; and
before creation, how many of the chosen exams each trigger would have escalated, where earlier reads
tell."""

import pytest

from annotations.models import Assignment, BatchExam, ReviewBatch
from annotations.services.batches.lifecycle import batch_create
from tests.batches.test_batch_escalation import read, slot
from tests.factories import DatasetFactory, ExamFactory, batch_for

pytestmark = pytest.mark.django_db


def _spec(tnmg, readers, dataset, **escalation):
    return {
        "name": "Triggered",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 2,
        "criteria": {"datasets": [dataset.name]},
        "escalation": "adjudicate",
        **escalation,
    }


def test_a_batch_escalating_on_listed_classes_ignores_a_disagreement_elsewhere(
    ana, bruno, diego, tnmg, client_for
):
    dataset = DatasetFactory(name="trig")
    calm, hot = ExamFactory(dataset=dataset), ExamFactory(dataset=dataset)
    spec = _spec(tnmg, [ana, bruno], dataset, escalation_trigger="classes", escalation_classes=["AF"])
    created = client_for(diego).post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["escalation"] == {
        "mode": "adjudicate",
        "cap": 1,
        "trigger": "classes",
        "classes": ["AF"],
    }
    read(ana, Assignment.objects.get(batch=batch, reader=ana, exam=calm), ["SB"])
    read(bruno, Assignment.objects.get(batch=batch, reader=bruno, exam=calm), ["ST"])
    assert BatchExam.objects.get(batch=batch, exam=calm).needs_adjudication is False
    read(ana, Assignment.objects.get(batch=batch, reader=ana, exam=hot), ["AF"])
    read(bruno, Assignment.objects.get(batch=batch, reader=bruno, exam=hot), ["SB"])
    assert BatchExam.objects.get(batch=batch, exam=hot).needs_adjudication is True


def test_the_default_trigger_is_any_class_and_is_stored_as_before(ana, bruno, diego, tnmg, client_for):
    dataset = DatasetFactory(name="trig")
    exam = ExamFactory(dataset=dataset)
    spec = _spec(tnmg, [ana, bruno], dataset, escalation_trigger="any")
    created = client_for(diego).post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201, created.content
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["escalation"] == {"mode": "adjudicate", "cap": 1}
    read(ana, slot(batch, ana), ["SB"])
    read(bruno, slot(batch, bruno), ["ST"])
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is True


@pytest.mark.parametrize(
    ("escalation", "said"),
    [
        ({"escalation_trigger": "classes", "escalation_classes": ["NOPE"]}, "NOPE"),
        ({"escalation_trigger": "classes", "escalation_classes": []}, "escalation_classes"),
        ({"escalation_trigger": "classes"}, "escalation_classes"),
        ({"escalation_trigger": "loud"}, "escalation_trigger"),
    ],
)
def test_a_bad_trigger_is_refused_and_nothing_is_stored(
    ana, bruno, diego, tnmg, client_for, escalation, said
):
    dataset = DatasetFactory(name="trig")
    ExamFactory(dataset=dataset)
    client = client_for(diego)
    spec = _spec(tnmg, [ana, bruno], dataset, **escalation)
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        refused = client.post(url, spec, content_type="application/json")
        assert refused.status_code == 400, refused.content
        assert said in refused.content.decode()
    assert not ReviewBatch.objects.exists()


def test_a_service_caller_cannot_store_an_unknown_class_either(ana, bruno, diego, tnmg):
    from annotations.errors import Invalid

    with pytest.raises(Invalid):
        batch_create(
            name="E",
            taxonomy=tnmg,
            exams=[ExamFactory()],
            readers=[ana, bruno],
            readers_per_exam=2,
            actor=diego,
            escalation={"mode": "adjudicate", "cap": 1, "trigger": "classes", "classes": ["NOPE"]},
        )
    assert not ReviewBatch.objects.exists()


def test_the_preview_counts_what_each_trigger_would_escalate_from_earlier_reads(
    ana, bruno, diego, tnmg, client_for
):
    dataset = DatasetFactory(name="trig")
    exams = [ExamFactory(dataset=dataset) for _ in range(3)]
    client = client_for(diego)
    spec = _spec(tnmg, [ana, bruno], dataset, escalation_trigger="classes", escalation_classes=["AF"])
    before = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    estimate = before["escalation_estimate"]
    assert estimate["exams_read"] == 0 and estimate["triggers"] == []
    assert "cannot be estimated" in estimate["note"]
    earlier = batch_for(tnmg, diego, [ana, bruno], exams, name="Earlier")
    answers = {exams[0].pk: (["SB"], ["SB"]), exams[1].pk: (["SB"], ["ST"]), exams[2].pk: (["AF"], ["SB"])}
    for exam_id, (a, b) in answers.items():
        read(ana, Assignment.objects.get(batch=earlier, reader=ana, exam_id=exam_id), a)
        read(bruno, Assignment.objects.get(batch=earlier, reader=bruno, exam_id=exam_id), b)
    preview = client.post(
        "/api/v1/batches/preview/",
        {**spec, "exclude_seen": False, "independence_off_reason": "test"},
        content_type="application/json",
    ).json()
    estimate = preview["escalation_estimate"]
    assert estimate["exams_read"] == 3
    assert estimate["triggers"] == [
        {"trigger": "any", "classes": [], "escalated": 2},
        {"trigger": "classes", "classes": ["AF"], "escalated": 1},
    ]
    assert "3 of the 3 chosen exams" in estimate["note"]


def test_the_designer_page_takes_the_trigger_shows_its_estimate_and_refuses_an_unknown_class(
    ana, bruno, diego, tnmg, client_for
):
    from tests.batches.test_batch_pages import design_post

    dataset = DatasetFactory(name="archive")
    ExamFactory(dataset=dataset)
    client = client_for(diego)
    post = design_post(
        tnmg, [ana, bruno], escalation="adjudicate", escalation_trigger="classes", escalation_classes="AF, SB"
    )
    page = client.post("/batches/new/", {**post, "action": "preview"}).content.decode()
    assert 'id="escalation-estimate"' in page and "cannot be estimated" in page
    created = client.post("/batches/new/", {**post, "action": "create"})
    assert created.status_code == 302
    assert ReviewBatch.objects.get().design["escalation"]["classes"] == ["AF", "SB"]
    refused = client.post("/batches/new/", {**post, "escalation_classes": "AF, NOPE", "action": "create"})
    assert "NOPE" in refused.content.decode() and ReviewBatch.objects.count() == 1
