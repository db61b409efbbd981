"""Logging in: roles land on their own home page, and every attempt is in the audit trail."""

import pytest

from annotations.models import AuditEvent
from tests.factories import PASSWORD, batch_for

pytestmark = pytest.mark.django_db


def test_a_successful_login_is_audited_with_the_user_and_address(client, ana):
    response = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == ana
    assert event.ip_address == "127.0.0.1"


def test_a_failed_login_is_audited_with_the_name_tried_and_logs_nobody_in(client, ana):
    response = client.post("/accounts/login/", {"username": "ana", "password": "wrong"})
    assert response.status_code == 200
    assert "password didn't match" in response.content.decode()
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor is None and event.actor_username == "ana"
    assert client.get("/").status_code == 302


def test_logging_out_needs_a_post_and_ends_the_session(client_for, ana):
    client = client_for(ana)
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_the_home_page_shows_a_reader_their_own_batches_only(client_for, ana, bruno, diego, tnmg):
    from tests.factories import make_exam

    exams = [make_exam(seed=i) for i in range(3)]
    batch_for(tnmg, diego, [ana, bruno], exams, name="Ana and Bruno", readers_per_exam=1, seed=1)
    batch_for(
        tnmg,
        diego,
        [bruno],
        exams,
        name="Only Bruno",
        seed=2,
        exclude_seen=False,
        independence_off_reason="bruno holds the same exams in both batches",
    )
    page = client_for(ana).get("/").content.decode()
    assert "Ana and Bruno" in page
    assert "Only Bruno" not in page


def fail(client, username="ana", times=1):
    for _ in range(times):
        client.post("/accounts/login/", {"username": username, "password": "wrong"})


def test_after_five_failures_even_the_right_password_is_refused_for_a_while(client, ana, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    fail(client, times=5)
    response = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="auth.login_locked", actor_username="ana").count() == 1


def test_fewer_failures_than_the_limit_still_let_the_reader_in_and_reset_the_accounts_count(
    client, ana, settings
):
    settings.LOGIN_FAILURE_LIMIT = 5
    fail(client, times=4)
    assert client.post("/accounts/login/", {"username": "ana", "password": PASSWORD}).status_code == 302
    client.post("/accounts/logout/")
    # From another address (this one keeps its count), four more failures are again below the limit.
    for _ in range(4):
        client.post("/accounts/login/", {"username": "ana", "password": "wrong"}, REMOTE_ADDR="10.0.0.2")
    login = client.post("/accounts/login/", {"username": "ana", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2")
    assert login.status_code == 302


def test_guessing_many_accounts_from_one_address_is_locked_too(client, ana, bruno, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for name in ("x1", "x2", "x3"):
        fail(client, username=name)
    assert client.post("/accounts/login/", {"username": "bruno", "password": PASSWORD}).status_code == 429
