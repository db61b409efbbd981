"""A bug under /api/ answers the API's JSON shape, not the HTML error page a script cannot read; a page
still gets the app's own error page. Neither shows the exception."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.cross.boom_urls")]


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@override_settings(DEBUG=False)
def test_a_bug_under_the_api_answers_json_that_says_a_server_error(diego):
    answer = _client(diego).get("/api/v1/boom/")
    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    assert "server error" in answer.json()["detail"].lower()
    assert "a bug" not in answer.content.decode()


@override_settings(DEBUG=False)
def test_a_bug_on_a_page_answers_the_apps_error_page(diego):
    answer = _client(diego).get("/boom/")
    assert answer.status_code == 500
    assert answer["Content-Type"].startswith("text/html")
    assert "ECG Review" in answer.content.decode() and "a bug" not in answer.content.decode()
