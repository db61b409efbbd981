"""A comment longer than the server keeps (4,000 characters) must never cost the reader their read: the
box stops at the limit, and a save the server refuses says why instead of "will retry" for ever."""

from __future__ import annotations

import pytest

from annotations.models import Annotation
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import chosen, log_in, shared_batch, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page, live_server, ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("LBBB")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    return first


def test_a_pasted_comment_stops_at_the_limit_and_the_draft_is_saved(
    live_server, page, ana, bruno, diego, tnmg
):
    first = _open(page, live_server, ana, bruno, diego, tnmg)
    assert not page.locator("#comment-count").is_visible()  # a short comment needs no count
    page.click("#comment")
    page.keyboard.insert_text("x" * 4500)  # as a paste: one input event
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Draft saved'")
    assert len(page.input_value("#comment")) == 4000
    assert page.locator("#comment-count").inner_text() == "4000 / 4000 characters"  # cut, and said so
    page.reload()
    wait_drawn(page, first)
    assert chosen(page) == "LBBB" and len(page.input_value("#comment")) == 4000
    assert len(first.annotations.get(status=Annotation.Status.DRAFT).comment) == 4000


def test_a_save_the_server_refuses_names_the_reason(live_server, page, ana, bruno, diego, tnmg):
    _open(page, live_server, ana, bruno, diego, tnmg)
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Draft saved'")
    # Past the box's limit only a script can go; the server's answer must still reach the reader.
    page.evaluate(
        "() => { const c = document.getElementById('comment'); c.value = 'y'.repeat(4100);"
        " c.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    page.wait_for_function("() => /4000 characters/.test(document.getElementById('message').textContent)")
    assert "Could not save" not in page.locator("#message").inner_text()
