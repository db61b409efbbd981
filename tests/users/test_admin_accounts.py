"""The admin's account pages follow the People page's rules: no coordinator chooses another person's
password, and no rename reaches a name the People page refuses."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from annotations.models import AuditEvent

pytestmark = pytest.mark.django_db
KNOWN = "a-password-the-coordinator-knows-42"


def test_a_coordinator_cannot_set_a_known_password_for_another_account_in_the_admin(client_for, diego, ana):
    page = client_for(diego)
    url = f"/admin/auth/user/{ana.pk}/password/"
    answer = page.post(url, {"password1": KNOWN, "password2": KNOWN, "usable_password": "true"})
    assert answer.status_code == 302 and answer["Location"] == "/people/"
    ana.refresh_from_db()
    assert not ana.check_password(KNOWN)
    assert not Client().login(username="ana", password=KNOWN)
    # The page itself sends to the People page, where a reset hands over a one-time password.
    shown = page.get(url, follow=True)
    assert shown.redirect_chain[-1][0] == "/people/"
    assert "one-time password" in shown.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="user.password").exists()


def test_a_coordinator_who_opens_their_own_admin_password_page_is_sent_to_their_own_form(client_for, diego):
    answer = client_for(diego).post(
        f"/admin/auth/user/{diego.pk}/password/", {"password1": KNOWN, "password2": KNOWN}
    )
    assert answer.status_code == 302 and answer["Location"] == "/accounts/password/"
    diego.refresh_from_db()
    assert not diego.check_password(KNOWN)


def test_the_admin_refuses_a_rename_to_a_case_folded_duplicate_as_the_people_page_does(
    client_for, diego, ana
):
    bruno = get_user_model().objects.create_user("bruno", password=KNOWN)
    page = client_for(diego)
    form = {
        "username": "ANA",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    answer = page.post(f"/admin/auth/user/{bruno.pk}/change/", form)
    assert answer.status_code == 200, answer.get("Location")
    assert "is taken" in answer.content.decode()
    bruno.refresh_from_db()
    assert bruno.username == "bruno"
    assert not AuditEvent.objects.filter(action="user.change").exists()
