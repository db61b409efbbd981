"""From a reader's comment and skips to the release's files, in Chromium, on the two ways the product is
run (tests/stacks.py: `make run`'s embedded default, and PostgreSQL with a real Celery worker).

ana reads the first exam of the demo batch with a comment, skips the next as an unreadable tracing and
the one after as "other" with her words; the coordinator's dashboard counts the two skips per reason; the
coordinator builds a release in the browser and downloads it; reads.csv and consensus.jsonl (read back
with csv and json) hold the comment with the read's revision and the skips' codes and words, and the
dataset card lists the free-text columns."""

from __future__ import annotations

import csv
import json
import sys
import zipfile

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot_path
from tests.stacks import Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BATCH = "Demo batch"
COMMENT = "Muscle tremor in I; otherwise normal."
WORDS = "Paced rhythm, spikes hidden"


def shot(walk: Walk, page, step: str) -> None:
    page.screenshot(path=str(screenshot_path(f"comments-release-{walk.stack.name}-{step}")), full_page=True)


def read_with_a_comment_and_skip_twice(walk: Walk) -> None:
    page = walk.log_in("ana")
    page.locator("#worklist tr", has_text=BATCH).locator("a.continue").click()
    page.wait_for_selector("#ecg[data-drawn]")
    page.keyboard.press("/")
    page.keyboard.type("sinus brady")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.fill("#comment", COMMENT)
    shown = page.get_attribute("#ecg", "data-drawn")
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.click("#submit")
    assert submitted.value.status == 200, submitted.value.text()
    for key, words in (("1", ""), ("5", WORDS)):
        # The next exam of the queue is drawn: the one the reader now skips.
        page.wait_for_function(
            "shown => document.getElementById('ecg').dataset.drawn && "
            "document.getElementById('ecg').dataset.drawn !== shown",
            arg=shown,
        )
        shown = page.get_attribute("#ecg", "data-drawn")
        page.wait_for_timeout(1200)  # past the second in which a key may not act on an exam just opened
        page.keyboard.press("s")
        page.wait_for_selector("#skip-dialog[open]")
        page.keyboard.press(key)
        if words:
            page.keyboard.type(words)
        shot(walk, page, f"skip-{key}")
        with page.expect_response(lambda response: "/skip/" in response.url) as skipped:
            page.keyboard.press("Enter")
        assert skipped.value.status == 200, skipped.value.text()


def dashboard_counts_the_skips(walk: Walk) -> None:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/batches/")
    page.locator("a", has_text=BATCH).first.click()
    page.wait_for_url(f"{walk.stack.url}/batches/*/")
    expect(page.locator("#skip-counts tr[data-code='unreadable'] td.count")).to_have_text("1")
    expect(page.locator("#skip-counts tr[data-code='other'] td.count")).to_have_text("1")
    expect(page.locator("#skips")).to_contain_text(WORDS)
    shot(walk, page, "dashboard")


def build_and_download(walk: Walk):
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/releases/")
    option = page.locator("#id_batches option", has_text=BATCH)
    page.select_option("#id_batches", option.get_attribute("value"))
    page.fill("#id_name", "Comments release")
    page.click("form.release-form button[type=submit]")
    page.wait_for_url(f"{walk.stack.url}/releases/*/")
    expect(page.locator("#release")).to_have_attribute("data-finished", "1", timeout=90_000)
    assert page.locator("#release .error").count() == 0, page.inner_text("#release")
    with page.expect_download() as download_info:
        page.locator("a[href*='zip']").first.click()
    archive = walk.downloads / download_info.value.suggested_filename
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(walk.downloads / "unzipped")
    (card,) = (walk.downloads / "unzipped").rglob("dataset_card.json")
    return card.parent


def check_files(stack, folder) -> None:
    # The read's revision as stored (the page saves drafts as the reader types, each one a revision).
    ((revision,),) = stack.query("SELECT revision FROM annotations_annotation WHERE comment = %s", COMMENT)
    with (folder / "reads.csv").open(newline="", encoding="utf-8") as handle:
        reads = list(csv.DictReader(handle))
    commented = [row for row in reads if row["comment"] == COMMENT]
    assert commented and all(row["revision"] == str(revision) and row["code"] == "SB" for row in commented)
    reader = commented[0]["reader"]
    skips = [row for row in reads if row["status"] == "skipped" and row["reader"] == reader]
    assert sorted((row["skip_code"], row["skip_reason"]) for row in skips) == [
        ("other", WORDS),
        ("unreadable", ""),
    ]
    lines = [
        json.loads(line) for line in (folder / "consensus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    comments = [comment for line in lines for comment in line["comments"]]
    assert [(c["reader"], c["revision"], c["comment"]) for c in comments] == [(reader, revision, COMMENT)]
    card = json.loads((folder / "dataset_card.json").read_text(encoding="utf-8"))
    assert card["free_text_columns"]["reads.csv"] == ["skip_reason", "comment"]
    assert card["free_text_columns"]["adjudications.csv"] == ["rationale"]
    with (folder / "adjudications.csv").open(newline="", encoding="utf-8") as handle:
        assert csv.DictReader(handle).fieldnames[-1] == "rationale"


def test_a_readers_comment_and_coded_skips_reach_the_release_files(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    try:
        read_with_a_comment_and_skip_twice(walk)
        dashboard_counts_the_skips(walk)
        check_files(stack, build_and_download(walk))
        assert walk.errors == []
    except Exception:
        walk.shoot_all("failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
