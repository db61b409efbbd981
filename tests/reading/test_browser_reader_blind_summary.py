"""In a two-stage batch the revision step recalls the reader's blind read as they made it: a statement
they marked uncertain is shown with its question mark ("RBBB?"), as everywhere else on the page."""

from __future__ import annotations

import pytest

from tests.reading.test_browser_reader import choose, open_two_stage_exam

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_blind_read_recalled_at_the_revision_keeps_its_uncertainty_marks(
    live_server, page, ana, bruno, diego, tnmg
):
    open_two_stage_exam(page, live_server, ana, bruno, diego, tnmg)
    choose(page, "RBBB", uncertain=True)
    choose(page, "sinus brady")
    page.keyboard.press("Enter")
    page.wait_for_selector("#suggestion:not([hidden])")
    recalled = page.locator("#suggestion p.muted").inner_text()
    assert "RBBB?" in recalled and "SB" in recalled and "SB?" not in recalled, recalled
