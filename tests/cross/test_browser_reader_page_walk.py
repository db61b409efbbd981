"""A reader's whole queue of the demo batch in Chromium, on both ways the product runs (tests/stacks.py):
each exam's header says when it was acquired, the patient's age and sex ("not recorded" where the file did
not say), and the last submit ends on the word that the batch is finished."""

from __future__ import annotations

import re
import sys

import pytest

from tests.stacks import Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BATCH = "Demo batch"
HEADER = re.compile(
    r"(Acquired \d{4}-\d\d-\d\d \d\d:\d\d|Acquisition date not recorded) · (Age \d+|Age not recorded)"
    r" · (female|male|sex not recorded) · [\d.]+ s at \d+ Hz"
)


def test_a_reader_reads_the_demo_queue_to_its_end(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    headers: list[str] = []
    try:
        page = walk.log_in("ana")
        page.locator("#worklist tr", has_text=BATCH).locator("a.continue").click()
        while "/read/" in page.url:
            ref = page.url.rstrip("/").rsplit("/", 1)[1]
            page.wait_for_selector(f"#ecg[data-drawn='{ref}']")
            page.wait_for_function("() => document.getElementById('exam-context').textContent !== ''")
            headers.append(page.inner_text("#exam-context"))
            if len(headers) == 1:
                walk.shot(page, "reader-header")
            page.keyboard.press("/")
            page.keyboard.type("sinus rhythm")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            before = page.url
            with page.expect_response(lambda response: "/submit/" in response.url) as submitted:
                page.click("#submit")
            assert submitted.value.status == 200, submitted.value.text()
            page.wait_for_function("before => location.href !== before", arg=before)
            page.wait_for_load_state()
            assert len(headers) < 50, "the queue does not end"
        walk.shot(page, "batch-finished")
        assert page.inner_text("ul.messages") == (
            f"Batch “{BATCH}” finished: nothing left to read in your queue. Thank you!"
        )
        assert all(HEADER.fullmatch(header) for header in headers), headers
        # The synthetic demo exam (services/demo.py), as recorded: 2026-03-12 09:40 UTC, 56, female.
        assert "Acquired 2026-03-12 09:40 · Age 56 · female · 10.0 s at 500 Hz" in headers
        (read,) = stack.query(
            "SELECT count(*) FROM annotations_assignment s JOIN auth_user u ON s.reader_id = u.id "
            "JOIN annotations_reviewbatch b ON s.batch_id = b.id "
            "WHERE u.username = 'ana' AND b.name = %s AND s.status = 'submitted'",
            BATCH,
        )
        assert read[0] == len(headers)
        assert walk.errors == []
    except Exception:
        walk.shoot_all("failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
