"""In a two-stage batch the revision step recalls the reader's blind read as they made it: a statement
they marked uncertain is shown with its question mark ("RBBB?"), as everywhere else on the page."""

from __future__ import annotations

import pytest

from annotations.models import ReviewBatch, Suggestion, SuggestionScore
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import log_in, shared_batch, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_blind_read_recalled_at_the_revision_keeps_its_uncertainty_marks(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    first = queue(batch, ana)[0]
    suggestion = Suggestion.objects.create(exam=first.exam, provider="demo-model", provider_version="2")
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="AF"), score=0.9
    )
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    for query, uncertain in (("RBBB", True), ("sinus brady", False)):
        page.keyboard.press("/")
        page.keyboard.type(query)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        if uncertain:
            page.keyboard.press("u")
    page.keyboard.press("Enter")
    page.wait_for_selector("#suggestion:not([hidden])")
    recalled = page.locator("#suggestion p.muted").inner_text()
    assert "RBBB?" in recalled and "SB" in recalled and "SB?" not in recalled, recalled
