"""The People page: coordinators open accounts, set roles, deactivate and reset passwords, audited; a
handed-out password is shown once and must be replaced at the next login."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from annotations.models import AuditEvent
from annotations.roles import Role, user_roles

pytestmark = pytest.mark.django_db


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
