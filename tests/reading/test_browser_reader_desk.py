"""The reader's desk in Chromium: paper that magnifies at 50 mm/s and 20 mm/mV, lead labels that stay in
view after a zoom, view choices kept per reader on the server, and Brazilian conventions in pt-BR."""

from __future__ import annotations

import pytest

from annotations.models.reading import ReaderPreference
from tests.browser import CHROMIUM, CHROMIUM_ARGS, STRIPS_OF, SuiteBrowser, screenshot_path, strips_js
from tests.conftest import LIVE_REQUESTS
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import click_rhythm_strip, figure, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pixels per millimetre of paper on both axes, the figure's size, and how far its container scrolls.
SCALE = (
    "const wrap = gd.parentElement;"
    " return { pxPerMm: xa.l2p(10) - xa.l2p(0), pxPerMmY: ya.l2p(0) - ya.l2p(10),"
    " width: gd._fullLayout.width, height: gd._fullLayout.height,"
    " scrollsX: wrap.scrollWidth > wrap.clientWidth + 1,"
    " scrollsY: wrap.scrollHeight > wrap.clientHeight + 1 };"
)


# How much of an element its horizontal scrollbar takes, and whether it scrolls sideways.
SCROLLBAR = (
    "w => ({ below: w.offsetHeight - w.clientHeight - w.clientTop * 2,"
    " scrolls: w.scrollWidth > w.clientWidth + 1 })"
)


def redrawn_at(page, speed: float) -> None:
    page.wait_for_function(
        "() => { const t = " + strips_js("ecg") + "[0];"
        f" return Math.abs(t.x[1] - t.x[0] - {speed / 500}) < 1e-6; }}"
    )


def choose(page, select: str, value: str) -> None:
    """A toolbar choice, once the server has stored it as the reader's preference."""
    with page.expect_response(
        lambda r: "/reading/preferences/" in r.url and r.request.method == "PUT"
    ) as put:
        page.select_option(select, value)
    assert put.value.status == 200, put.value.text()


def test_fifty_mm_per_second_magnifies_the_paper_and_the_sheet_scrolls(
    live_server, page, ana, bruno, diego, tnmg
):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    at25 = figure(page, SCALE)
    assert not at25["scrollsX"]  # the standard sheet fits its pane
    choose(page, "#speed", "50")
    redrawn_at(page, 50)
    at50 = figure(page, SCALE)
    # One millimetre of paper is as many pixels as before: a second is twice as long on screen.
    assert abs(at50["pxPerMm"] - at25["pxPerMm"]) < 0.01
    assert 1.9 < at50["width"] / at25["width"] < 2.05
    assert at50["height"] == at25["height"]
    assert at50["scrollsX"]
    page.screenshot(path=screenshot_path("desk-50mm"), full_page=False)
    choose(page, "#gain", "20")
    page.wait_for_function(f"() => document.getElementById('ecg')._fullLayout.height > {at50['height']}")
    at20 = figure(page, SCALE)
    # The same scale upwards, to the figure's whole-pixel size: 0.1% over a sheet ten centimetres high.
    assert abs(at20["pxPerMmY"] / at25["pxPerMm"] - 1) < 0.003
    assert at20["height"] > 1.5 * at50["height"] and at20["scrollsY"]
    page.screenshot(path=screenshot_path("desk-50mm-20mmmv"), full_page=False)


def test_the_magnified_sheet_draws_its_own_scrollbars(live_server, browser, ana, bruno, diego, tnmg):
    """At 50 mm/s half the sheet lies past the pane's edge. macOS and phones draw overlay scrollbars, shown
    only while one scrolls, so nothing told the reader there was more. The sheet's scrollbars are styled
    by the page, which Blink and WebKit never draw as overlays: 12 px, where this Chromium's own are 15.
    (The suite's headless Chromium hides every scrollbar: this test asks for one that shows them.)"""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    showing = browser.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, ignore_default_args=["--hide-scrollbars"]
    )
    try:
        showing_suite = SuiteBrowser(showing)  # STRIPS_OF reads its pages too
        page = showing_suite.new_context(viewport={"width": 1400, "height": 900}, locale="en-US").new_page()
        log_in(page, live_server, "ana")
        page.goto(f"{live_server.url}/read/{ref(first)}/")
        wait_drawn(page, first)
        plain = page.evaluate(f"({SCROLLBAR})(document.querySelector('main'))")
        choose(page, "#speed", "50")
        redrawn_at(page, 50)
        sheet = page.evaluate(f"({SCROLLBAR})(document.querySelector('.ecg-wrap'))")
        assert sheet == {"below": 12, "scrolls": True}
        assert plain["below"] in (0, 15)  # the system's own, where the page styles none
        page.locator(".ecg-wrap").screenshot(path=screenshot_path("desk-50mm-scrollbar"))
        page.context.close()
    finally:
        showing.close()
        LIVE_REQUESTS.wait_quiet()


