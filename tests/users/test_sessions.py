"""Sessions are Django's database sessions; only loading them is ours (ecgreview/sessions.py)."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from ecgreview.sessions import SessionStore

pytestmark = pytest.mark.django_db


def stored(data: dict) -> str:
    session = SessionStore()
    session.update(data)
    session.create()
    return session.session_key


def test_a_live_session_loads_what_was_saved():
    key = stored({"answer": 42, "who": "ana"})
    session = SessionStore(key)
    assert session.load() == {"answer": 42, "who": "ana"}
    assert session.session_key == key


def test_an_expired_session_loads_empty_and_gives_up_its_key():
    key = stored({"who": "ana"})
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    session = SessionStore(key)
    assert session.load() == {} and session.session_key is None


def test_an_unknown_or_missing_key_loads_empty():
    assert SessionStore("x" * 32).load() == {}
    assert SessionStore(None).load() == {}


def test_a_tampered_session_row_loads_empty():
    key = stored({"who": "ana"})
    Session.objects.filter(session_key=key).update(session_data="not-signed-data")
    assert SessionStore(key).load() == {}


def test_a_signed_in_request_is_served_from_the_session_store(client_for, ana):
    client = client_for(ana)
    assert client.get("/api/v1/me/").json()["username"] == "ana"
    Session.objects.all().delete()
    assert client.get("/api/v1/me/").status_code == 403
