"""The blind reader's measurements panel in headless Chromium: in a batch that hides suggestions, the
setting "cart_and_computed" draws the median beat with its fiducial marks, the intervals computed from the
signal and the ST levels under the 12 leads, with no statement, score or model named; "none" draws nothing.
The numbers on screen are the numbers the reading API sent."""

from __future__ import annotations

import re

import pytest

from annotations.models import ReviewBatch, Suggestion, SuggestionScore
from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _hidden_batch(ana, bruno, diego, tnmg, setting: str):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    batch.design = {**batch.design, "blind_measurements": setting}
    batch.save(update_fields=["design"])
    return queue(batch, ana)[0]


def test_a_blind_read_shows_the_computed_beat_intervals_and_st_levels_and_nothing_diagnostic(
    live_server, page, client, ana, bruno, diego, tnmg
):
    first = _hidden_batch(ana, bruno, diego, tnmg, "cart_and_computed")
    client.force_login(ana)
    sent = client.get(f"/api/v1/reading/assignments/{ref(first)}/").json()["measurements"]
    computed = sent["intervals"]["computed"]
    assert computed and sent["beat"]["source"] == "computed" and sent["st_mm"]
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    panel = page.locator("#median-panel")
    panel.wait_for(state="visible")
    assert page.locator("#median-panel polyline").count() == 12
    assert page.locator("#median-panel line[data-mark]").count() >= 12
    text = panel.inner_text()
    assert "Measurements of the signal · not a diagnosis" in text
    assert f"{round(computed['qrs_ms'])} ms" in text and f"{round(computed['heart_rate_bpm'])} bpm" in text
    st_v2 = sent["st_mm"]["j60"]["V2"]
    shown = "0.0" if round(st_v2 * 10) == 0 else f"{st_v2:+.1f}"
    st_rows = page.locator("#median-panel table.st-levels tr").all_inner_texts()
    assert any(row.split()[0] == "V2" and row.split()[-1] == shown for row in st_rows), st_rows
    assert not any("-0.0" in row for row in st_rows)
    for word in ("Suggestion", "Model", "score", "openecg", "measurements provider"):
        assert word.lower() not in text.lower(), word
    assert not re.search(r"\b(SB|AF|RBBB|LBBB)\b", text)
    intervals = page.locator("#median-panel table.blind-intervals").bounding_box()
    st = page.locator("#median-panel table.st-levels").bounding_box()
    assert intervals["x"] + intervals["width"] <= st["x"]  # side by side, never over each other
    assert "{#" not in page.inner_text("body")  # no template comment on the page
    strips, under = page.locator(".ecg-wrap").bounding_box(), panel.bounding_box()
    assert under["y"] >= strips["y"] + strips["height"] - 1  # under the strips: their millimetre is kept
    page.screenshot(path=screenshot_path("reader-blind-measurements"), full_page=True)


def test_the_setting_none_shows_no_panel(live_server, page, ana, bruno, diego, tnmg):
    first = _hidden_batch(ana, bruno, diego, tnmg, "none")
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    assert not page.locator("#median-panel").is_visible()
    assert page.locator("#median-panel polyline").count() == 0


def test_two_stage_blind_step_shows_the_measurements_and_no_suggestion_until_submitted(
    live_server, page, ana, bruno, diego, tnmg
):
    """Before the blind read is submitted: the signal's measurements and nothing diagnostic. After it, the
    revision shows the suggestion, and its model's median beat takes the panel's place."""
    batch = shared_batch(
        readers=[ana, bruno],
        coordinator=diego,
        taxonomy=tnmg,
        exams=1,
        mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    batch.design = {**batch.design, "blind_measurements": "cart_and_computed"}
    batch.save(update_fields=["design"])
    first = queue(batch, ana)[0]
    suggestion = Suggestion.objects.create(
        exam=first.exam, provider="demo-model", provider_version="2", measurements={"qrs_ms": 123.0}
    )
    SuggestionScore.objects.create(
        suggestion=suggestion, diagnostic_class=tnmg.classes.get(code="AF"), score=0.87
    )
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.locator("#median-panel").wait_for(state="visible")
    blind = page.locator("#median-panel").inner_text()
    assert "Measurements of the signal · not a diagnosis" in blind
    assert "demo-model" not in page.inner_text("body") and "123 ms" not in blind
    assert not page.locator("#suggestion").is_visible()
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    page.wait_for_selector("#suggestion:not([hidden])")
    page.wait_for_function("() => document.getElementById('median-panel').innerText.includes('demo-model')")
    assert "123 ms" in page.inner_text("#median-panel")
