"""Web hardening: CSRF on every session-authenticated write, idle sessions expire, security headers."""

import pytest
from django.test import Client

from ecgreview.middleware import REFRESHED_AT
from tests.urlwalk import CSRF_EXEMPT, all_routes

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")


@pytest.mark.parametrize(
    "route",
    [r for r in all_routes() if r.path != "/accounts/login/" and r.path not in CSRF_EXEMPT],
    ids=lambda r: r.path,
)
def test_a_logged_in_write_without_a_csrf_token_is_refused_everywhere(route, diego, ana):
    for user in (diego, ana):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        for method in WRITE_METHODS:
            response = getattr(client, method)(route.path, data="{}", content_type="application/json")
            # Refused before any handler runs (403); 405 where the route takes no writes at all.
            assert response.status_code in (403, 405), (
                route.path,
                method,
                user.username,
                response.status_code,
            )
            if response.status_code == 403:
                body = response.content.decode(errors="replace")
                assert "CSRF" in body or "permission" in body.lower() or "Forbidden" in body, route.path


def test_the_login_form_itself_needs_its_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "ana", "password": "x"})
    assert response.status_code == 403


def test_an_idle_session_expires_and_activity_keeps_it_alive(client_for, ana, settings):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = client_for(ana)
    assert client.get("/").status_code == 200
    session = Session.objects.get(session_key=client.session.session_key)
    remaining = session.expire_date - timezone.now()
    assert (
        timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
        < remaining
        <= timedelta(seconds=settings.SESSION_COOKIE_AGE)
    )
    session.expire_date = timezone.now() - timedelta(seconds=1)  # as if idle past the limit
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_activity_pushes_the_expiry_forward_at_most_once_per_refresh_interval(client_for, ana, settings):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client = client_for(ana)
    assert client.get("/").status_code == 200  # the first request after login stamps the refresh
    key = client.session.session_key
    soon = timezone.now() + timedelta(minutes=5)
    Session.objects.filter(session_key=key).update(expire_date=soon)  # as if the last refresh was long ago

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"] and q["sql"].startswith("UPDATE")]
    assert Session.objects.get(session_key=key).expire_date == soon  # refreshed moments ago: not written

    session = client.session
    session[REFRESHED_AT] -= settings.SESSION_REFRESH_S  # the last refresh is one interval old
    session.save()
    Session.objects.filter(session_key=key).update(expire_date=soon)
    assert client.get("/").status_code == 200
    remaining = Session.objects.get(session_key=key).expire_date - timezone.now()
    assert remaining > timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_pages_carry_the_security_headers(client):
    response = client.get("/accounts/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in policy
