"""Qualifiers end to end, on both ways the product is run (the `stack` fixture): a recording uploaded, a
batch designed, two readers choose the electrically inactive area by keyboard and say where (inferior;
inferior and lateral); the coordinator's agreement page shows the agreement on qualifiers once the
agreement is computed (in process, or by the worker); the release's reads.csv carries the territories."""

from __future__ import annotations

import csv
import json
import sys

import pytest
from playwright.sync_api import expect

from tests.cross.test_browser_whole_job import BATCH, DATASET, release_and_verify, upload_record
from tests.stacks import Walk, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What each reader types after "/", and the qualifier keys after the inactive area is chosen.
READS = {"ana": ("1",), "bruno": ("1", "4")}
SAID = {"ana": "EIA (Inferior)", "bruno": "EIA (Inferior, Lateral)"}


def design_batch(walk: Walk) -> None:
    walk.design_batch(BATCH, DATASET, READS)


def read_with_qualifiers(walk: Walk, reader: str) -> None:
    page = walk.log_in(reader)
    page.locator("#worklist tr", has_text=BATCH).locator("a.continue").click()
    page.wait_for_selector("#ecg[data-drawn]")
    page.keyboard.press("/")
    page.keyboard.type("inactive area")
    page.keyboard.press("Enter")
    expect(page.locator("#qualifier-chooser")).to_be_visible()
    for key in READS[reader]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert page.inner_text("#chosen") == SAID[reader]
    walk.shot(page, f"qualifiers-{reader}")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200, submitted.value.text()


def saved_qualifiers(walk: Walk) -> dict[str, list[str]]:
    rows = walk.stack.query(
        "SELECT u.username, l.qualifiers FROM annotations_annotationlabel l "
        "JOIN annotations_annotation a ON l.annotation_id = a.id "
        "JOIN annotations_assignment s ON a.assignment_id = s.id "
        "JOIN auth_user u ON s.reader_id = u.id "
        "JOIN annotations_reviewbatch b ON s.batch_id = b.id WHERE b.name = %s AND a.status = 'submitted'",
        BATCH,
    )
    return {user: json.loads(q) if isinstance(q, str) else q for user, q in rows}


def agreement_on_qualifiers(walk: Walk) -> str:
    page = walk.log_in("diego")

    def shown():  # computed after the submissions: a worker's task on PostgreSQL
        page.goto(f"{walk.stack.url}/batches/")
        page.locator("a", has_text=BATCH).first.click()
        page.locator("#agreement-link").click()
        table = page.locator("#qualifier-agreement")
        # Both reads computed: bruno's lateral is in (a computation after ana's read alone shows inferior).
        return table.count() and "Lateral" in table.inner_text()

    eventually(shown, timeout=60, interval=1, what="the agreement on qualifiers")
    walk.shot(page, "qualifiers-agreement")
    return page.inner_text("#qualifier-agreement")


def test_readers_say_where_and_it_reaches_agreement_and_the_release(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    try:
        upload_record(walk)
        design_batch(walk)
        for reader in READS:
            read_with_qualifiers(walk, reader)
        assert saved_qualifiers(walk) == {"ana": ["inferior"], "bruno": ["inferior", "lateral"]}
        table = agreement_on_qualifiers(walk)
        assert "Inferior" in table and "Lateral" in table
        folder = release_and_verify(walk)
        with (folder / "reads.csv").open(newline="") as handle:
            reads = {row["reader"]: row for row in csv.DictReader(handle) if row["code"] == "EIA"}
        assert sorted(row["territory"] for row in reads.values()) == ["inferior", "inferior lateral"]
        assert walk.errors == []
    except Exception:
        walk.shoot_all("qualifiers-failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
