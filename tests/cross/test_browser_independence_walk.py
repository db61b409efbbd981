"""Independent reads on the two ways the product is run, in Chromium as the coordinator meets them.

The demo hands ana and bruno every demo exam. A new batch over the demo exams for the same two readers keeps
every exam back from both (the page says how many, from whom and why) and so cannot be made; unticking
"Keep readers away from exams they know" without a reason is refused; with a reason the batch is made, its
page says independence is off and why, and the stored design records it.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.stacks import Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BATCH = "Second look"
WHY = "a second look at the demo exams by the same readers"


def _designer(walk: Walk):
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/batches/new/")
    page.fill("#id_name", BATCH)
    tnmg = page.locator("#id_taxonomy option", has_text="(tnmg ").get_attribute("value")
    page.select_option("#id_taxonomy", tnmg)
    for reader in ("ana", "bruno"):
        page.locator("#id_readers label", has_text=reader).locator("input").check()
    page.fill("#id_readers_per_exam", "1")
    page.locator("#id_datasets label", has_text="demo").locator("input").check()
    return page


def _design(stack) -> dict:
    (value,) = stack.query("SELECT design FROM annotations_reviewbatch WHERE name = %s", BATCH)[0]
    return value if isinstance(value, dict) else json.loads(value)


def test_a_batch_over_exams_its_readers_hold_is_kept_independent_unless_a_reason_is_given(
    browser, stack, tmp_path
):
    walk = Walk(browser, stack, tmp_path)
    try:
        held = stack.query(
            "SELECT count(DISTINCT s.exam_id) FROM annotations_assignment s "
            "JOIN annotations_reviewbatch b ON s.batch_id = b.id WHERE b.name = 'Demo batch'"
        )[0][0]
        page = _designer(walk)
        expect(page.locator("#id_exclude_seen")).to_be_checked()
        page.click("button[value=preview]")
        page.wait_for_selector("#plan-kept-back")
        walk.shot(page, "independence-1-default")
        for reader in ("ana", "bruno"):
            row = page.locator(f"#plan-kept-back tr[data-reader={reader}]")
            expect(row.locator(".kept")).to_have_text(str(held))
            expect(row.locator(".read-before")).to_have_text(str(held))
        expect(page.locator("#cannot-create")).to_be_visible()  # nobody left to read them

        page.uncheck("#id_exclude_seen")
        page.click("button[value=preview]")
        expect(page.locator("body")).to_contain_text("say why readers may be handed exams")

        page.uncheck("#id_exclude_seen")
        page.fill("#id_independence_off_reason", WHY)
        page.click("button[value=preview]")
        page.wait_for_selector("button[value=create]")
        page.click("button[value=create]")
        page.wait_for_url(f"{stack.url}/batches/*/")
        expect(page.locator("#independence-state")).to_have_attribute("data-independent", "0")
        expect(page.locator("#independence-reason")).to_have_text(WHY)
        walk.shot(page, "independence-2-off")
        design = _design(stack)
        assert design["exclude_seen"] is False and design["independence_off_reason"] == WHY
        assert not walk.errors, walk.errors
    finally:
        walk.close()
