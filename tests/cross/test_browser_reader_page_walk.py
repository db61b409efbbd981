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
    try:

        def first_shown(page, headers: list[str]) -> None:
            if len(headers) == 1:
                walk.shot(page, "reader-header")

        headers = walk.read_queue("ana", BATCH, lambda header: "sinus rhythm", on_exam=first_shown)
        page = walk.log_in("ana")
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
