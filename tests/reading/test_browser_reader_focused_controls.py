"""Enter and Space press the control that has the focus; the page's shortcuts are for the rest.

A reader who tabbed to "Skip…" and pressed Enter had the exam submitted instead (Enter was the page's
submit key wherever the focus was), and Space on the baseline filter's checkbox took the statement in focus
out of the read. Arrow keys on a toolbar list moved one step and then handed the focus to the page, so the
next arrow moved through the statements. Chosen statements are announced as they change.
"""

from __future__ import annotations

import pytest

from annotations.models import Annotation, Assignment
from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import choose, chosen, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, selector: str) -> None:
    """Tab through the page, as a keyboard user does, until `selector` has the focus."""
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def _open_first(page, live_server, ana, bruno, diego, tnmg) -> Assignment:
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)
    first = queue(batch, ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    return first


def test_enter_on_the_focused_skip_button_opens_the_skip_dialog_and_submits_nothing(
    live_server, page, ana, bruno, diego, tnmg
):
    first = _open_first(page, live_server, ana, bruno, diego, tnmg)
    choose(page, "bradicardia")
    page.wait_for_timeout(1200)  # past the second in which a key may not submit an exam just opened
    tab_to(page, "#skip")
    page.keyboard.press("Enter")
    page.wait_for_selector("#skip-dialog[open]")
    first.refresh_from_db()
    assert first.status == Assignment.Status.IN_PROGRESS
    assert not Annotation.objects.filter(assignment=first, status=Annotation.Status.SUBMITTED).exists()
    page.keyboard.press("Escape")
    tab_to(page, "#help-toggle")
    page.keyboard.press(" ")
    page.wait_for_selector("#help[open]")


def test_space_on_a_checkbox_ticks_it_and_keeps_the_chosen_statements(
    live_server, page, ana, bruno, diego, tnmg
):
    _open_first(page, live_server, ana, bruno, diego, tnmg)
    choose(page, "bradicardia")
    before = chosen(page)
    assert before
    box = page.locator("#filter-baseline")
    was = box.is_checked()
    tab_to(page, "#filter-baseline")
    page.keyboard.press(" ")
    assert box.is_checked() is not was
    assert chosen(page) == before


def test_arrows_on_a_toolbar_list_keep_moving_through_that_list(live_server, page, ana, bruno, diego, tnmg):
    _open_first(page, live_server, ana, bruno, diego, tnmg)
    lead = page.locator("#rhythm-lead")
    lead.focus()
    start = lead.evaluate("s => s.selectedIndex")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert lead.evaluate("s => [s.selectedIndex, document.activeElement === s]") == [start + 2, True]


def test_the_chosen_statements_are_announced(live_server, page, ana, bruno, diego, tnmg):
    _open_first(page, live_server, ana, bruno, diego, tnmg)
    assert page.locator(".chosen-line").get_attribute("aria-live") == "polite"
    assert page.locator("#statements").get_attribute("aria-label")


def test_after_a_mouse_click_on_a_toolbar_button_enter_still_submits(
    live_server, page, ana, bruno, diego, tnmg
):
    """A button clicked with the mouse keeps the focus; the Enter after it is the reader's submit."""
    first = _open_first(page, live_server, ana, bruno, diego, tnmg)
    choose(page, "bradicardia")
    page.click("#help-toggle")
    page.click("#help-close")
    page.wait_for_timeout(1200)
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200
    first.refresh_from_db()
    assert first.status == Assignment.Status.SUBMITTED


def test_a_refused_ctrl_enter_from_the_comment_hands_the_keys_back_to_the_page(
    live_server, page, ana, bruno, diego, tnmg
):
    """The comment typed, Ctrl+Enter with no statement chosen: refused, and the "/" and search typed next
    go to the statement search, not into the comment."""
    _open_first(page, live_server, ana, bruno, diego, tnmg)
    page.click("#comment")
    page.keyboard.type("Sem pausas.")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.getElementById('message').textContent.length > 0")
    page.keyboard.press("/")
    page.keyboard.type("bradicardia")
    assert page.input_value("#comment") == "Sem pausas."
    assert page.input_value("#search") == "bradicardia"


def test_the_help_opens_at_its_top_on_a_short_screen(live_server, page, ana, bruno, diego, tnmg):
    """A 1366x768 laptop at 150 % zoom is 911x512 CSS pixels: the help opened scrolled to its Close button,
    its title and first rows out of sight."""
    page.set_viewport_size({"width": 911, "height": 512})
    _open_first(page, live_server, ana, bruno, diego, tnmg)
    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    top = page.evaluate(
        "() => { const d = document.getElementById('help'), h = d.querySelector('h2');"
        " return [d.scrollTop, h.getBoundingClientRect().top >= d.getBoundingClientRect().top,"
        " d.scrollHeight > d.clientHeight]; }"
    )
    assert top[:2] == [0, True], top
    assert top[2], "the help fits the screen: this test shows nothing at this size"


def test_on_a_laptop_at_150_percent_the_sheet_fills_its_pane_and_the_buttons_stay_in_their_card(
    live_server, page, ana, bruno, diego, tnmg
):
    """911x512 CSS pixels with the median beat shown: the sheet was 320 px wide in a 490 px pane, the
    median beat wrapped under it, and the comment and buttons ran past the labelling card's foot."""
    from annotations.models import ReviewBatch
    from tests.reading.test_browser_reader_loading import _suggest

    page.set_viewport_size({"width": 911, "height": 512})
    batch = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_selector("#median-panel:not([hidden])")
    sizes = page.evaluate(
        "() => { const box = (id) => document.getElementById(id).getBoundingClientRect();"
        " const pane = document.querySelector('.ecg-pane').getBoundingClientRect();"
        " const labels = document.querySelector('.label-pane');"
        " labels.scrollTop = labels.scrollHeight;"
        " const card = labels.getBoundingClientRect(), submit = box('submit');"
        " return {sheet: box('ecg').width, pane: pane.width, card_bottom: card.bottom,"
        " submit_bottom: submit.bottom}; }"
    )
    assert sizes["sheet"] >= 0.9 * (sizes["pane"] - 30), sizes
    assert sizes["submit_bottom"] <= sizes["card_bottom"] + 0.5, sizes
    page.screenshot(path=str(screenshot_path("reader-laptop-150")), full_page=True)
