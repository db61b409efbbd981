"""Measurements for blind readers on the two ways the product is run, in Chromium as the coordinator and
the reader meet them.

diego designs a batch over the demo exams that shows blind readers the cart's and the computed
measurements (independence off, with a reason: ana has read the demo exams); ana opens it and reads the
signal's measurements under the 12 leads, with nothing diagnostic: no suggestion, no model's name.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.stacks import Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BATCH = "Blind desk"


def _design(walk: Walk) -> None:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/batches/new/")
    page.fill("#id_name", BATCH)
    tnmg = page.locator("#id_taxonomy option", has_text="(tnmg ").get_attribute("value")
    page.select_option("#id_taxonomy", tnmg)
    page.locator("#id_readers label", has_text="ana").locator("input").check()
    page.fill("#id_readers_per_exam", "1")
    page.locator("#id_datasets label", has_text="demo").locator("input").check()
    page.uncheck("#id_exclude_seen")
    page.fill("#id_independence_off_reason", "the blind desk walk reads the demo exams again")
    page.select_option("#id_blind_measurements", "cart_and_computed")
    page.click("button[value=preview]")
    page.wait_for_selector("button[value=create]")
    page.click("button[value=create]")
    page.wait_for_url(f"{walk.stack.url}/batches/*/")
    walk.shot(page, "blind-desk-1-batch")


def test_a_blind_reader_sees_the_signals_measurements_and_nothing_diagnostic(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    try:
        _design(walk)
        (design,) = stack.query("SELECT design FROM annotations_reviewbatch WHERE name = %s", BATCH)[0]
        design = design if isinstance(design, dict) else json.loads(design)
        assert design["blind_measurements"] == "cart_and_computed"

        page = walk.log_in("ana")
        page.goto(f"{stack.url}/")
        page.locator("tr", has_text=BATCH).locator("a.continue").click()
        panel = page.locator("#median-panel")
        # The first computed panel of a process loads the signal libraries: seconds, once.
        expect(panel).to_contain_text("Measurements of the signal · not a diagnosis", timeout=60_000)
        expect(panel.locator("table.blind-intervals")).to_contain_text("QRS")
        text = panel.inner_text()
        assert "Suggestion" not in page.inner_text("body") and "Model" not in text
        strips, under = page.locator(".ecg-wrap").bounding_box(), panel.bounding_box()
        assert under["y"] >= strips["y"] + strips["height"] - 1
        walk.shot(page, "blind-desk-2-reader")
        assert not walk.errors, walk.errors
    finally:
        walk.close()
