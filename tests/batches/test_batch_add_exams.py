"""A running batch takes more exams by the designer's criteria: from the dashboard, the API and
`manage.py batch_add_exams`; and the designer's preview lists the chosen exams, gold and retest marked,
one page at a time."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from annotations.models import AuditEvent, BatchExam, DiagnosticClass, Exam
from tests.batches.test_batch_pages import design_post
from tests.batches.test_stratified_newest_scores import scored
from tests.factories import DatasetFactory, ExamFactory, add_reference_labels, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(ana, bruno, diego, tnmg):
    first = ExamFactory.create_batch(3, dataset=DatasetFactory(name="first"))
    ExamFactory.create_batch(4, dataset=DatasetFactory(name="more"))
    return batch_for(tnmg, diego, [ana, bruno], first, name="Running")


def test_the_dashboard_form_adds_matching_exams_to_a_running_batch(client_for, diego, running):
    response = client_for(diego).post(
        f"/batches/{running.pk}/add-exams/", {"datasets": ["more"], "sample_size": 3}, follow=True
    )
    assert "3 exams added" in response.content.decode()
    assert BatchExam.objects.filter(batch=running).count() == 6
    assert running.assignments.filter(exam__dataset__name="more").count() == 6
    assert AuditEvent.objects.filter(action="batch.add_exams").exists()
    # again: only the one left that is not in the batch yet
    client_for(diego).post(f"/batches/{running.pk}/add-exams/", {"datasets": ["more", "first"]})
    assert BatchExam.objects.filter(batch=running).count() == 7
    response = client_for(diego).post(
        f"/batches/{running.pk}/add-exams/", {"datasets": ["more"]}, follow=True
    )
    assert "every exam matching these criteria is in the batch already" in response.content.decode()


def test_the_api_adds_exams_by_criteria_and_refuses_bad_input(client_for, diego, ana, running):
    url = f"/api/v1/batches/{running.pk}/exams/"
    assert (
        client_for(ana)
        .post(url, {"criteria": {"datasets": ["more"]}}, content_type="application/json")
        .status_code
        == 403
    )
    client = client_for(diego)
    response = client.post(
        url, {"criteria": {"datasets": ["more"]}, "sample_size": 2}, content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["added"] == 2
    assert client.post(url, {"sample_size": 0}, content_type="application/json").status_code == 400
    response = client.post(url, {"criteria": {"datasets": ["nowhere"]}}, content_type="application/json")
    assert response.status_code == 400 and "no exam" in response.json()["detail"]
    assert BatchExam.objects.filter(batch=running).count() == 5


def test_the_command_adds_exams_by_the_designers_criteria(diego, running, capsys):
    call_command(
        "batch_add_exams", str(running.pk), "--coordinator", "diego", "--dataset", "more", "--sample", "1"
    )
    assert "1 exams added" in capsys.readouterr().out
    assert BatchExam.objects.filter(batch=running).count() == 4
    with pytest.raises(CommandError, match="no exam"):
        call_command("batch_add_exams", str(running.pk), "--coordinator", "diego", "--dataset", "nowhere")


def test_the_designer_preview_lists_chosen_gold_and_retest_exams_by_page(client_for, diego, ana, bruno, tnmg):
    for exam in ExamFactory.create_batch(12, dataset=DatasetFactory(name="archive")):
        add_reference_labels(exam, ("code15", "RBBB"))
    data = design_post(tnmg, [ana, bruno], action="preview", gold_fraction=0.25, retest_fraction=0.25)
    page = client_for(diego).post("/batches/new/", {**data, "exam_page_size": 5}).content.decode()
    table = page.split('id="plan-exams"', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r"<tr data-exam=", table)) == 5
    last = (
        client_for(diego)
        .post("/batches/new/", {**data, "exam_page_size": 5, "exam_page": 3})
        .content.decode()
    )
    table = last.split('id="plan-exams"', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r"<tr data-exam=", table)) == 2
    everything = client_for(diego).post("/batches/new/", data).content.decode()
    table = everything.split('id="plan-exams"', 1)[1].split("</table>", 1)[0]
    assert table.count('class="tag gold"') == 3 and table.count('class="tag retest"') >= 1


def test_the_dashboard_adds_exams_by_quality_and_by_a_model_score_window(client_for, diego, tnmg, running):
    """The dashboard's form offers the designer's quality criteria and score window, and applies them."""
    af = DiagnosticClass.objects.get(taxonomy=tnmg, code="AF")
    more = list(Exam.objects.filter(dataset__name="more").order_by("pk"))
    for exam, grade, score in zip(more, ["good", "good", "poor", "good"], [0.9, 0.2, 0.95, 0.7], strict=True):
        exam.quality_grade = grade
        exam.save(update_fields=["quality_grade"])
        scored(exam, "m", "1", timedelta(hours=1), {af: score})
    client = client_for(diego)
    dashboard = client.get(f"/batches/{running.pk}/").content.decode()
    assert 'name="quality_grades"' in dashboard and '<option value="m:AF">' in dashboard
    response = client.post(
        f"/batches/{running.pk}/add-exams/",
        {"datasets": ["more"], "quality_grades": ["good"], "score_window": "m:AF", "suggestion_min": "0.5"},
        follow=True,
    )
    assert "2 exams added" in response.content.decode()
    added = set(
        BatchExam.objects.filter(batch=running, exam__dataset__name="more").values_list("exam", flat=True)
    )
    assert added == {more[0].pk, more[3].pk}  # good and at least 0.5; the poor 0.95 and the good 0.2 left out
    refused = client.post(
        f"/batches/{running.pk}/add-exams/", {"datasets": ["more"], "suggestion_min": "0.5"}, follow=True
    )
    assert "choose the model score" in refused.content.decode()
    assert BatchExam.objects.filter(batch=running).count() == 5


@pytest.mark.parametrize("seed", [0, 5, 11])
def test_the_api_adds_a_seeded_sample_of_the_matching_exams_the_batch_lacks(client_for, diego, running, seed):
    """The sample is drawn from the matching exams the batch does not hold, in id order, with the seed: the
    same exams whichever way the pool is read."""
    more = list(Exam.objects.filter(dataset__name="more").order_by("pk"))
    extra = ExamFactory.create_batch(9, dataset=more[0].dataset)
    held_first = list(BatchExam.objects.filter(batch=running).values_list("exam_id", flat=True))
    client = client_for(diego)
    url = f"/api/v1/batches/{running.pk}/exams/"
    first = client.post(
        url, {"criteria": {"datasets": ["more"]}, "sample_size": 4, "seed": seed}, "application/json"
    )
    assert first.status_code == 201
    lacking = sorted(e.pk for e in [*more, *extra])
    chosen = sorted(random.Random(seed).sample(lacking, 4))
    assert sorted(BatchExam.objects.filter(batch=running).values_list("exam_id", flat=True)) == sorted(
        [*held_first, *chosen]
    )
    criteria = {"datasets": ["more", "first"]}
    again = client.post(url, {"criteria": criteria, "sample_size": 3, "seed": seed}, "application/json")
    assert again.status_code == 201 and again.json()["added"] == 3
    lacking = [pk for pk in lacking if pk not in chosen]
    chosen_again = sorted(random.Random(seed).sample(lacking, 3))
    assert sorted(BatchExam.objects.filter(batch=running).values_list("exam_id", flat=True)) == sorted(
        [*held_first, *chosen, *chosen_again]
    )


# "more" has exams the batch lacks; every exam of "first" is in it already.
@pytest.mark.parametrize("criteria", [{"datasets": ["more"]}, {"datasets": ["first"]}])
def test_a_closed_batch_refuses_more_exams_as_closed_whatever_the_criteria_match(
    client_for, diego, running, criteria
):
    """A closed batch is a conflict with the batch's state (409), said before the criteria are read: a
    coordinator told that no exam matches would change the criteria and be refused again."""
    from annotations.services.batches.lifecycle import batch_close

    batch_close(batch=running, actor=diego)
    client = client_for(diego)
    response = client.post(f"/api/v1/batches/{running.pk}/exams/", {"criteria": criteria}, "application/json")
    assert response.status_code == 409 and "is closed" in response.json()["detail"]
    page = client.post(f"/batches/{running.pk}/add-exams/", criteria, follow=True).content.decode()
    assert "is closed" in page and "no exam matching" not in page
    with pytest.raises(CommandError, match="is closed"):
        call_command(
            "batch_add_exams", str(running.pk), "--coordinator", "diego", "--dataset", criteria["datasets"][0]
        )
    assert BatchExam.objects.filter(batch=running).count() == 3


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"age_min": 80, "age_max": 20}, "age_min"),
        (
            {
                "suggestion_provider": "m",
                "suggestion_code": "AF",
                "suggestion_min": 0.9,
                "suggestion_max": 0.1,
            },
            "suggestion_min",
        ),
        ({"imported_from": "2026-05-01", "imported_to": "2026-01-01"}, "imported_from"),
        ({"acquired_from": "2020-05-01", "acquired_to": "2020-01-01"}, "acquired_from"),
    ],
)
def test_a_range_whose_low_end_is_above_its_high_end_is_bad_input_not_an_empty_match(
    client_for, diego, ana, tnmg, running, criteria, field
):
    """Told 'no exam matches', a coordinator looks for exams that are not there; the bounds were swapped."""
    client = client_for(diego)
    design = {"name": "Swapped", "taxonomy_id": tnmg.pk, "reader_ids": [ana.pk], "readers_per_exam": 1}
    for url, body in (
        ("/api/v1/batches/preview/", {**design, "criteria": criteria}),
        (f"/api/v1/batches/{running.pk}/exams/", {"criteria": criteria}),
    ):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content)
        assert field in response.json()["criteria"], response.json()
    if field == "age_min":  # the dashboard's form too
        page = client.post(f"/batches/{running.pk}/add-exams/", {"age_min": 80, "age_max": 20}, follow=True)
        assert "the lowest age is above the highest" in page.content.decode()
    assert BatchExam.objects.filter(batch=running).count() == 3


def test_a_reader_added_with_nothing_to_move_gets_a_share_of_exams_added_later(client_for, diego, running):
    """Every exam of the batch read, a reader added (nothing unread to move to them), then two exams added:
    all four new reads went to the two readers who had read everything and none to the newcomer, whose
    load was 0 (a coordinator's walk): the readers were counted from the slots, where the newcomer had
    none."""
    from annotations.services.reading import LabelInput, annotation_submit
    from tests.factories import UserFactory

    for slot in running.assignments.select_related("reader"):
        annotation_submit(actor=slot.reader, assignment=slot, labels=[LabelInput("SR")], revision=0)
    carol = UserFactory(username="carol", roles=["reader"])
    client = client_for(diego)
    added = client.post(
        f"/api/v1/batches/{running.pk}/readers/", {"reader_ids": [carol.pk]}, content_type="application/json"
    )
    assert added.status_code == 201 and added.json()["moved"] == 0, added.content
    response = client.post(
        f"/api/v1/batches/{running.pk}/exams/",
        {"criteria": {"datasets": ["more"]}, "sample_size": 2},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["added"] == 2
    new = running.assignments.filter(exam__dataset__name="more")
    assert new.count() == 4 and new.filter(reader=carol).count() == 2  # each new exam: carol and one other


def test_a_field_the_dashboard_form_refuses_is_named_by_its_label_in_the_coordinators_language(
    client_for, diego, running
):
    coordinator = client_for(diego)
    coordinator.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    url = f"/batches/{running.pk}/add-exams/"
    page = coordinator.post(url, {"datasets": ["more"], "sample_size": -1}, follow=True).content.decode()
    assert "Tamanho da amostra: " in page and "sample_size:" not in page
    coordinator.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = coordinator.post(url, {"datasets": ["more"], "sample_size": -1}, follow=True).content.decode()
    assert "Sample size: " in page
    assert BatchExam.objects.filter(batch=running).count() == 3


def test_adding_exams_with_fewer_readers_left_than_each_exam_needs_says_so(client_for, diego, bruno, running):
    bruno.is_active = False  # one of the two readers left; each exam needs two
    bruno.save(update_fields=["is_active"])
    before = (BatchExam.objects.filter(batch=running).count(), AuditEvent.objects.count())
    response = client_for(diego).post(
        f"/api/v1/batches/{running.pk}/exams/",
        {"criteria": {"datasets": ["more"]}},
        content_type="application/json",
    )
    assert response.status_code == 409, response.content[:300]
    assert "1 reader" in response.json()["detail"] and "2 readers per exam" in response.json()["detail"]
    page = client_for(diego).post(f"/batches/{running.pk}/add-exams/", {"datasets": ["more"]}, follow=True)
    assert page.status_code == 200 and "2 readers per exam" in page.content.decode()
    assert (BatchExam.objects.filter(batch=running).count(), AuditEvent.objects.count()) == before
