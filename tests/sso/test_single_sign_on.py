"""Single sign-on through HTTP against a real OpenID provider (tests/sso/provider.py): accounts made or
refused at first sign-in, roles mapped from the provider's groups at every sign-in and audited, an
account without a mapped group holding nothing, the app's and the provider's sessions ended on sign-out,
and the system check that stops a half-configured provider."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from annotations.models import AuditEvent, SsoIdentity
from annotations.services.credentials.single_sign_on import second_factor_shown
from tests.factories import PASSWORD, UserFactory
from tests.sso.provider import callback_path, running_provider

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("oidc")) as running:
        yield running


@pytest.fixture
def sso(settings, provider):
    for name, value in provider.app_settings().items():
        setattr(settings, name, value)
    settings.OIDC_CREATE_ACCOUNTS = True
    settings.OIDC_LINK_BY_EMAIL = False
    return provider


def sign_in(client, provider, login: str):
    start = client.get("/accounts/sso/login/")
    assert start.status_code == 302 and start["Location"].startswith(f"{provider.issuer}/auth?")
    back = provider.sign_in(start["Location"], login)
    assert back.startswith("http://testserver/accounts/sso/callback/?"), back
    return client.get(callback_path(back))


def roles_of(client) -> list[str]:
    return client.get("/api/v1/me/").json()["roles"]


def test_the_login_page_offers_the_provider_only_when_one_is_configured(client, sso, settings):
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Hospital ID" in page and 'href="/accounts/sso/login/"' in page
    settings.OIDC_ISSUER = None
    assert "/accounts/sso/login/" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/sso/login/").status_code == 404


def test_a_first_sign_in_makes_the_account_with_the_roles_its_groups_map_to(client, sso):
    sso.set_account("alice", groups=["ecg-readers", "ecg-adjudicators", "payroll"])
    done = sign_in(client, sso, "alice")
    assert done.status_code == 302 and done["Location"] == "/"
    me = client.get("/api/v1/me/").json()
    assert me["username"] == "alice" and me["roles"] == ["adjudicator", "reader"]
    alice = User.objects.get(username="alice")
    assert not alice.has_usable_password() and alice.email == "alice@hospital.example"
    identity = SsoIdentity.objects.get(user=alice)
    assert (identity.issuer, identity.subject) == (sso.issuer, "alice")
    actions = list(AuditEvent.objects.filter(target_id=str(alice.pk)).values_list("action", "after"))
    assert ("sso.account_create", {"issuer": sso.issuer, "subject": "alice"}) in actions
    assert ("sso.roles", {"roles": ["adjudicator", "reader"]}) in actions
    assert AuditEvent.objects.filter(action="auth.login", actor=alice).count() == 1


def test_a_group_removed_at_the_provider_loses_its_role_at_the_next_sign_in(client, sso):
    sso.set_account("bob", groups=["ecg-coordinators", "ecg-readers"])
    sign_in(client, sso, "bob")
    assert roles_of(client) == ["coordinator", "reader"] and User.objects.get(username="bob").is_staff
    client.post("/accounts/logout/")
    sso.set_account("bob", groups=["ecg-readers"])
    sign_in(client, sso, "bob")
    assert roles_of(client) == ["reader"]
    bob = User.objects.get(username="bob")
    assert not bob.is_staff
    assert client.get("/people/").status_code == 403
    change = AuditEvent.objects.filter(action="sso.roles", target_id=str(bob.pk)).order_by("-id").first()
    assert change.before == {"roles": ["coordinator", "reader"]} and change.after == {"roles": ["reader"]}
    client.post("/accounts/logout/")
    sign_in(client, sso, "bob")  # the same groups: nothing changes, nothing more is audited
    assert AuditEvent.objects.filter(action="sso.roles", target_id=str(bob.pk)).count() == 2


def test_an_account_whose_groups_map_to_no_role_holds_nothing(client, sso):
    sso.set_account("nina", groups=["payroll"])
    assert sign_in(client, sso, "nina").status_code == 302
    assert roles_of(client) == []
    for page in ("/batches/", "/exams/", "/people/", "/audit/", "/adjudication/"):
        assert client.get(page).status_code == 403, page
    assert client.get("/api/v1/batches/").status_code == 403
    assert client.get("/api/v1/worklist/").json() == []  # any account's own list: nothing in it
    assert client.get("/read/next/").status_code == 403


def test_with_account_creation_off_an_unknown_person_is_refused(client, sso, settings):
    settings.OIDC_CREATE_ACCOUNTS = False
    sso.set_account("oscar", groups=["ecg-readers"])
    refused = sign_in(client, sso, "oscar")
    assert refused.status_code == 403
    assert "no account here" in refused.content.decode()
    assert not User.objects.filter(username="oscar").exists() and not SsoIdentity.objects.exists()
    assert client.get("/").status_code == 302  # not signed in
    assert AuditEvent.objects.filter(action="sso.refused", actor_username="oscar").exists()


def test_linking_by_a_verified_email_signs_in_as_the_local_account_which_keeps_its_password(
    client, sso, settings
):
    settings.OIDC_CREATE_ACCOUNTS = False
    settings.OIDC_LINK_BY_EMAIL = True
    lina = UserFactory(username="lina", email="Lina@Hospital.example", roles=["reader"])
    sso.set_account("l.silva", groups=["ecg-adjudicators"], email="lina@hospital.example", verified=False)
    assert sign_in(client, sso, "l.silva").status_code == 403  # an unverified address links nothing
    sso.set_account("l.silva", groups=["ecg-adjudicators"], email="lina@hospital.example")
    assert sign_in(client, sso, "l.silva").status_code == 302
    assert client.get("/api/v1/me/").json()["username"] == "lina"
    assert roles_of(client) == ["adjudicator"]
    assert SsoIdentity.objects.get(subject="l.silva").user == lina
    client.post("/accounts/logout/")
    local = client.post("/accounts/login/", {"username": "lina", "password": PASSWORD})
    assert local.status_code == 302 and roles_of(client) == ["adjudicator"]


def test_a_deactivated_account_is_refused(client, sso):
    sso.set_account("pat", groups=["ecg-readers"])
    sign_in(client, sso, "pat")
    client.post("/accounts/logout/")
    User.objects.filter(username="pat").update(is_active=False)
    assert sign_in(client, sso, "pat").status_code == 403
    assert client.get("/").status_code == 302


def test_signing_out_ends_the_session_here_and_at_the_provider(client, sso):
    sso.set_account("rui", groups=["ecg-readers"])
    sign_in(client, sso, "rui")
    out = client.post("/accounts/logout/")
    assert out.status_code == 302
    end = urlparse(out["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{sso.issuer}/session/end"
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/").status_code == 302  # the local session is over
    # The provider accepts the hint and the address (a refusal is a 400): on to its confirmation step.
    confirm = requests.get(out["Location"], timeout=10)
    assert confirm.status_code == 200 and "/session/end/confirm" in confirm.text


def test_a_password_account_signs_out_to_the_login_page(client, sso):
    diego = UserFactory(username="diego2", roles=["coordinator"])
    client.force_login(diego)
    out = client.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"


def test_staff_signed_in_by_the_provider_with_a_second_factor_are_not_asked_for_another(
    client, sso, settings
):
    """The provider's multi-factor sign-in stands for this app's: its ID token says so in `amr`."""
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = settings.OIDC_REQUIRE_MFA_FOR_STAFF = True
    sso.set_account("cora", groups=["ecg-coordinators"], amr=["pwd", "otp"])
    assert sign_in(client, sso, "cora")["Location"] == "/"
    assert client.get("/batches/").status_code == 200


def test_staff_whose_provider_sign_in_shows_no_second_factor_are_refused_and_nothing_changes(
    client, sso, settings
):
    settings.OIDC_REQUIRE_MFA_FOR_STAFF = True
    sso.set_account("cora", groups=["ecg-coordinators"], amr=["pwd"])
    refused = sign_in(client, sso, "cora")
    assert refused.status_code == 403
    assert "second factor" in refused.content.decode()
    assert client.get("/").status_code == 302  # not signed in
    assert not User.objects.filter(username="cora").exists() and not SsoIdentity.objects.exists()
    refusal = AuditEvent.objects.get(action="sso.refused", actor_username="cora")
    assert "second factor" in refusal.after["reason"]

    sso.set_account("cora", groups=["ecg-readers"], amr=["pwd"])  # a reader is not asked
    assert sign_in(client, sso, "cora")["Location"] == "/" and roles_of(client) == ["reader"]
    client.post("/accounts/logout/")
    sso.set_account("cora", groups=["ecg-readers", "ecg-adjudicators"])  # promoted: now asked
    assert sign_in(client, sso, "cora").status_code == 403
    assert User.objects.get(username="cora").groups.get().name == "reader"  # the role was not given


def test_an_operator_listed_acr_counts_as_a_second_factor_and_is_asked_for(client, sso, settings):
    settings.OIDC_REQUIRE_MFA_FOR_STAFF = True
    settings.OIDC_MFA_ACR = ["urn:ecg-review:test:two-factor"]
    start = client.get("/accounts/sso/login/")
    assert parse_qs(urlparse(start["Location"]).query)["acr_values"] == ["urn:ecg-review:test:two-factor"]
    sso.set_account("ines", groups=["ecg-adjudicators"], acr="urn:ecg-review:test:password")
    assert sign_in(client, sso, "ines").status_code == 403
    sso.set_account("ines", groups=["ecg-adjudicators"], acr="urn:ecg-review:test:two-factor")
    assert sign_in(client, sso, "ines")["Location"] == "/" and roles_of(client) == ["adjudicator"]


@pytest.mark.parametrize(
    "amr,shown",
    [
        (["mfa"], True),
        (["pwd", "otp"], True),
        (["hwk", "pin"], True),
        (["pwd"], False),
        (["otp"], False),  # one factor, whichever it is
        (["pwd", "kba"], False),  # two things the person knows are one factor
        ("pwd otp", False),  # not a list: not what RFC 8176 says the claim is
        (None, False),
    ],
)
def test_what_counts_as_a_second_factor_in_the_id_token(amr, shown):
    assert second_factor_shown({"amr": amr} if amr is not None else {}) is shown


def test_the_second_factor_is_required_of_staff_by_default_where_two_factor_sign_in_is():
    def setting(**env: str) -> str:
        code = "from django.conf import settings; print(settings.OIDC_REQUIRE_MFA_FOR_STAFF)"
        run = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            env={**os.environ, "DEBUG": "1", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return run.stdout.strip().splitlines()[-1]

    assert setting(TWO_FACTOR_REQUIRED_FOR_STAFF="1") == "True"
    assert setting(TWO_FACTOR_REQUIRED_FOR_STAFF="0") == "False"
    assert setting(TWO_FACTOR_REQUIRED_FOR_STAFF="1", OIDC_REQUIRE_MFA_FOR_STAFF="0") == "False"


@pytest.mark.parametrize(
    "given,problem",
    [
        ({"OIDC_CLIENT_SECRET": None}, "OIDC_CLIENT_SECRET"),
        ({"OIDC_ISSUER": None}, "OIDC_ISSUER"),
        ({"OIDC_ROLE_MAP": "ecg-readers=reeder"}, "reeder"),
        ({"OIDC_ROLE_MAP": "ecg-readers"}, "OIDC_ROLE_MAP"),
        ({"OIDC_ISSUER": "http://login.hospital.example"}, "https"),
    ],
)
def test_a_half_configured_provider_stops_the_system_check(settings, sso, given, problem):
    call_command("check")  # the whole configuration passes
    for name, value in given.items():
        setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match=problem):
        call_command("check")


def test_the_role_map_may_be_json_for_group_names_with_commas(client, sso, settings):
    settings.OIDC_ROLE_MAP = '{"cn=ecg readers,ou=groups,dc=hospital": ["reader", "adjudicator"]}'
    call_command("check")
    sso.set_account("dn", groups=["cn=ecg readers,ou=groups,dc=hospital"])
    sign_in(client, sso, "dn")
    assert roles_of(client) == ["adjudicator", "reader"]
