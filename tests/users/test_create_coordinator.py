"""The first coordinator of a production install. seed_demo refuses with DEBUG off, the People page needs a
coordinator to open accounts, and nobody grants themselves a role: the operator opens the first one on the
server's console. The command prints a one-time password, which the new coordinator must replace at their
first sign-in, as with an account a coordinator opens; the audit trail says it came from the console."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from annotations.models import AuditEvent
from annotations.roles import Role, has_role

pytestmark = pytest.mark.django_db


def _create(*args: str) -> str:
    out = io.StringIO()
    call_command("create_coordinator", *args, stdout=out)
    return out.getvalue()


def test_the_operator_opens_the_first_coordinator_who_must_set_a_password_at_first_sign_in(client, settings):
    settings.DEBUG = False
    said = _create("ana.souza", "--first-name", "Ana", "--last-name", "Souza")
    password = re.search(r"one-time password: (\S+)", said).group(1)
    from django.contrib.auth import get_user_model

    account = get_user_model().objects.get(username="ana.souza")
    assert has_role(account, Role.COORDINATOR) and account.get_full_name() == "Ana Souza"
    event = AuditEvent.objects.get(action="user.create", target_id=str(account.pk))
    assert (event.actor_id, event.actor_username) == (None, "system:console")
    response = client.post("/accounts/login/", {"username": "ana.souza", "password": password})
    assert response.status_code == 302
    assert client.get("/", follow=False)["Location"].startswith("/accounts/password/")


def test_a_taken_username_is_refused_and_nothing_changes():
    _create("diego2")
    with pytest.raises(CommandError, match="taken"):
        _create("DIEGO2")
    assert AuditEvent.objects.filter(action="user.create").count() == 1
