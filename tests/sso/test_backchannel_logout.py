"""OpenID Connect back-channel logout against the real provider: when the person's session ends at the
provider (signing out there, or of another application), the provider tells this app server to server,
and the sessions it opened through that provider session end here too; nobody else's do. A logout
token that is not the provider's, not for this app, or not a logout token changes nothing (400)."""

from __future__ import annotations

import re
import time
from importlib import import_module
from urllib.parse import urljoin

import pytest
import requests
from django.contrib.auth import get_user_model

from annotations.models import AuditEvent, SsoSession
from tests.sso.provider import running_provider

pytestmark = pytest.mark.django_db(transaction=True)
BACKCHANNEL = "/accounts/sso/backchannel-logout/"


@pytest.fixture
def provider(tmp_path, live_server, settings):
    """A provider that knows where this live app takes back-channel logouts."""
    # By address: Node.js may try "localhost" over IPv6, where the live server does not listen.
    uri = f"{live_server.url.replace('localhost', '127.0.0.1')}{BACKCHANNEL}"
    with running_provider(tmp_path, backchannel_logout_uri=uri) as running:
        for name, value in running.app_settings().items():
            setattr(settings, name, value)
        settings.SESSION_COOKIE_SECURE = False  # the live server speaks plain HTTP on loopback
        yield running


def signed_in(live_server, provider, login: str, at_provider: requests.Session) -> requests.Session:
    """An app session of `login`, signed in through the provider's session held in `at_provider`."""
    app = requests.Session()
    start = app.get(f"{live_server.url}/accounts/sso/login/", allow_redirects=False, timeout=10)
    back = provider.sign_in(start.headers["Location"], login, browser=at_provider)
    done = app.get(back, allow_redirects=False, timeout=30)
    assert done.status_code == 302 and done.headers["Location"] == "/", (
        done.status_code,
        re.sub(r"<[^>]+>|\s+", " ", done.text.split("<main", 1)[-1])[:600],
    )
    assert me(live_server, app) == 200
    return app


def me(live_server, app: requests.Session) -> int:
    return app.get(f"{live_server.url}/api/v1/me/", allow_redirects=False, timeout=10).status_code


def end_at_provider(provider, at_provider: requests.Session) -> None:
    """Signing out at the provider itself, as its own page does: confirm, and log out of every app."""
    page = at_provider.get(f"{provider.issuer}/session/end", timeout=10)
    assert page.status_code == 200, page.text[:500]
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
    done = at_provider.post(urljoin(page.url, action), data={**fields, "logout": "yes"}, timeout=30)
    assert done.status_code in (200, 302, 303), done.text[:500]


def test_signing_out_at_the_provider_ends_the_sessions_it_opened_here_and_no_other(live_server, provider):
    provider.set_account("rita", groups=["ecg-readers"])
    provider.set_account("sam", groups=["ecg-readers"])
    rita_there, sam_there = requests.Session(), requests.Session()
    rita = signed_in(live_server, provider, "rita", rita_there)
    sam = signed_in(live_server, provider, "sam", sam_there)
    assert SsoSession.objects.count() == 2

    end_at_provider(provider, rita_there)
    deadline = time.monotonic() + 15
    while me(live_server, rita) == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert me(live_server, rita) != 200, provider.log_tail()
    assert me(live_server, sam) == 200
    assert list(SsoSession.objects.values_list("identity__subject", flat=True)) == ["sam"]
    event = AuditEvent.objects.get(action="sso.backchannel_logout")
    rita_account = get_user_model().objects.get(username="rita")
    assert event.target_id == str(rita_account.pk) and event.after["sessions_ended"] == 1


NOT_THE_PROVIDERS = [
    "",
    "not-a-jwt",
    # A well-formed JWT signed with no key at all (alg none): never the provider's.
    "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4Iiwic3ViIjoicml0YSJ9.",
]


def test_a_logout_token_that_is_not_the_providers_changes_nothing(live_server, provider):
    provider.set_account("rita", groups=["ecg-readers"])
    rita = signed_in(live_server, provider, "rita", requests.Session())
    for token in NOT_THE_PROVIDERS:
        answer = requests.post(f"{live_server.url}{BACKCHANNEL}", data={"logout_token": token}, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", token
        assert "no-store" in answer.headers["Cache-Control"]
    assert me(live_server, rita) == 200 and SsoSession.objects.count() == 1


def test_an_id_token_is_not_a_logout_token(live_server, provider, settings):
    """Signed by the provider and for this app, but without the back-channel logout event: refused."""
    provider.set_account("rita", groups=["ecg-readers"])
    at_provider = requests.Session()
    rita = signed_in(live_server, provider, "rita", at_provider)
    # The ID token the app keeps for RP-initiated logout is exactly such a token.
    session = import_module(settings.SESSION_ENGINE).SessionStore(rita.cookies[settings.SESSION_COOKIE_NAME])
    id_token = session["oidc_id_token"]
    answer = requests.post(f"{live_server.url}{BACKCHANNEL}", data={"logout_token": id_token}, timeout=10)
    assert answer.status_code == 400 and "logout" in answer.json()["error_description"]
    assert me(live_server, rita) == 200
