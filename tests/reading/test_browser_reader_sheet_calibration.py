"""The reader's desk in Chromium, read from the pixels: a millimetre of paper is as large with the median
beat panel as without it (the panel goes under the sheet, as on a cart's printout), a magnified sheet says
where more of it lies off-screen and scrolls one column at a key, and the earlier ECG's median beats lie
over the current ones lead by lead, with the change of each interval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from annotations.models import Exam, ReviewBatch
from annotations.models.reading import ReaderPreference
from tests.browser import screenshot_path
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn
from tests.reading.test_browser_reader_median import _suggest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The 1 mV, 200 ms calibration pulses are layout shape 0 (Plotly draws it as path[data-index="0"]): their
# size on screen, in pixels, is the paper's scale whatever the page computed.
PULSE = """() => { const r = document.querySelector('#ecg path[data-index="0"]').getBoundingClientRect();
  return {width: r.width, height: r.height, x: r.x}; }"""
WRAP = """() => { const w = document.querySelector('.ecg-wrap');
  return {left: w.scrollLeft, top: w.scrollTop, width: w.clientWidth, scrollWidth: w.scrollWidth,
    height: w.clientHeight, scrollHeight: w.scrollHeight}; }"""
CUE_SHOWN = "id => { const c = document.getElementById(id); return !!c && !c.hidden && c.offsetWidth > 0; }"


def _prefer(user, speed: int, gain: int) -> None:
    ReaderPreference.objects.update_or_create(
        user=user, defaults={"values": {"layout": "3x4", "speed": float(speed), "gain": float(gain)}}
    )


def _pixels_per_mm(page, speed: int, gain: int) -> tuple[float, float]:
    pulse = page.evaluate(PULSE)
    # The pulse path runs 1 mm of baseline either side of its 200 ms; its four rows' pulses, 1 mV tall,
    # stand a row (3 mV, at least 15 mm) apart.
    return pulse["width"] / (0.2 * speed + 2), pulse["height"] / (3 * max(15, 3 * gain) + gain)


@pytest.mark.parametrize(("speed", "gain"), [(25, 10), (50, 10), (25, 20), (50, 20)])
def test_a_millimetre_of_paper_is_as_large_with_the_median_panel_as_without(
    live_server, page, ana, bruno, diego, tnmg, speed, gain
):
    shown = shared_batch(
        readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, mode=ReviewBatch.SuggestionMode.SHOWN
    )
    with_panel = queue(shown, ana)[0]
    _suggest(with_panel.exam, tnmg)
    without_panel = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[
        0
    ]
    _prefer(ana, speed, gain)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")

    page.goto(f"{live_server.url}/read/{ref(without_panel)}/")
    wait_drawn(page, without_panel)
    assert not page.locator("#median-panel").is_visible()
    bare = _pixels_per_mm(page, speed, gain)

    page.goto(f"{live_server.url}/read/{ref(with_panel)}/")
    wait_drawn(page, with_panel)
    page.wait_for_selector("#median-panel polyline")
    panelled = _pixels_per_mm(page, speed, gain)
    assert panelled[0] == pytest.approx(bare[0], abs=0.01) and panelled[1] == pytest.approx(bare[1], abs=0.01)
    assert bare[0] == pytest.approx(bare[1], abs=0.02)  # squares stay square
    assert bare[0] > 4.0  # the standard sheet fills the pane's width: 1 mm > 4 px at 1600 px
    # The panel is under the sheet, never beside it: it takes none of the sheet's width.
    sheet, panel = page.locator(".ecg-wrap").bounding_box(), page.locator("#median-panel").bounding_box()
    assert panel["y"] >= sheet["y"] + sheet["height"] - 1
    if (speed, gain) == (50, 20):
        page.screenshot(path=screenshot_path("reader-panel-under-sheet-50-20"), full_page=True)


def test_a_panel_arriving_after_the_blind_read_leaves_the_millimetre_alone(
    live_server, page, ana, bruno, diego, tnmg
):
    """Two-stage: the suggestion and its panel come with the revision; the sheet keeps its scale."""
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    first = queue(batch, ana)[0]
    _suggest(first.exam, tnmg)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    before = _pixels_per_mm(page, 25, 10)
    page.keyboard.press("n")
    page.click("#submit")
    page.wait_for_selector("#median-panel polyline")
    after = _pixels_per_mm(page, 25, 10)
    assert after == pytest.approx(before, abs=0.01)


def _open_magnified(live_server, page, ana, bruno, diego, tnmg, speed: int, gain: int):
    assignment = queue(shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1), ana)[0]
    _prefer(ana, speed, gain)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(assignment)}/")
    wait_drawn(page, assignment)
    return assignment


def test_at_50_mm_s_a_cue_names_the_leads_off_screen_and_keys_scroll_one_column(
    live_server, page, ana, bruno, diego, tnmg
):
    _open_magnified(live_server, page, ana, bruno, diego, tnmg, 50, 10)
    px_per_mm, _ = _pixels_per_mm(page, 50, 10)
    column = 2.5 * 50 * px_per_mm  # one 2.5 s column of the 3x4 sheet, in pixels
    wrap = page.evaluate(WRAP)
    assert wrap["scrollWidth"] > wrap["width"] + column  # V1-V6 lie off to the right
    page.wait_for_function(CUE_SHOWN, arg="sheet-more-right")
    assert not page.evaluate(CUE_SHOWN, "sheet-more-left")
    cue = page.inner_text("#sheet-more-right")
    assert "V4" in cue and "V6" in cue and "I" not in cue.replace("V", "")
    page.screenshot(path=screenshot_path("reader-sheet-more-right"))

    page.keyboard.press(".")
    page.wait_for_function(f"() => document.querySelector('.ecg-wrap').scrollLeft > {column / 2}")
    assert page.evaluate(WRAP)["left"] == pytest.approx(column, abs=1)
    page.wait_for_function(CUE_SHOWN, arg="sheet-more-left")
    assert "I" in page.inner_text("#sheet-more-left")
    page.keyboard.press(".")
    page.wait_for_function(f"() => document.querySelector('.ecg-wrap').scrollLeft > {column * 1.5}")
    assert page.evaluate(WRAP)["left"] == pytest.approx(
        min(2 * column, wrap["scrollWidth"] - wrap["width"]), abs=1
    )
    page.wait_for_function("() => document.getElementById('sheet-more-left').innerText.includes('aVF')")
    right = page.inner_text("#sheet-more-right") if page.evaluate(CUE_SHOWN, "sheet-more-right") else ""
    assert right == "" or "V4" in right, right  # a band names what it points at, or is not there
    page.screenshot(path=screenshot_path("reader-sheet-scrolled-two-columns"))
    page.keyboard.press(",")
    page.keyboard.press(",")
    page.wait_for_function("() => document.querySelector('.ecg-wrap').scrollLeft === 0")
    page.wait_for_function(f"id => !({CUE_SHOWN})(id)", arg="sheet-more-left")
    # Clicking the cue scrolls as the key does.
    page.click("#sheet-more-right")
    page.wait_for_function(f"() => Math.abs(document.querySelector('.ecg-wrap').scrollLeft - {column}) <= 1")
    # The keys are in the help.
    page.keyboard.press("?")
    help_text = page.inner_text("#help")
    assert "," in help_text and "." in help_text and "column" in help_text


def test_at_20_mm_mv_a_cue_says_the_sheet_goes_on_below_and_none_shows_at_the_standard_sheet(
    live_server, page, ana, bruno, diego, tnmg
):
    _open_magnified(live_server, page, ana, bruno, diego, tnmg, 25, 20)
    wrap = page.evaluate(WRAP)
    assert wrap["scrollHeight"] > wrap["height"] + 10
    page.wait_for_function(CUE_SHOWN, arg="sheet-more-down")
    for side in ("left", "right"):
        assert not page.evaluate(CUE_SHOWN, f"sheet-more-{side}")
    page.screenshot(path=screenshot_path("reader-sheet-more-down"))
    page.keyboard.press(".")  # nothing to scroll sideways: the key leaves the sheet where it is
    assert page.evaluate(WRAP)["left"] == 0
    page.select_option("#gain", "10")
    page.wait_for_function(f"id => !({CUE_SHOWN})(id)", arg="sheet-more-down")
    for side in ("left", "right", "down"):
        assert not page.evaluate(CUE_SHOWN, f"sheet-more-{side}")


def _serial(ana, diego, tnmg, **extra):
    dataset = DatasetFactory(name="serial")
    make_exam(dataset, patient_pseudo_id="P-7", acquired_at=datetime(2018, 3, 4, tzinfo=UTC), heart_rate=95)
    current = make_exam(
        dataset, patient_pseudo_id="P-7", acquired_at=datetime(2021, 5, 6, tzinfo=UTC), heart_rate=58, seed=3
    )
    batch = batch_for(tnmg, diego, [ana], [current], name="Serial", serial_comparison=True, **extra)
    return queue(batch, ana)[0]


def test_the_earlier_ecgs_median_beats_lie_over_the_current_ones_with_the_changes(
    live_server, page, ana, diego, tnmg
):
    anas = _serial(ana, diego, tnmg, device_measurements_shown=True)
    Exam.objects.filter(patient_pseudo_id="P-7", acquired_at__year=2018).update(
        device_measurements={"heart_rate_bpm": 95, "pr_ms": 150, "qrs_ms": 88, "qt_ms": 330}
    )
    Exam.objects.filter(patient_pseudo_id="P-7", acquired_at__year=2021).update(
        device_measurements={"heart_rate_bpm": 58, "pr_ms": 210, "qrs_ms": 132, "qt_ms": 430}
    )
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    before = _pixels_per_mm(page, 25, 10)
    page.select_option("#priors-view", "overlay")
    page.wait_for_selector("#serial-overlay polyline")
    overlay = page.locator("#serial-overlay")
    assert page.locator("#serial-overlay polyline[data-which=current]").count() == 12
    assert page.locator("#serial-overlay polyline[data-which=earlier]").count() == 12
    # Aligned on QRS onset: in every lead both beats' onsets fall on the same pixel column.
    onsets = page.evaluate(
        "() => Array.from(document.querySelectorAll('#serial-overlay polyline')).map(p =>"
        " [p.dataset.lead, p.dataset.which, Number(p.dataset.onsetX)])"
    )
    by_lead: dict[str, dict[str, float]] = {}
    for lead, which, x in onsets:
        by_lead.setdefault(lead, {})[which] = x
    assert all(v["earlier"] == pytest.approx(v["current"], abs=0.5) for v in by_lead.values())
    colours = page.evaluate(
        "() => [...new Set(Array.from(document.querySelectorAll('#serial-overlay polyline')).map(p =>"
        " getComputedStyle(p).stroke))]"
    )
    assert len(colours) == 2
    legend = page.inner_text("#serial-overlay .serial-legend")
    assert "2018-03-04" in legend and "2021-05-06" in legend
    table = page.inner_text("#serial-overlay table")
    assert "+60 ms" in table and "+44 ms" in table and "\u221237 bpm" in table
    assert "carts' own" in page.inner_text("#serial-overlay")
    # The sheet above keeps its millimetre, and the earlier sheet's strips are not drawn.
    assert _pixels_per_mm(page, 25, 10) == pytest.approx(before, abs=0.01)
    assert not page.locator("#ecg-prior").is_visible()
    page.screenshot(path=screenshot_path("reader-serial-overlay"), full_page=True)
    overlay.screenshot(path=screenshot_path("reader-serial-overlay-panel"))
    page.keyboard.press("p")  # overlay -> none
    assert not page.locator("#serial-overlay").is_visible()
    assert page.locator("#priors-view").input_value() == "none"


def test_the_overlay_in_portuguese_without_measurements_shows_the_beats_alone(
    live_server, page, ana, diego, tnmg
):
    anas = _serial(ana, diego, tnmg)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.context.add_cookies([{"name": "django_language", "value": "pt-br", "url": live_server.url}])
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    for key in ("p", "p", "p"):  # none -> stacked -> side by side -> overlaid
        page.keyboard.press(key)
    page.wait_for_selector("#serial-overlay polyline")
    text = page.inner_text("#serial-overlay")
    assert "04/03/2018" in text and "06/05/2021" in text
    assert "sobrepostos" in text.lower() or "anterior" in text.lower()
    assert page.locator("#serial-overlay table").count() == 0
