"""A reader chooses a statement's qualifiers by keyboard: after the electrically inactive area, chosen
from the search with Enter, a small chooser takes digits (1 inferior ... 8 old); Enter or Esc goes on. The
read submitted holds them."""

from __future__ import annotations

import pytest

from annotations.models import AnnotationLabel, Assignment
from tests.browser import screenshot_path
from tests.reading.helpers import queue, shared_batch
from tests.reading.test_browser_reader import chosen, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_picks_inactive_area_then_inferior_by_keyboard_and_the_read_holds_it(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first, second = queue(batch, ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/next/?batch={batch.pk}")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("inactive area")
    page.keyboard.press("Enter")
    chooser = page.locator("#qualifier-chooser")
    chooser.wait_for(state="visible")
    assert "Inferior" in chooser.inner_text()
    page.keyboard.press("1")  # inferior
    page.keyboard.press("4")  # lateral
    page.keyboard.press("4")  # lateral again: taken back
    page.screenshot(path=screenshot_path("reader-qualifiers"))
    page.keyboard.press("Enter")  # goes on, back to the search: it neither submits nor chooses again
    assert chooser.is_hidden()
    assert chosen(page) == "EIA (Inferior)"
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("sinus rhythm")
    page.keyboard.press("Enter")  # sinus rhythm declares no qualifier: no chooser
    assert chooser.is_hidden()
    page.keyboard.press("Escape")
    assert chosen(page) == "SR, EIA (Inferior)"
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    wait_drawn(page, second)
    first.refresh_from_db()
    assert first.status == Assignment.Status.SUBMITTED
    labels = AnnotationLabel.objects.filter(annotation__assignment=first)
    assert {label.diagnostic_class.code: label.qualifiers for label in labels} == {
        "EIA": ["inferior"],
        "SR": [],
    }


def test_escape_skips_the_qualifiers_and_the_statement_stays_chosen(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/next/?batch={first.batch_id}")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("STEMI")
    page.keyboard.press("Enter")
    page.locator("#qualifier-chooser").wait_for(state="visible")
    page.keyboard.press("Escape")
    assert page.locator("#qualifier-chooser").is_hidden()
    assert chosen(page) == "STEMI"
