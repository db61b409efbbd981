"""The audit trail: every kind of write leaves an event; coordinators browse and export it."""

import csv
import io

import pytest

from annotations.models import Assignment, AuditEvent
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.factories import ExamFactory, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(ana, diego, tnmg):
    batch = batch_for(tnmg, diego, [ana], ExamFactory.create_batch(2), name="Audited")
    slot = Assignment.objects.filter(batch=batch).first()
    draft = annotation_save_draft(actor=ana, assignment=slot, labels=[LabelInput("SB")], revision=0)
    annotation_submit(actor=ana, assignment=slot, labels=[LabelInput("ST")], revision=draft.revision)
    return batch


def test_reads_and_their_revisions_and_batch_changes_each_leave_an_event(study, ana, diego):
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_username"))
    assert ("batch.create", "diego") in actions
    assert ("annotation.save_draft", "ana") in actions
    assert ("annotation.submit", "ana") in actions
    submitted = AuditEvent.objects.get(action="annotation.submit")
    assert submitted.after["labels"] == 1 and submitted.occurred_at.tzinfo is not None


def test_a_role_change_in_the_admin_records_the_groups_before_and_after(client_for, diego, bruno):
    from django.contrib.auth.models import Group

    client = client_for(diego)
    page = client.get(f"/admin/auth/user/{bruno.pk}/change/")
    assert page.status_code == 200
    adjudicator = Group.objects.get_or_create(name="adjudicator")[0]
    reader = Group.objects.get(name="reader")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "username": "bruno",
            "groups": [reader.pk, adjudicator.pk],
            "is_active": "on",
            "date_joined_0": bruno.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": bruno.date_joined.strftime("%H:%M:%S"),
        }
    )
    response = client.post(f"/admin/auth/user/{bruno.pk}/change/", data)
    assert response.status_code == 302, response.content[:500]
    event = AuditEvent.objects.get(action="user.change")
    assert event.actor == diego
    assert event.before["groups"] == ["reader"]
    assert event.after["groups"] == ["adjudicator", "reader"]


def test_a_role_change_in_the_admin_goes_through_the_roles_service(client_for, diego, bruno):
    """The admin's groups field changes roles as the People page does: one user.roles row, and the
    coordinator role brings staff status with it."""
    from django.contrib.auth.models import Group

    client = client_for(diego)
    page = client.get(f"/admin/auth/user/{bruno.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    coordinator = Group.objects.get_or_create(name="coordinator")[0]
    data.update(
        {
            "username": "bruno",
            "groups": [coordinator.pk],
            "is_active": "on",
            "date_joined_0": bruno.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": bruno.date_joined.strftime("%H:%M:%S"),
        }
    )
    assert client.post(f"/admin/auth/user/{bruno.pk}/change/", data).status_code == 302
    event = AuditEvent.objects.get(action="user.roles")
    assert (event.actor, event.before, event.after) == (
        diego,
        {"roles": ["reader"]},
        {"roles": ["coordinator"]},
    )
    bruno.refresh_from_db()
    assert bruno.is_staff


def test_a_coordinator_filters_the_trail_and_downloads_it_as_csv_and_the_download_is_audited(
    study, client_for, diego
):
    client = client_for(diego)
    page = client.get("/audit/?action=annotation.").content.decode()
    events = page.split('id="audit-events"', 1)[1]  # not the filter's list of every action
    assert "annotation.submit" in events and "batch.create" not in events
    response = client.get("/audit/export.csv?actor=ana")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows and {row["actor_username"] for row in rows} == {"ana"}
    assert {row["action"] for row in rows} >= {"annotation.save_draft", "annotation.submit"}
    assert AuditEvent.objects.filter(action="audit.export", actor=diego).exists()


def test_readers_adjudicators_and_outsiders_cannot_see_the_trail(client_for, ana, carla, eve):
    for user in (ana, carla, eve):
        client = client_for(user)
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403