def test_the_lead_labels_stay_in_view_after_a_zoom(live_server, page, ana, bruno, diego, tnmg):
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    # A box dragged over the middle of aVL's strip (0.6 s to 1.8 s of its 2.5 s), as a reader zooms.
    (x0, y0), (x1, y1) = (
        figure(
            page,
            f"const t = {STRIPS_OF}(gd).find(d => d.name === 'aVL');"
            " const mid = t.y.reduce((a, b) => a + b, 0) / t.y.length;"
            f" return [box.left + xa._offset + xa.l2p(t.x[{i}]), box.top + ya._offset + ya.l2p(mid + {dy})];",
        )
        for i, dy in ((300, 8), (900, -8))
    )
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "() => { const r = document.getElementById('ecg')._fullLayout.xaxis.range; return r[1] - r[0] < 40; }"
    )
    page.wait_for_timeout(300)
    shown = page.evaluate(
        "() => { const gd = document.getElementById('ecg');"
        " const area = gd.querySelector('.draglayer .nsewdrag').getBoundingClientRect();"
        " return Array.from(gd.querySelectorAll('.lead-label')).filter(a => {"
        "   const b = a.getBoundingClientRect();"
        "   return b.width > 0 && b.left >= area.left - 1 && b.right <= area.right + 1"
        "     && b.top >= area.top - 1 && b.bottom <= area.bottom + 1; }).map(a => a.textContent); }"
    )
    assert "aVL" in shown
    # The strips that begin right of the zoomed view keep their names out of sight: none is laid past the
    # figure's edge, where it would widen the pane and float over blank paper.
    outside = page.evaluate(
        "() => { const gd = document.getElementById('ecg');"
        " const area = gd.querySelector('.draglayer .nsewdrag').getBoundingClientRect();"
        " return Array.from(gd.querySelectorAll('.lead-label')).filter(a => {"
        "   const b = a.getBoundingClientRect();"
        "   return b.width > 0 && (b.right > area.right + 1 || b.left < area.left - 1); })"
        " .map(a => a.textContent); }"
    )
    assert outside == []
    pane = page.evaluate(
        "() => { const w = document.querySelector('.ecg-wrap'); return [w.scrollWidth, w.clientWidth]; }"
    )
    assert pane[0] <= pane[1]
    page.screenshot(path=screenshot_path("desk-zoom-labels"))


def test_layout_and_speed_follow_the_reader_and_another_reader_keeps_their_own(
    live_server, page, browser, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    anas, brunos = queue(batch, ana)[0], queue(batch, bruno)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    choose(page, "#speed", "50")
    choose(page, "#layout", "6x2")
    assert ReaderPreference.objects.get(user=ana).values == {"layout": "6x2", "speed": 50.0}
    page.reload()
    wait_drawn(page, anas)
    assert page.input_value("#speed") == "50" and page.input_value("#layout") == "6x2"
    redrawn_at(page, 50)
    assert len(page.evaluate(strips_js("ecg"))) == 12  # 6x2 has no rhythm strip

    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    other = context.new_page()
    log_in(other, live_server, "bruno")
    other.goto(f"{live_server.url}/read/{ref(brunos)}/")
    wait_drawn(other, brunos)
    assert other.input_value("#speed") == "25" and other.input_value("#layout") == "3x4"
    other.wait_for_load_state("networkidle")
    context.close()


def test_in_portuguese_leads_read_di_numbers_take_a_decimal_comma_and_statements_tnmg_names(
    live_server, browser, ana, bruno, diego, tnmg
):
    first = queue(
        shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, heart_rate=75), ana
    )[0]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="pt-BR")
    page = context.new_page()
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    labels = page.evaluate("Array.from(document.querySelectorAll('#ecg .lead-label'), s => s.textContent)")
    assert labels[:4] == ["DI", "aVR", "V1", "V4"] and labels[4] == "DII" and labels[8] == "DIII"
    assert labels[-1] == "DII"  # the rhythm strip
    assert "10,0 s" in page.inner_text("#exam-context")
    sb = tnmg.classes.get(code="SB")
    assert page.inner_text("#stmt-SB .name") == sb.name_pt
    page.keyboard.press("c")
    for at in (0.3, 0.7):
        click_rhythm_strip(page, at)
    amplitude = page.inner_text("#caliper-readout").split("·")[1]  # "{ms} ms · {mv} mV · {bpm} bpm"
    assert "," in amplitude and "." not in amplitude
    page.screenshot(path=screenshot_path("desk-pt-br"))
    # The reader may prefer I, II, III: their choice is kept.
    choose(page, "#lead-names", "I")
    labels = page.evaluate("Array.from(document.querySelectorAll('#ecg .lead-label'), s => s.textContent)")
    assert labels[0] == "I" and ReaderPreference.objects.get(user=ana).values["lead_names"] == "I"
    page.wait_for_load_state("networkidle")
    context.close()


