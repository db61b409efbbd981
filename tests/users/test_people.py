"""The People page: coordinators open accounts, set roles, deactivate and reset passwords, audited; a
handed-out password is shown once and must be replaced at the next login."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from annotations.models import AuditEvent
from annotations.roles import Role, user_roles
from tests.factories import batch_for

pytestmark = pytest.mark.django_db


def two_readers_two_exams_each(name: str, taxonomy, readers, coordinator):
    """A running batch of 4 exams read once, so each of the two readers holds 2 unread exams."""
    from tests.factories import make_exam

    exams = [make_exam(seed=i) for i in range(4)]
    return batch_for(taxonomy, coordinator, readers, exams, name=name, readers_per_exam=1)


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def shown_password(html: str) -> str:
    match = re.search(r'id="one-time-password">([^<]+)<', html)
    assert match, "the one-time password is shown"
    return match.group(1)


def test_a_coordinator_creates_an_account_with_a_one_time_password(client_for, diego, client):
    response = client_for(diego).post("/people/", {"username": "fabio", "roles": ["reader", "adjudicator"]})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    password = shown_password(response.content.decode())
    fabio = get_user_model().objects.get(username="fabio")
    assert user_roles(fabio) == {Role.READER, Role.ADJUDICATOR} and fabio.check_password(password)
    assert AuditEvent.objects.filter(action="user.create", actor=diego, target_id=str(fabio.pk)).exists()
    assert password not in str(list(AuditEvent.objects.values_list("before", "after")))
    listing = client_for(diego).get("/people/").content.decode()
    assert "fabio" in listing and password not in listing  # shown once only
    client.logout()
    # the next login must replace it before anything else
    response = client.post("/accounts/login/", {"username": "fabio", "password": password})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"
    assert client.get("/").status_code == 302
    new = "a-much-longer-passphrase-42"
    response = client.post(
        "/accounts/password/", {"old_password": password, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="user.password_change", actor=fabio).exists()


def test_roles_deactivation_and_password_reset_are_audited_and_never_on_oneself(client_for, diego, ana):
    client = client_for(diego)
    response = client.post(f"/people/{ana.pk}/roles/", {"roles": ["reader", "adjudicator"]})
    assert response.status_code == 302
    assert user_roles(get_user_model().objects.get(pk=ana.pk)) == {Role.READER, Role.ADJUDICATOR}
    assert AuditEvent.objects.filter(action="user.roles", target_id=str(ana.pk)).exists()

    response = client.post(f"/people/{ana.pk}/reset-password/")
    password = shown_password(response.content.decode())
    assert get_user_model().objects.get(pk=ana.pk).check_password(password)
    assert AuditEvent.objects.filter(
        action="user.password_reset", actor=diego, target_id=str(ana.pk)
    ).exists()

    assert client.post(f"/people/{ana.pk}/active/", {"active": "0"}).status_code == 302
    assert not get_user_model().objects.get(pk=ana.pk).is_active
    assert AuditEvent.objects.filter(action="user.active", target_id=str(ana.pk)).exists()

    before = AuditEvent.objects.count()
    response = client.post(f"/people/{diego.pk}/roles/", {"roles": ["reader"]}, follow=True)
    assert "nobody changes their own" in response.content.decode()
    client.post(f"/people/{diego.pk}/active/", {"active": "0"})
    client.post(f"/people/{diego.pk}/reset-password/")
    diego.refresh_from_db()
    assert diego.is_active and user_roles(diego) == {Role.COORDINATOR}
    assert AuditEvent.objects.count() == before


def test_only_coordinators_see_people_and_bad_input_is_refused(client_for, ana, diego):
    assert client_for(ana).get("/people/").status_code == 403
    client = client_for(diego)
    assert client.post("/people/", {"username": "", "roles": ["reader"]}).status_code == 400
    assert client.post("/people/", {"username": "ana", "roles": ["reader"]}).status_code == 400
    assert client.post("/people/", {"username": "x", "roles": ["wizard"]}).status_code == 400
    assert client.get("/people/").status_code == 200


def test_an_account_that_does_not_exist_answers_the_404_page_on_every_people_action(client_for, ana, diego):
    client = client_for(diego)
    for missing in (999_999, 2**63):
        for action, data in (
            ("roles", {"roles": ["reader"]}),
            ("name", {"first_name": "X"}),
            ("active", {"active": "0"}),
            ("reset-password", {}),
            ("two-factor/reset", {}),
        ):
            assert client.post(f"/people/{missing}/{action}/", data).status_code == 404, (missing, action)
        token = {"user": missing, "name": "t", "scope": "read_only", "days": 7}
        assert client.post("/people/tokens/", token).status_code == 404, missing
    assert client_for(ana).post(f"/people/{diego.pk}/roles/", {"roles": ["reader"]}).status_code == 403
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == 0


def test_a_reader_who_stops_reading_leaves_a_warning_naming_the_unread_exams_to_move(
    client_for, diego, ana, bruno, tnmg
):
    """Taking the reader role away (or the account) leaves that reader's unread exams in running batches
    where nobody reads them: the page says where, so the coordinator moves them on each batch's page."""
    batch = two_readers_two_exams_each("Stuck?", tnmg, [ana, bruno], diego)
    client = client_for(diego)
    page = client.post(f"/people/{ana.pk}/roles/", {"roles": ["adjudicator"]}, follow=True).content.decode()
    assert "Roles of ana saved." in page
    assert "ana still holds 2 unread exams in running batches: Stuck? (2)" in text_of(page)
    assert f'<a href="/batches/{batch.pk}/">Stuck?</a>' in page
    # Still a reader: nothing to warn about; deactivated: the same warning.
    page = client.post(f"/people/{bruno.pk}/roles/", {"roles": ["reader"]}, follow=True).content.decode()
    assert "still holds" not in page
    page = client.post(f"/people/{bruno.pk}/active/", {"active": "0"}, follow=True).content.decode()
    assert "bruno still holds 2 unread exams in running batches: Stuck? (2)" in text_of(page)


