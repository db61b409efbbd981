"""On the reader page, a query that names no statement whole ('inferior MI') lists first the statements
whose terms hold its words whole (EIA's 'old MI', STEMI's 'acute MI'), not one where 'MI' only starts a
word (MAR's 'marcapasso migratório'). Old or acute, the query does not say: Enter chooses neither until
the reader moves to one; before, the taxonomy's order chose the old infarction."""

from __future__ import annotations

import pytest

from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import chosen, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTED = (
    "[...document.querySelectorAll('#statements .stmt:not([hidden])')]"
    ".sort((a, b) => a.style.order - b.style.order).map(r => r.dataset.code)"
)


def test_inferior_mi_lists_the_old_and_the_acute_infarction_first_and_enter_waits_for_a_choice(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("inferior MI")
    assert set(page.evaluate(LISTED)[:2]) == {"EIA", "STEMI"}
    page.keyboard.press("Enter")
    assert chosen(page) == "nothing yet"
    page.keyboard.press("ArrowDown")
    picked = page.evaluate("document.querySelector('#statements .stmt.focus').dataset.code")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert picked in ("EIA", "STEMI") and chosen(page) == picked