def test_a_choice_refused_as_stale_in_a_second_tab_is_named_and_stays_on_screen(
    live_server, page, ana, bruno, diego, tnmg
):
    """Two tabs on one read: the first saves a draft; the second, still at the old revision, chooses
    something else. Its save is refused (409) and the tab reloads the read as saved: the reader is told so,
    and told which of their choices was not kept, and the notice is not wiped by the reload's redrawing."""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    other = page.context.new_page()
    other.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(other, first)

    page.keyboard.press("/")
    page.keyboard.type("WPW")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('save-state').textContent === 'Draft saved'")

    with other.expect_response(lambda r: r.url.endswith("/draft/")) as refused:
        other.keyboard.press("/")
        other.keyboard.type("LAFB")
        other.keyboard.press("Enter")
    assert refused.value.status == 409
    other.wait_for_function("() => document.getElementById('chosen').textContent === 'WPW'")
    other.wait_for_timeout(500)
    message = other.locator("#message")
    assert message.is_visible()
    text = message.inner_text()
    assert (
        "changed elsewhere" in text
        and "Not kept from this tab: Left anterior fascicular block (LAFB)." in text
    )
    other.screenshot(path=screenshot_path("desk-stale-second-tab"))
    other.close()


def test_the_focused_statement_shows_below_the_sticky_group_header_after_submit_and_next(
    live_server, page, ana, bruno, diego, tnmg
):
    first, second = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=2), ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    # A statement far down the list: the list scrolls to it, and the next exam's focus goes back to the top.
    page.keyboard.press("/")
    page.keyboard.type("ventricular tachycardia")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert page.evaluate("document.getElementById('statements').scrollTop") > 20
    page.keyboard.press("Enter")
    wait_drawn(page, second)
    page.wait_for_timeout(300)
    clear = page.evaluate(
        "() => { const row = document.querySelector('#statements .stmt.focus').getBoundingClientRect();"
        " const list = document.getElementById('statements').getBoundingClientRect();"
        " const header = Array.from(document.querySelectorAll('#statements h3.section'))"
        "   .map(h => h.getBoundingClientRect()).filter(h => h.top <= list.top + 1)"
        "   .reduce((low, h) => Math.max(low, h.bottom), list.top);"
        " return row.top >= header - 0.5 && row.bottom <= list.bottom + 0.5; }"
    )
    assert clear


def test_at_fifty_mm_per_second_every_column_keeps_its_lead_names(live_server, page, ana, bruno, diego, tnmg):
    """The names' layer was as wide as the pane, not the sheet: past the pane's width (V4-V6 at 50 mm/s,
    once scrolled to) the strips had no name."""
    first = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    choose(page, "#speed", "50")
    redrawn_at(page, 50)
    page.evaluate(
        "() => { const w = document.getElementById('ecg').parentElement; w.scrollLeft = w.scrollWidth; }"
    )
    shown = page.evaluate(
        "() => { const layer = document.querySelector('#ecg > .lead-labels').getBoundingClientRect();"
        " return [...document.querySelectorAll('#ecg .lead-label')].filter(s => !s.hidden).map(s => {"
        " const r = s.getBoundingClientRect();"
        " return [s.textContent, r.left >= layer.left && r.right <= layer.right + 1 && r.width > 0]; }); }"
    )
    names = {name: inside for name, inside in shown}
    assert {"V4", "V5", "V6"} <= names.keys()
    assert all(names[lead] for lead in ("V4", "V5", "V6")), shown
    page.screenshot(path=screenshot_path("desk-50mm-scrolled-right"), full_page=False)
