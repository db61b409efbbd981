"""Serial comparison on the reader page, in headless Chromium: the patient's earlier ECG drawn beneath or
beside the current one on the same calibrated paper (same millimetres per pixel, speed and gain), labelled
with its date, fetched only when the reader opens it; absent in batches designed without it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from tests.browser import screenshot_path, strips_js
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import lead_traces, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pixel size of each figure's calibration pulses (Plotly draws layout shape i as path[data-index=i]; the
# pulses are shape 0): the same size means the same millimetres per pixel.
PULSES = """id => { const r = document.querySelector(`#${id} path[data-index="0"]`).getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height}; }"""
GRID = """id => document.querySelector(`#${id} .main-svg`).getBoundingClientRect().toJSON()"""


def _exams():
    dataset = DatasetFactory(name="serial")
    prior = make_exam(
        dataset, patient_pseudo_id="P-7", acquired_at=datetime(2018, 3, 4, tzinfo=UTC), heart_rate=95
    )
    current = make_exam(
        dataset, patient_pseudo_id="P-7", acquired_at=datetime(2021, 5, 6, tzinfo=UTC), heart_rate=58
    )
    return prior, current


def _same_scale(page) -> dict:
    current, earlier = page.evaluate(PULSES, "ecg"), page.evaluate(PULSES, "ecg-prior")
    assert current["width"] > 5 and current["height"] > 20
    assert earlier["width"] == pytest.approx(current["width"], abs=0.5)
    assert earlier["height"] == pytest.approx(current["height"], abs=0.5)
    return current


def _shot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    shutil.copy(path, screenshot_path(name))


def test_the_earlier_ecg_opens_stacked_or_side_by_side_on_the_same_paper(
    live_server, page, ana, diego, tnmg, tmp_path
):
    _, current = _exams()
    anas = queue(batch_for(tnmg, diego, [ana], [current], serial_comparison=True), ana)[0]
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/priors/" in r.url else None)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    assert page.locator("#priors-control").is_visible()
    assert page.locator("#priors-view").input_value() == "none"
    assert not page.locator("#prior-pane").is_visible()
    page.wait_for_load_state("networkidle")
    assert fetched == []  # nothing of the earlier ECG travels until the reader opens it

    page.select_option("#priors-view", "stacked")
    page.wait_for_selector("#ecg-prior[data-drawn]")
    assert len(fetched) == 1 and fetched[0].endswith(f"/reading/assignments/{ref(anas)}/priors/1/waveform/")
    assert "2018-03-04" in page.locator("#prior-caption").inner_text()
    assert lead_traces(page) == page.evaluate(f"{strips_js('ecg-prior')}.map(s => s.name)")
    pulses = _same_scale(page)
    main, below = page.evaluate(GRID, "ecg"), page.evaluate(GRID, "ecg-prior")
    assert below["y"] >= main["y"] + main["height"] - 1 and below["x"] == pytest.approx(main["x"], abs=1)
    _shot(page, tmp_path, "reader-priors-stacked")

    page.select_option("#priors-view", "side")
    page.wait_for_function("document.getElementById('ecg-prior').dataset.mode === 'side'")
    side = _same_scale(page)
    assert side["width"] < pulses["width"]  # both halve to share the pane's width, alike
    main, beside = page.evaluate(GRID, "ecg"), page.evaluate(GRID, "ecg-prior")
    assert beside["x"] >= main["x"] + main["width"] - 1 and beside["y"] < main["y"] + main["height"]
    assert page.evaluate("(w => w.scrollWidth <= w.clientWidth + 1)(document.querySelector('.ecg-wrap'))")
    _shot(page, tmp_path, "reader-priors-side")
    assert len(fetched) == 1  # the same earlier ECG is not fetched again

    # The toolbar drives both: 20 mm/mV doubles both pulses alike; keys still work.
    page.select_option("#gain", "20")
    page.wait_for_function("document.getElementById('ecg-prior').dataset.gain === '20'")
    assert _same_scale(page)["height"] > side["height"] * 1.5
    page.keyboard.press("l")  # next layout: 6x2, for both
    page.wait_for_function("document.getElementById('ecg-prior').dataset.layout === '6x2'")
    assert lead_traces(page)[:2] == ["I", "V1"]
    assert lead_traces(page) == page.evaluate(f"{strips_js('ecg-prior')}.map(s => s.name)")
    page.keyboard.press("c")
    assert page.get_attribute("#caliper-toggle", "aria-pressed") == "true"
    page.keyboard.press("c")
    page.keyboard.press("p")  # side by side -> median beats overlaid
    page.wait_for_selector("#serial-overlay polyline")
    assert not page.locator("#prior-pane").is_visible()
    page.keyboard.press("p")  # overlaid -> none
    assert not page.locator("#prior-pane").is_visible()
    assert page.locator("#priors-view").input_value() == "none"
    page.keyboard.press("p")  # none -> stacked
    page.wait_for_function("document.getElementById('ecg-prior').dataset.mode === 'stacked'")
    _shot(page, tmp_path, "reader-priors-stacked-6x2-20mm")


def test_a_batch_without_serial_comparison_offers_no_earlier_ecg(live_server, page, ana, diego, tnmg):
    _, current = _exams()
    anas = queue(batch_for(tnmg, diego, [ana], [current]), ana)[0]
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/priors/" in r.url else None)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    assert not page.locator("#priors-control").is_visible()
    page.keyboard.press("p")
    assert not page.locator("#prior-pane").is_visible()
    page.wait_for_load_state("networkidle")
    assert fetched == []


SAME_X = """() => { const a = document.getElementById('ecg').layout.xaxis.range,
  b = document.getElementById('ecg-prior').layout.xaxis.range;
  return Math.abs(a[0] - b[0]) < 1e-6 && Math.abs(a[1] - b[1]) < 1e-6; }"""
RANGES = """id => { const l = document.getElementById(id).layout;
  return {x: l.xaxis.range.map(Number), y: l.yaxis.range.map(Number)}; }"""


def test_zooming_either_sheet_zooms_the_other_to_the_same_paper(
    live_server, page, ana, diego, tnmg, tmp_path
):
    """A box drawn on the current ECG shows the same stretch of paper (same seconds of the same leads) on
    the earlier one, and the other way round; resetting the zoom resets both."""
    _, current = _exams()
    anas = queue(batch_for(tnmg, diego, [ana], [current], serial_comparison=True), ana)[0]
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    page.select_option("#priors-view", "stacked")
    page.wait_for_selector("#ecg-prior[data-drawn]")
    whole = page.evaluate(RANGES, "ecg")
    box = page.locator("#ecg .nsewdrag").bounding_box()
    # A box zoom by mouse over the first column's upper rows of the current sheet.
    page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.3, steps=8)
    page.mouse.up()
    page.wait_for_function(SAME_X)
    zoomed, earlier = page.evaluate(RANGES, "ecg"), page.evaluate(RANGES, "ecg-prior")
    assert zoomed["x"][1] - zoomed["x"][0] < (whole["x"][1] - whole["x"][0]) / 2
    assert earlier["x"] == pytest.approx(zoomed["x"]) and earlier["y"] == pytest.approx(zoomed["y"])
    # Not a full-page shot: that resizes the window, and a resized page draws its sheets afresh.
    page.screenshot(path=screenshot_path("reader-priors-zoom-linked"))
    # The other way: a box on the earlier sheet moves the current one.
    page.locator("#ecg-prior").scroll_into_view_if_needed()
    box = page.locator("#ecg-prior .nsewdrag").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.9, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "() => { const r = document.getElementById('ecg-prior').layout.xaxis.range;"
        f" return r[1] - r[0] < {(zoomed['x'][1] - zoomed['x'][0]) / 2}; }}"
    )
    page.wait_for_function(SAME_X)
    again, earlier = page.evaluate(RANGES, "ecg"), page.evaluate(RANGES, "ecg-prior")
    assert again["x"] == pytest.approx(earlier["x"]) and again["y"] == pytest.approx(earlier["y"])
    page.keyboard.press("r")
    page.wait_for_function(
        f"() => Number(document.getElementById('ecg-prior').layout.xaxis.range[1]) === {whole['x'][1]}"
    )
    assert page.evaluate(RANGES, "ecg")["x"] == pytest.approx(whole["x"])
    assert page.evaluate(RANGES, "ecg-prior")["x"] == pytest.approx(whole["x"])
