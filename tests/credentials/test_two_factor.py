"""Two-factor sign-in through HTTP: enrolment with a QR code made here, sign-in with the app's code or a
single-use recovery code, the operator's requirement for coordinators and adjudicators, a coordinator's
reset, and the same lockout for wrong codes as for wrong passwords."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from annotations.models import AuditEvent, RecoveryCode
from tests.credentials.totp import code_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def enrol(client) -> tuple[str, list[str]]:
    """Set up two-factor sign-in on the signed-in client; returns the key and the recovery codes."""
    started = client.post("/accounts/two-factor/start/").content.decode()
    assert "<svg" in started and "otpauth" not in started  # the QR code drawn here, the key not in a URL
    secret = re.search(r'id="totp-secret">([A-Z2-7=]+)<', started).group(1)
    confirmed = client.post("/accounts/two-factor/confirm/", {"code": code_for(secret)})
    assert confirmed.status_code == 200, confirmed.content.decode()[:2000]
    codes = re.findall(r'class="recovery-code">([a-z0-9-]+)<', confirmed.content.decode())
    return secret, codes


def password_step(client, username: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": PASSWORD}, **extra)


def test_enrolment_shows_the_recovery_codes_once_and_stores_digests(client_for, ana):
    client = client_for(ana)
    _, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=ana).values_list("digest", flat=True))
    assert not stored & set(codes) and len(stored) == 10
    assert TOTPDevice.objects.get(user=ana).confirmed
    assert codes[0] not in client.get("/accounts/two-factor/").content.decode()
    assert AuditEvent.objects.filter(action="two_factor.enrol", actor=ana).exists()


def test_a_wrong_first_code_enrols_nothing(client_for, ana):
    client = client_for(ana)
    client.post("/accounts/two-factor/start/")
    assert client.post("/accounts/two-factor/confirm/", {"code": "000000"}).status_code == 400
    assert not TOTPDevice.objects.filter(user=ana, confirmed=True).exists()
    assert not RecoveryCode.objects.exists()


def test_signing_in_asks_for_the_code_after_the_password(client, client_for, ana):
    secret, _ = enrol(client_for(ana))
    client.logout()
    step = password_step(client, "ana")
    assert step.status_code == 302 and step["Location"] == "/accounts/login/two-factor/"
    assert client.get("/").status_code == 302  # not signed in yet
    assert client.post("/accounts/login/two-factor/", {"code": "123456"}).status_code == 400
    done = client.post("/accounts/login/two-factor/", {"code": code_for(secret, steps_ahead=1)})
    assert done.status_code == 302 and client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor=ana).exists()


def test_a_recovery_code_signs_in_once(client, client_for, ana):
    _, codes = enrol(client_for(ana))
    client.logout()
    password_step(client, "ana")
    assert client.post("/accounts/login/two-factor/", {"code": codes[0].upper()}).status_code == 302
    client.logout()
    password_step(client, "ana")
    assert client.post("/accounts/login/two-factor/", {"code": codes[0]}).status_code == 400
    assert RecoveryCode.objects.filter(user=ana, used_at__isnull=True).count() == 9


def test_the_code_step_needs_the_password_step(client, ana):
    assert client.get("/accounts/login/two-factor/")["Location"] == "/accounts/login/"
    assert client.post("/accounts/login/two-factor/", {"code": "123456"})["Location"] == "/accounts/login/"


def test_wrong_codes_lock_the_account_as_wrong_passwords_do(client, client_for, settings, ana):
    settings.LOGIN_FAILURE_LIMIT = 3
    secret, _ = enrol(client_for(ana))
    client.logout()
    password_step(client, "ana")
    for _ in range(3):
        assert client.post("/accounts/login/two-factor/", {"code": "000000"}).status_code == 400
    locked = client.post("/accounts/login/two-factor/", {"code": code_for(secret, steps_ahead=1)})
    assert locked.status_code == 429 and client.get("/").status_code == 302
    assert password_step(client, "ana", REMOTE_ADDR="192.0.2.7").status_code == 429
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_username="ana").count() == 3


@pytest.mark.parametrize("who", ["diego", "carla"])
def test_the_operator_can_require_it_for_coordinators_and_adjudicators(client, settings, request, who):
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True
    request.getfixturevalue(who)
    assert password_step(client, who)["Location"] == "/accounts/two-factor/"
    assert client.get("/")["Location"] == "/accounts/two-factor/"
    assert client.get("/api/v1/me/").status_code == 403
    enrol(client)
    assert client.get("/").status_code == 200


def test_readers_are_not_required_to_enrol(client, settings, ana):
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True
    password_step(client, "ana")
    assert client.get("/").status_code == 200


def test_a_coordinator_resets_a_lost_phone(client, client_for, ana, diego):
    enrol(client_for(ana))
    client_for(diego).post(f"/people/{ana.pk}/two-factor/reset/")
    assert not TOTPDevice.objects.filter(user=ana).exists() and not RecoveryCode.objects.exists()
    assert AuditEvent.objects.filter(action="two_factor.disable", actor=diego).exists()
    client.logout()
    assert password_step(client, "ana")["Location"] == "/"


def test_a_reader_may_not_reset_anothers(client_for, ana, bruno):
    enrol(client_for(ana))
    assert client_for(bruno).post(f"/people/{ana.pk}/two-factor/reset/").status_code == 403
    assert TOTPDevice.objects.filter(user=ana).exists()