def test_accounts_carry_the_persons_name_set_at_creation_and_corrected_later(client_for, diego, ana):
    """A study's documents name its readers: the People page records each account's given and family
    name, shows it, lets a coordinator correct it (audited), and the release's pseudonym key names them."""
    client = client_for(diego)
    client.post(
        "/people/",
        {"username": "fabio", "first_name": "Fábio", "last_name": "Lima", "roles": ["reader"]},
    )
    fabio = get_user_model().objects.get(username="fabio")
    assert (fabio.first_name, fabio.last_name) == ("Fábio", "Lima")
    created = AuditEvent.objects.get(action="user.create", target_id=str(fabio.pk))
    assert created.after["name"] == "Fábio Lima"
    row = client.get("/people/").content.decode().split('data-user="fabio"', 1)[1].split("</tr>", 1)[0]
    assert "Fábio Lima" in row

    response = client.post(f"/people/{ana.pk}/name/", {"first_name": "Ana", "last_name": "Souza"})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.get_full_name() == "Ana Souza"
    renamed = AuditEvent.objects.get(action="user.name", target_id=str(ana.pk))
    assert (renamed.before, renamed.after) == ({"name": ""}, {"name": "Ana Souza"})
    assert "Ana Souza" in client.get("/people/").content.decode()
    too_long = client.post(f"/people/{ana.pk}/name/", {"first_name": "x" * 151, "last_name": ""})
    assert too_long.status_code == 302
    ana.refresh_from_db()
    assert ana.get_full_name() == "Ana Souza"  # refused, nothing changed
    assert client_for(ana).post(f"/people/{ana.pk}/name/", {"first_name": "Z"}).status_code == 403


def test_a_reader_deactivated_while_signed_in_is_told_so_by_the_api(client, client_for, diego, ana):
    """Her session stays, but Django treats it as anonymous: the API said "Authentication credentials were
    not provided.", as though she had never signed in."""
    from django.test import Client

    reader = Client()
    reader.force_login(ana)
    assert reader.get("/api/v1/reading/next/").status_code in (200, 204, 404)
    assert client_for(diego).post(f"/people/{ana.pk}/active/", {"active": "0"}).status_code == 302
    refused = reader.get("/api/v1/reading/next/")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "This account has been deactivated; a coordinator can reactivate it."}
    stranger = Client().get("/api/v1/reading/next/")  # never signed in: the usual answer
    assert stranger.status_code == 403
    assert stranger.json() == {"detail": "Authentication credentials were not provided."}
