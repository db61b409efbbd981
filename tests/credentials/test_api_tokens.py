"""API tokens through HTTP: created once-shown and stored as a digest, used as `Authorization: Token`,
narrowed by their scope (never widened), refused with 401 once revoked, expired or their account is
deactivated, and audited on creation, use (once a minute) and revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotations.models import ApiToken, AuditEvent
from annotations.roles import Role

pytestmark = pytest.mark.django_db
TOKENS = "/api/v1/tokens/"


def create(client, **body):
    return client.post(
        TOKENS, {"name": "script", "scope": "read_only", **body}, content_type="application/json"
    )


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {secret}")


def test_a_token_is_shown_once_stored_as_a_digest_and_audited(client_for, ana):
    created = create(client_for(ana), days=30)
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["token"]
    assert len(secret) == 64 and body["scope"] == "read_only" and body["username"] == "ana"
    row = ApiToken.objects.get()
    assert secret not in {row.digest, row.token_key} and row.token_key == secret[:15]
    assert timedelta(days=29) < row.expires_at - row.created_at <= timedelta(days=30)
    listed = client_for(ana).get(TOKENS).json()
    assert [t["name"] for t in listed] == ["script"] and "token" not in listed[0]
    event = AuditEvent.objects.get(action="api_token.create")
    assert event.actor == ana and secret not in str(event.after)


def test_a_token_acts_as_its_user(client_for, ana):
    secret = create(client_for(ana), scope="reader").json()["token"]
    me = bearer(secret).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == "ana" and me.json()["roles"] == ["reader"]


def test_use_is_audited_once_a_minute(client_for, ana):
    secret = create(client_for(ana)).json()["token"]
    for _ in range(3):
        assert bearer(secret).get("/api/v1/me/").status_code == 200
    assert AuditEvent.objects.filter(action="api_token.use").count() == 1
    token = ApiToken.objects.get()
    assert token.last_used_at is not None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    bearer(secret).get("/api/v1/me/")
    assert AuditEvent.objects.filter(action="api_token.use").count() == 2


def test_read_only_allows_safe_methods_only(client_for, diego):
    secret = create(client_for(diego), scope="read_only").json()["token"]
    assert bearer(secret).get("/api/v1/users/").status_code == 200
    refused = bearer(secret).post("/api/v1/batches/preview/", {}, content_type="application/json")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]


def test_a_scope_narrows_the_roles(client_for, diego):
    from tests.factories import UserFactory

    diego = UserFactory(username="dora", roles=[Role.COORDINATOR, Role.READER])
    secret = create(client_for(diego), scope="reader").json()["token"]
    assert bearer(secret).get("/api/v1/me/").json()["roles"] == ["reader"]
    assert bearer(secret).get("/api/v1/users/").status_code == 403  # coordinator-only, session has it


def test_an_adjudicator_token_adjudicates_and_reads_nothing_as_a_reader(client_for, tnmg):
    """An account that reads and adjudicates hands a script the adjudicator role only: the queue, not the
    reader's worklist; a reader-only account may not make such a token."""
    from tests.factories import UserFactory

    both = UserFactory(username="rita", roles=[Role.READER, Role.ADJUDICATOR])
    created = create(client_for(both), scope="adjudicator")
    assert created.status_code == 201 and created.json()["scope"] == "adjudicator"
    token = bearer(created.json()["token"])
    assert token.get("/api/v1/me/").json()["roles"] == ["adjudicator"]
    assert token.get("/api/v1/adjudication/").status_code == 200
    assert token.get("/api/v1/reading/next/").status_code == 403
    reader = UserFactory(username="rui", roles=[Role.READER])
    assert create(client_for(reader), scope="adjudicator").status_code == 400


def test_a_scope_never_widens(client_for, ana):
    refused = create(client_for(ana), scope="coordinator")
    assert refused.status_code == 400 and not ApiToken.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "x" * 101}, {"scope": "admin"}, {"days": 0}, {"days": 100000}, {"extra": 1}],
)
def test_bad_input_is_refused_and_changes_nothing(client_for, ana, body):
    assert create(client_for(ana), **body).status_code == 400
    assert not ApiToken.objects.exists() and not AuditEvent.objects.filter(action="api_token.create").exists()


def test_revoked_expired_and_unknown_tokens_get_401(client_for, ana, bruno):
    secrets = {who.username: create(client_for(who)).json()["token"] for who in (ana, bruno)}
    token = ApiToken.objects.get(user=ana)
    assert client_for(ana).delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert AuditEvent.objects.filter(action="api_token.revoke", target_id=str(token.pk)).exists()
    refused = bearer(secrets["ana"]).get("/api/v1/me/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert bearer(secrets["bruno"]).get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(user=bruno).update(expires_at=timezone.now())
    assert bearer(secrets["bruno"]).get("/api/v1/me/").status_code == 401
    assert bearer("0" * 64).get("/api/v1/me/").status_code == 401
    assert bearer(secrets["ana"][:15] + "0" * 49).get("/api/v1/me/").status_code == 401


def test_a_deactivated_users_token_gets_401(client_for, ana, diego):
    secret = create(client_for(ana)).json()["token"]
    client_for(diego).post(f"/people/{ana.pk}/active/", {"active": "0"})
    ana.refresh_from_db()
    assert not ana.is_active
    assert bearer(secret).get("/api/v1/me/").status_code == 401


def test_another_readers_token_is_not_found(client_for, ana, bruno):
    create(client_for(ana))
    token = ApiToken.objects.get()
    assert client_for(bruno).delete(f"{TOKENS}{token.pk}/").status_code == 404
    assert client_for(bruno).get(TOKENS).json() == []
    assert ApiToken.objects.get().revoked_at is None


def test_a_token_cannot_manage_tokens(client_for, ana):
    secret = create(client_for(ana), scope="reader").json()["token"]
    assert bearer(secret).get(TOKENS).status_code == 403
    minted = bearer(secret).post(TOKENS, {"name": "x", "scope": "reader"}, content_type="application/json")
    assert minted.status_code == 403 and ApiToken.objects.count() == 1


def test_a_token_writing_to_an_unknown_address_gets_the_apis_404(client_for, ana):
    """No CSRF cookie with a token: the catch-all still answers JSON, not the CSRF middleware's page."""
    secret = create(client_for(ana), scope="reader").json()["token"]
    response = bearer(secret).post(
        "/api/v1/reading/assignments/-5/submit/", {}, content_type="application/json"
    )
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_a_default_life_above_the_maximum_gives_the_maximum(client_for, ana, settings):
    settings.API_TOKEN_DEFAULT_DAYS, settings.API_TOKEN_MAX_DAYS = 400, 10
    created = create(client_for(ana))
    assert created.status_code == 201
    token = ApiToken.objects.get()
    assert token.expires_at - token.created_at == timedelta(days=10)
