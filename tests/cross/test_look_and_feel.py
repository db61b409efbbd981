"""Look and feel: a favicon, 403/404 pages in the app's layout with DEBUG off, the adjudicator's queue on
their home page (blind to exams they read), and a progress bar for suggestions as for imports and releases."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings

from annotations.roles import Role
from annotations.services.users import user_set_roles
from tests.disputes import tied_batch

pytestmark = pytest.mark.django_db


def test_every_page_names_a_favicon_this_server_serves(client_for, ana):
    html = client_for(ana).get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert finders.find("favicon.svg")


@override_settings(DEBUG=False)
def test_403_and_404_pages_wear_the_apps_layout(client_for, ana):
    client = client_for(ana)
    missing = client.get("/batches/999999/")  # a reader: 403 before the lookup
    assert missing.status_code == 403
    html = missing.content.decode()
    assert 'class="topbar"' in html and 'id="error-403"' in html
    missing = client.get("/read/999999/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert 'class="topbar"' in html and 'id="error-404"' in html


@pytest.fixture
def disputed(diego, tnmg):
    tied = tied_batch(coordinator=diego, taxonomy=tnmg, exams=2, tied=2)
    return tied.batch, tied.exams, tied.readers[0]


def test_the_adjudicators_home_lists_their_queue_blind_to_exams_they_read(client_for, carla, diego, disputed):
    batch, exams, one = disputed
    html = client_for(carla).get("/").content.decode()
    assert 'id="home-adjudication"' in html
    for exam in exams:
        assert f"/adjudication/{batch.pk}/{exam.pk}/" in html
    # a reader of these exams who also adjudicates sees none of them
    user_set_roles(user=one, roles={Role.READER, Role.ADJUDICATOR}, actor=diego)
    html = client_for(one).get("/").content.decode()
    assert 'id="home-adjudication"' in html and f"/adjudication/{batch.pk}/" not in html


def test_the_dashboard_shows_a_progress_bar_per_suggestion_provider(client_for, diego, disputed):
    from annotations.models import Suggestion

    batch, exams, _ = disputed
    Suggestion.objects.create(exam=exams[0], provider="zz-test-model", provider_version="1")
    html = client_for(diego).get(f"/batches/{batch.pk}/suggestions/").content.decode()
    bar = html.split('<progress class="suggestion-bar" data-provider="zz-test-model"', 1)
    assert len(bar) == 2, "a progress bar for the provider"
    assert 'max="2"' in bar[1].split(">", 1)[0] and 'value="1"' in bar[1].split(">", 1)[0]


def test_the_icon_browsers_ask_for_unprompted_is_served_to_anyone(client):
    """A page without an icon link (the admin's, Swagger UI's) makes the browser ask for /favicon.ico: it is
    the app's own icon, to anyone, signed in or not, rather than a 404 in every log."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00", "an ICO file"
    assert int.from_bytes(body[4:6], "little") >= 2, "more than one size"
