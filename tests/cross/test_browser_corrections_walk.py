"""Corrections that keep the record, in Chromium, on both ways the product is run (tests/stacks.py).

A coordinator uploads a recording and designs a batch for two readers, who both read it as sinus
bradycardia. ana pressed Enter too early: she amends her read (Amend…, a reason) to first-degree AV block,
and agreement is recomputed (the in-process thread, or the Celery worker): bradycardia is now split. The
coordinator returns bruno's read with a reason from the dashboard; bruno sees why on his worklist and
submits it again. The release's read_history.csv, read back with csv, keeps every revision.
"""

from __future__ import annotations

import csv
import sys
import time

import pytest

from tests.cross.test_browser_whole_job import BATCH, DATASET, release_and_verify, upload_record
from tests.stacks import Stack, Walk, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def design_batch(walk: Walk) -> None:
    walk.design_batch(BATCH, DATASET, ("ana", "bruno"))


def read(walk: Walk, reader: str) -> None:
    page = walk.log_in(reader)
    page.goto(f"{walk.stack.url}/")
    page.locator("#worklist tr", has_text=BATCH).locator("a.continue").click()
    page.wait_for_selector("#ecg[data-drawn]")
    page.keyboard.press("/")
    page.keyboard.type("sinus brady")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_timeout(1200)  # looked at: a key in the exam's first second is held back
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.keyboard.press("Enter")
    assert submitted.value.status == 200, submitted.value.text()
    page.wait_for_url(f"{walk.stack.url}/")


def split_codes(stack: Stack) -> list[str]:
    """The exam's disputed statements as the last agreement computation stored them."""
    rows = stack.query(
        "SELECT c.code FROM annotations_disputedlabel d "
        "JOIN annotations_reviewbatch b ON d.batch_id = b.id "
        "JOIN annotations_diagnosticclass c ON d.diagnostic_class_id = c.id WHERE b.name = %s",
        BATCH,
    )
    return sorted(code for (code,) in rows)


def agreed_codes(stack: Stack) -> list[str]:
    rows = stack.query(
        "SELECT c.code FROM annotations_consensus k "
        "JOIN annotations_reviewbatch b ON k.batch_id = b.id "
        "JOIN annotations_diagnosticclass c ON k.diagnostic_class_id = c.id "
        "WHERE b.name = %s AND k.value AND k.method = 'unanimous'",
        BATCH,
    )
    return sorted(code for (code,) in rows)


def amend(walk: Walk) -> None:
    page = walk.log_in("ana")
    page.goto(f"{walk.stack.url}/")
    page.locator("#worklist tr", has_text=BATCH).locator("a.my-reads").click()
    page.locator("a.open-read").first.click()
    page.wait_for_selector("#ecg[data-drawn]")
    page.click("#amend")
    page.click(".stmt[data-code='SB']")
    page.click(".stmt[data-code='1dAVb']")
    page.click("#submit")
    page.fill("#amend-reason", "pressed Enter too early: PR is long, the rate is normal")
    with page.expect_response(lambda response: "/amend/" in response.url) as amended:
        page.click("#amend-send")
    assert amended.value.status == 200, amended.value.text()
    page.wait_for_function("() => document.getElementById('message').textContent.includes('revision')")
    walk.shot(page, "corrections-1-amended")


def return_brunos_read(walk: Walk) -> None:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/batches/")
    page.locator("a", has_text=BATCH).first.click()
    page.wait_for_url(f"{walk.stack.url}/batches/*/")
    exam = page.locator("#exam-status tbody tr a").first.inner_text()
    page.fill("#return-exam", exam)
    page.select_option("#return-reader", label="bruno")
    page.fill("#return-reason", "is the PR interval really normal?")
    page.click("#return-read button[type=submit]")
    page.wait_for_selector("ul.messages li")
    assert "returned to its reader" in page.inner_text("ul.messages")
    walk.shot(page, "corrections-2-returned")


def resubmit(walk: Walk) -> None:
    page = walk.log_in("bruno")
    page.goto(f"{walk.stack.url}/")
    row = page.locator("#worklist tr", has_text=BATCH)
    assert "returned to you: is the PR interval really normal?" in row.inner_text()
    row.locator("a.draft-link").first.click()
    page.wait_for_selector("#ecg[data-drawn]")
    assert "is the PR interval really normal?" in page.inner_text("#read-state")
    walk.shot(page, "corrections-3-bruno-returned")
    page.click(".stmt[data-code='1dAVb']")
    page.wait_for_timeout(1200)
    with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
        page.click("#submit")
    assert submitted.value.status == 200, submitted.value.text()


def history(folder) -> list[dict]:
    with (folder / "read_history.csv").open(newline="", encoding="utf-8") as table:
        return [row for row in csv.DictReader(table) if row["dataset"] == DATASET]


def test_a_read_is_amended_and_returned_and_the_release_keeps_every_revision(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    started = time.monotonic()
    try:
        upload_record(walk)
        design_batch(walk)
        read(walk, "ana")
        read(walk, "bruno")
        eventually(lambda: agreed_codes(stack) == ["SB"], timeout=90, interval=1, what="SB agreed")
        amend(walk)
        # Recomputed after the amendment, by the worker or the in-process thread: the reads now differ.
        eventually(lambda: split_codes(stack) == ["1dAVb", "SB"], timeout=90, interval=1, what="split")
        return_brunos_read(walk)
        resubmit(walk)
        eventually(lambda: split_codes(stack) == ["SB"], timeout=90, interval=1, what="SB alone split")
        assert agreed_codes(stack) == ["1dAVb"]
        folder = release_and_verify(walk)
        rows = history(folder)
        by_reader: dict[str, list[tuple[str, str, str]]] = {}
        for row in rows:
            by_reader.setdefault(row["reader"], []).append((row["kind"], row["codes"], row["reason"]))
        assert sorted(by_reader.values()) == sorted(
            [
                [
                    ("submit", "SB", ""),
                    ("amend", "1dAVb", "pressed Enter too early: PR is long, the rate is normal"),
                ],
                [
                    ("submit", "SB", ""),
                    ("returned", "SB", "is the PR interval really normal?"),
                    ("submit", "SB 1dAVb", ""),
                ],
            ]
        )
        card = (folder / "dataset_card.md").read_text(encoding="utf-8")
        assert "read_history.csv" in card
        assert "read_history.csv" in (folder / "SHA256SUMS").read_text()
        assert walk.errors == []
    except Exception:
        walk.shoot_all("corrections-failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
    print(f"{stack.name}: the corrections walk took {time.monotonic() - started:.1f} s", file=sys.stderr)
