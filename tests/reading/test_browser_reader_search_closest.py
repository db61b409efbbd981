"""On the reader page, a query that names no statement whole ('inferior MI') chooses, on Enter, the
statement whose term holds its words whole (EIA's 'old MI'), not one where 'MI' only starts a word
(MAR's 'marcapasso migratório')."""

from __future__ import annotations

import pytest

from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import chosen, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_enter_on_inferior_mi_chooses_the_electrically_inactive_area(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.keyboard.press("/")
    page.keyboard.type("inferior MI")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert chosen(page) == "EIA"
