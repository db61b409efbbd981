"""Logging out a moment after choosing a statement keeps the statement: the draft is saved after a short
pause following the last change, and a logout in that pause ended the session the save needed (the
save answered 403 and the choice was gone when the reader came back)."""

from __future__ import annotations

import pytest

from annotations.models import Annotation
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import choose, chosen, log_in, shared_batch, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_statement_chosen_just_before_logging_out_is_in_the_draft_after_logging_in(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    choose(page, "RBBB")
    assert page.locator("#save-state").inner_text() != "Draft saved"  # its save waits for a pause
    page.click("form.logout button")
    page.wait_for_url(lambda url: "/read/" not in url)
    assert first.annotations.get(status=Annotation.Status.DRAFT).labels.get().diagnostic_class.code == "RBBB"
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert chosen(page) == "RBBB"
