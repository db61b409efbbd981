"""Logging in: roles land on their own home page, and every attempt is in the audit trail."""

import pytest

from annotations.models import AuditEvent
from tests.factories import PASSWORD

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
    from annotations.services.batches import batch_create
    from tests.factories import make_exam

    exams = [make_exam(seed=i) for i in range(3)]
    batch_create(
        name="Ana and Bruno",
        taxonomy=tnmg,
        exams=exams,
        readers=[ana, bruno],
        readers_per_exam=1,
        actor=diego,
        seed=1,
    )
    batch_create(
        name="Only Bruno",
        taxonomy=tnmg,
        exams=exams,
        readers=[bruno],
        readers_per_exam=1,
        actor=diego,
        seed=2,
    )
    page = client_for(ana).get("/").content.decode()
    assert "Ana and Bruno" in page
    assert "Only Bruno" not in page
