"""The reader page is a shell the browser may keep: it carries what the first exam's strips are drawn from
(the exam's geometry and the reader's view preferences) and preloads the waveform and the reading context
from the API, but never holds the read or a suggestion itself. Opening the page records nothing; the
context request, made on every load, records a shown suggestion exactly once."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from annotations.models import ReviewBatch, Suggestion, SuggestionExposure, SuggestionScore
from annotations.views.reading import READER_PAGE_MAX_AGE_S, VIEW_COOKIE
from tests.factories import PASSWORD
from tests.reading.helpers import page_html, queue, ref, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"
PREFERENCES = "/api/v1/reading/preferences/"


def _embedded(html: str, element_id: str):
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {element_id} in the page"
    return json.loads(found.group(1))


def _head(html: str) -> str:
    return html[: html.index("</head>")]


def _first(mode, ana, bruno, diego, tnmg):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2, mode=mode)
    assignment = queue(batch, ana)[0]
    suggestion = Suggestion.objects.create(
        exam=assignment.exam, provider="openecg-codec", provider_version="6", measurements={"qrs_ms": 90.0}
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="SB"), score=0.7
    )
    return assignment


def test_the_page_carries_the_preferences_and_preloads_the_waveform_and_the_context(
    client_for, ana, bruno, diego, tnmg
):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    client.put("/api/v1/reading/preferences/", {"layout": "6x2"}, content_type="application/json")
    html = page_html(client.get(f"/read/{ref(anas)}/"))
    assert _embedded(html, "reading-sheet")["preferences"]["layout"] == "6x2"
    assert 'id="reading-context"' not in html
    head = _head(html)
    for url in (f"{API}/{ref(anas)}/", f"{API}/{ref(anas)}/waveform/"):
        # Credentials as pages/reading.js asks with: the preload and the script's request are one.
        assert f'rel="preload" as="fetch" href="{url}" crossorigin="use-credentials"' in head
    # Not asked for: the page holds them.
    assert 'href="/api/v1/reading/preferences/"' not in html
    # Plotly and the drawing code load from the head (the modules preloaded); the page's own module after
    # the sheet it reads.
    assert "plotly-basic.min.js" in head
    assert re.search(r'<link rel="modulepreload" href="[^"]*js/ecg/plot\.js"', head)
    script = re.search(r'<script type="module" src="[^"]*js/pages/reading\.js"></script>', html)
    assert script and html.index('id="reading-sheet"') < script.start()


def test_opening_the_page_records_nothing_and_its_context_records_the_shown_suggestion_once(
    client_for, ana, bruno, diego, tnmg
):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    page_html(client.get(f"/read/{ref(anas)}/"))
    assert not SuggestionExposure.objects.exists()  # a page the reader never sees the context of
    context = client.get(f"{API}/{ref(anas)}/")
    assert context.json()["suggestion"]["provider"] == "openecg-codec"
    exposure = SuggestionExposure.objects.get()
    assert (exposure.reader, exposure.assignment, exposure.mode) == (ana, anas, "shown")
    client.get(f"{API}/{ref(anas)}/")
    assert SuggestionExposure.objects.count() == 1


def test_the_page_may_be_kept_by_the_browser_and_its_context_never(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    page = client.get(f"/read/{ref(anas)}/")
    assert page["Cache-Control"] == f"private, max-age={READER_PAGE_MAX_AGE_S}"
    # Kept for one session, language and set of preferences: all of them are cookies.
    assert "Cookie" in [v.strip() for v in page["Vary"].split(",")]
    assert "ETag" not in page and "Last-Modified" not in page  # a reload always asks afresh
    context = client.get(f"{API}/{ref(anas)}/")
    assert "no-store" in context["Cache-Control"] and "max-age=0" in context["Cache-Control"]


def test_saving_preferences_changes_the_cookie_a_kept_page_varies_on(client_for, ana, bruno, diego, tnmg):
    _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    tokens = []
    for layout in ("6x2", "12x1", "6x2"):
        saved = client.put(PREFERENCES, {"layout": layout}, content_type="application/json")
        assert saved.status_code == 200
        cookie = saved.cookies[VIEW_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        tokens.append(cookie.value)
    assert tokens[0] != tokens[1] and tokens[2] == tokens[0]  # the same preferences, the same pages
    refused = client.put(PREFERENCES, {"layout": "2x2"}, content_type="application/json")
    assert refused.status_code == 400 and VIEW_COOKIE not in refused.cookies


def test_a_page_with_a_message_is_shown_once_and_never_kept(client_for, ana, bruno, diego, tnmg):
    """A message waiting for the reader's next page (here: their password changed) appears on the reader
    page, which the browser must not keep with it, and is then gone, as on every other page."""
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    new = "a-new-password-for-ana-42"
    changed = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    with_message = client.get(f"/read/{ref(anas)}/")
    assert "Your password was changed." in page_html(with_message)
    assert with_message["Cache-Control"] == "no-store"
    again = client.get(f"/read/{ref(anas)}/")
    assert "Your password was changed." not in page_html(again)
    assert again["Cache-Control"].startswith("private")


@pytest.mark.parametrize(
    "mode",
    [
        ReviewBatch.SuggestionMode.SHOWN,
        ReviewBatch.SuggestionMode.HIDDEN,
        ReviewBatch.SuggestionMode.TWO_STAGE,
    ],
)
def test_the_page_carries_what_the_strips_are_drawn_from_and_nothing_of_the_read(
    client_for, ana, bruno, diego, tnmg, mode
):
    """The exam's geometry, the reader's own view preferences and whether the median beat panel takes room
    beside the strips (from the batch's mode alone): no label, no suggestion, nothing of another reader."""
    anas = _first(mode, ana, bruno, diego, tnmg)
    client = client_for(ana)
    client.put("/api/v1/reading/preferences/", {"layout": "6x2"}, content_type="application/json")
    draft = {"labels": [{"code": "SB", "uncertain": False}], "comment": "ana's draft", "revision": 0}
    assert client.put(f"{API}/{ref(anas)}/draft/", draft, content_type="application/json").status_code == 200
    html = page_html(client.get(f"/read/{ref(anas)}/"))
    sheet = _embedded(html, "reading-sheet")
    exam = anas.exam
    assert sheet == {
        "assignment": ref(anas),
        "exam": {
            "sampling_rate": exam.sampling_rate,
            "n_samples": exam.n_samples,
            "lead_names": exam.lead_names,
            "gain_uv": exam.gain_uv,
        },
        "preferences": client.get("/api/v1/reading/preferences/").json(),
        "median_room": mode == ReviewBatch.SuggestionMode.SHOWN,
    }
    assert sheet["preferences"]["layout"] == "6x2"
    for absent in ("openecg-codec", "ana's draft", '"SB"', "bruno"):
        assert absent not in html
    assert not SuggestionExposure.objects.exists()


def test_another_readers_page_answers_404_and_records_nothing(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    refused = client_for(bruno).get(f"/read/{ref(anas)}/")
    assert refused.status_code == 404 and "max-age" not in refused.get("Cache-Control", "")
    assert not SuggestionExposure.objects.exists()


def test_the_page_is_in_the_readers_language(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    client.cookies["django_language"] = "pt-br"
    html = page_html(client.get(f"/read/{ref(anas)}/"))
    assert '<html lang="pt-br">' in html
    sb = tnmg.classes.get(code="SB")
    labels = {
        row["code"]: row["label"]
        for group in client.get(f"{API}/{ref(anas)}/").json()["taxonomy"]["groups"]
        for row in group["classes"]
    }
    assert labels["SB"] == sb.name_pt != sb.name


def test_a_reader_without_a_csrf_cookie_gets_one_with_the_page_and_saves_with_its_token(
    ana, bruno, diego, tnmg
):
    """The CSRF token the page carries is one the cookie set with that response accepts (a browser that
    lost the cookie, or a new session)."""
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = Client(enforce_csrf_checks=True)
    client.force_login(ana)
    response = client.get(f"/read/{ref(anas)}/")
    html = page_html(response)
    assert "csrftoken" in response.cookies
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    draft = {"labels": [{"code": "SB", "uncertain": False}], "comment": "", "revision": 0}
    saved = client.put(
        f"{API}/{ref(anas)}/draft/", draft, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 200, saved.content
