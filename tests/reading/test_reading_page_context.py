"""The reader page carries its first exam's reading context and the reader's view preferences in its HTML,
so the first tracing is drawn without another round trip: the same context the API answers, blinded the
same way, and opening the page records a shown suggestion exactly as opening it through the API does."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from annotations.models import ReviewBatch, Suggestion, SuggestionExposure, SuggestionScore
from tests.factories import PASSWORD
from tests.reading.helpers import page_html, queue, shared_batch

pytestmark = pytest.mark.django_db
API = "/api/v1/reading/assignments"


def _embedded(html: str, element_id: str):
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {element_id} in the page"
    return json.loads(found.group(1))


def _before_context(chunks) -> str:
    """The parts of the streamed page that leave before its reading context: the document's head, then the
    body up to the context."""
    return next(chunks).decode() + next(chunks).decode()


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


def test_the_page_embeds_the_context_the_api_answers_and_the_preferences(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    client.put("/api/v1/reading/preferences/", {"layout": "6x2"}, content_type="application/json")
    html = page_html(client.get(f"/read/{anas.pk}/"))
    embedded = _embedded(html, "reading-context")
    assert embedded == client.get(f"{API}/{anas.pk}/").json()
    assert embedded["suggestion"]["provider"] == "openecg-codec"
    assert embedded["median"]["provider"] == "openecg-codec"
    assert _embedded(html, "reading-sheet")["preferences"]["layout"] == "6x2"
    # Fetched no more: the page would ask for what it already holds.
    assert f'href="{API}/{anas.pk}/"' not in html
    assert 'href="/api/v1/reading/preferences/"' not in html


def test_opening_the_page_records_the_shown_suggestion_once(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    page_html(client.get(f"/read/{anas.pk}/"))
    exposure = SuggestionExposure.objects.get()
    assert (exposure.reader, exposure.assignment, exposure.mode) == (ana, anas, "shown")
    page_html(client.get(f"/read/{anas.pk}/"))
    assert SuggestionExposure.objects.count() == 1


@pytest.mark.parametrize("mode", [ReviewBatch.SuggestionMode.HIDDEN, ReviewBatch.SuggestionMode.TWO_STAGE])
def test_a_page_whose_batch_does_not_show_the_suggestion_yet_embeds_none(
    client_for, ana, bruno, diego, tnmg, mode
):
    anas = _first(mode, ana, bruno, diego, tnmg)
    embedded = _embedded(page_html(client_for(ana).get(f"/read/{anas.pk}/")), "reading-context")
    assert embedded["suggestion"] is None and embedded["median"] is None
    assert not SuggestionExposure.objects.exists()


def test_another_readers_page_embeds_nothing(client_for, ana, bruno, diego, tnmg):
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    assert client_for(bruno).get(f"/read/{anas.pk}/").status_code == 404
    assert not SuggestionExposure.objects.exists()


def test_the_page_leaves_before_its_context_is_built(client_for, ana, bruno, diego, tnmg, monkeypatch):
    """Plotly, the drawing code, the whole page up to the context and what the strips are drawn from are
    sent first, so the browser draws the tracing while the server builds the context; the page's own
    script comes there too, after what it reads, and waits for the context itself."""
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    response = client_for(ana).get(f"/read/{anas.pk}/")
    assert response.status_code == 200 and response.streaming
    assert response["X-Accel-Buffering"] == "no"  # a proxy in front passes each part on as it comes
    chunks = iter(response.streaming_content)
    first = _before_context(chunks)
    assert "plotly-basic.min.js" in first and "js/ecg/plot.js" in first and 'id="ecg"' in first
    assert 'id="search"' in first  # the labelling pane too
    assert "reading-context" not in first
    script = re.search(r'<script src="[^"]*js/pages/reading\.js"></script>', first)
    assert script and first.index('id="reading-sheet"') < script.start()
    # The shown suggestion is recorded as it leaves with the context, not before: a reader who closed the
    # page before then was shown nothing.
    assert not SuggestionExposure.objects.exists()
    rest = b"".join(chunks).decode()
    assert 'id="reading-context"' in rest
    assert "js/pages/reading.js" not in rest and "reading-preferences" not in rest
    assert SuggestionExposure.objects.filter(assignment=anas).count() == 1


@pytest.mark.parametrize(
    "mode",
    [
        ReviewBatch.SuggestionMode.SHOWN,
        ReviewBatch.SuggestionMode.HIDDEN,
        ReviewBatch.SuggestionMode.TWO_STAGE,
    ],
)
def test_the_first_part_carries_what_the_strips_are_drawn_from_and_nothing_of_the_read(
    client_for, ana, bruno, diego, tnmg, mode
):
    """The exam's geometry, the reader's own view preferences and whether the median beat panel takes room
    beside the strips (from the batch's mode alone): no label, no suggestion, nothing of another reader."""
    anas = _first(mode, ana, bruno, diego, tnmg)
    client = client_for(ana)
    client.put("/api/v1/reading/preferences/", {"layout": "6x2"}, content_type="application/json")
    draft = {"labels": [{"code": "SB", "uncertain": False}], "comment": "ana's draft", "revision": 0}
    assert client.put(f"{API}/{anas.pk}/draft/", draft, content_type="application/json").status_code == 200
    first = _before_context(iter(client.get(f"/read/{anas.pk}/").streaming_content))
    sheet = _embedded(first, "reading-sheet")
    exam = anas.exam
    assert sheet == {
        "assignment": anas.pk,
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
        assert absent not in first
    assert not SuggestionExposure.objects.exists()


def test_a_context_that_fails_midway_leaves_the_page_to_ask_the_api(
    client_for, ana, bruno, diego, tnmg, monkeypatch
):
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("annotations.views.reading.reading_context", broken)
    html = page_html(client_for(ana).get(f"/read/{anas.pk}/"))
    assert 'id="reading-context"' not in html and "js/pages/reading.js" in html
    assert html.rstrip().endswith("</html>")


def test_the_streamed_context_is_in_the_pages_language(client_for, ana, bruno, diego, tnmg):
    """The context is built after the page has started to leave, still in the language the page is in."""
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    client.cookies["django_language"] = "pt-br"
    html = page_html(client.get(f"/read/{anas.pk}/"))
    assert '<html lang="pt-br">' in html
    sb = tnmg.classes.get(code="SB")
    labels = {
        row["code"]: row["label"]
        for group in _embedded(html, "reading-context")["taxonomy"]["groups"]
        for row in group["classes"]
    }
    assert labels["SB"] == sb.name_pt != sb.name


def test_the_pages_head_leaves_before_its_body_is_built(client_for, ana, bruno, diego, tnmg, monkeypatch):
    """The head (the preloaded waveform, Plotly and the drawing code, all render-blocking) leaves as soon as
    the assignment is known to be the reader's, so the browser runs Plotly while the server renders the
    body; the body, with what the strips are drawn from and the page's own script, follows."""
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)
    from annotations.views import reading

    built = []
    sheet = reading.reading_sheet
    monkeypatch.setattr(reading, "reading_sheet", lambda *args: built.append(1) or sheet(*args))
    chunks = iter(client_for(ana).get(f"/read/{anas.pk}/").streaming_content)
    head = next(chunks).decode()
    assert head.lstrip().startswith("<!doctype html>") and head.rstrip().endswith("</head>")
    assert f'rel="preload" as="fetch" href="{API}/{anas.pk}/waveform/"' in head
    assert "plotly-basic.min.js" in head and "js/ecg/plot.js" in head
    assert "<body" not in head and not built  # nothing of the body rendered yet
    body = next(chunks).decode()
    assert body.lstrip().startswith("<body") and built == [1]
    assert 'id="reading-sheet"' in body and "js/pages/reading.js" in body
    assert "reading-context" not in body


def test_a_reader_without_a_csrf_cookie_gets_one_with_the_page_and_saves_with_its_token(
    ana, bruno, diego, tnmg
):
    """The body is rendered after the response has left the middleware, yet the CSRF token the page carries
    is one the cookie set with that response accepts (a browser that lost the cookie, or a new session)."""
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = Client(enforce_csrf_checks=True)
    client.force_login(ana)
    response = client.get(f"/read/{anas.pk}/")
    html = page_html(response)
    assert "csrftoken" in response.cookies
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    draft = {"labels": [{"code": "SB", "uncertain": False}], "comment": "", "revision": 0}
    saved = client.put(
        f"{API}/{anas.pk}/draft/", draft, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 200, saved.content


def test_a_message_shown_on_the_reader_page_is_not_shown_again(client_for, ana, bruno, diego, tnmg):
    """A message waiting for the reader's next page (here: their password changed) appears on the reader
    page, whose body is rendered as it streams, and is then gone, as on every other page."""
    anas = _first(ReviewBatch.SuggestionMode.HIDDEN, ana, bruno, diego, tnmg)
    client = client_for(ana)
    new = "a-new-password-for-ana-42"
    changed = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    assert "Your password was changed." in page_html(client.get(f"/read/{anas.pk}/"))
    assert "Your password was changed." not in client.get("/").content.decode()


def test_a_body_that_fails_after_the_head_has_left_ends_the_page_with_a_message(
    client_for, ana, bruno, diego, tnmg, monkeypatch
):
    """The status line and the head have left when the body is built: if building it fails (the database
    gone, the batch closed in between), the page says so in words and ends, instead of stopping mid-way."""
    anas = _first(ReviewBatch.SuggestionMode.SHOWN, ana, bruno, diego, tnmg)

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("annotations.views.reading.reading_sheet", broken)
    html = page_html(client_for(ana).get(f"/read/{anas.pk}/"))
    assert "The page could not be built. Reload it to try again." in html
    assert html.rstrip().endswith("</html>") and html.count("<body") == 1
    assert not SuggestionExposure.objects.exists()  # no context, nothing shown
