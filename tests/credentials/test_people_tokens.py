"""Tokens on the People page: a coordinator hands an account a token (shown in that response only) and
revokes it; nobody else may; bad input changes nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from annotations.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def hand_out(client, user, **form):
    data = {"user": user.pk, "name": "ana's script", "scope": "reader", "days": 30, **form}
    return client.post("/people/tokens/", data)


def test_a_coordinator_hands_out_a_token_shown_once_and_revokes_it(client_for, ana, diego):
    page = hand_out(client_for(diego), ana)
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    secret = re.search(r'id="one-time-token">([0-9a-f]{64})<', page.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.created_by, token.scope) == (ana, diego, "reader")
    listed = client_for(diego).get("/people/").content.decode()
    assert secret not in listed and token.token_key in listed
    api = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/v1/me/").json()["username"] == "ana"
    assert client_for(diego).post(f"/people/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/me/").status_code == 401
    actions = set(AuditEvent.objects.filter(target_id=str(token.pk)).values_list("action", flat=True))
    assert actions == {"api_token.create", "api_token.use", "api_token.revoke"}


@pytest.mark.parametrize(
    "form", [{"scope": "coordinator"}, {"scope": "root"}, {"name": ""}, {"days": 0}, {"days": 100000}]
)
def test_bad_input_changes_nothing(client_for, ana, diego, form):
    response = hand_out(client_for(diego), ana, **form)
    assert response.status_code == 302 and not ApiToken.objects.exists()


def test_readers_hand_out_and_revoke_nothing(client_for, ana, bruno, diego):
    assert hand_out(client_for(bruno), ana).status_code == 403
    hand_out(client_for(diego), ana)
    token = ApiToken.objects.get()
    assert client_for(bruno).post(f"/people/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get().revoked_at is None


def test_the_people_page_says_who_signs_in_through_the_provider_and_where_their_roles_come_from(
    client_for, ana, bruno, diego, settings
):
    """An account linked to the OpenID provider is marked with the provider's name; with a role map, its
    roles are the provider's (overwritten at the next sign-in), which the page says beside them."""
    from annotations.models import SsoIdentity

    settings.OIDC_PROVIDER_NAME = "Hospital login"
    SsoIdentity.objects.create(user=ana, issuer="https://id.example.org", subject="a-1")

    def row(html: str, username: str) -> str:
        return re.search(rf'<tr data-user="{username}".*?</tr>', html, re.S).group(0)

    page = client_for(diego).get("/people/").content.decode()
    assert 'class="sso"' in row(page, "ana") and "Hospital login" in row(page, "ana")
    assert 'class="sso"' not in row(page, "bruno")
    assert "roles-from-provider" not in page  # no role map: roles stay local
    settings.OIDC_ROLE_MAP = "ecg-readers=reader"
    page = client_for(diego).get("/people/").content.decode()
    assert "roles-from-provider" in row(page, "ana")
    assert "roles-from-provider" not in row(page, "bruno")
