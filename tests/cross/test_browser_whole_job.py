"""The whole job in Chromium, as its users do it, on the two ways the product is run.

A coordinator uploads a real recording on the Imports page and designs a two-stage batch for two readers;
both read it by keyboard and disagree; the adjudicator settles the dispute; the coordinator builds a
release, downloads it as one zip through the browser, and `sha256sum -c SHA256SUMS` verifies it.

- "embedded": what `make run` configures. No DATABASE_URL and no REDIS_URL (SQLite under VAR_DIR, Celery
  tasks in-process), `migrate`, `load_taxonomy --shipped`, `seed_demo`, then `runserver`: each a
  subprocess with a clean environment, so nothing of the test process's PostgreSQL or Redis leaks in.
- "postgres": a fresh PostgreSQL database, this process's Redis database as broker and cache, a real
  Celery worker and gunicorn with DEBUG off, after the same commands plus `collectstatic`.

The test process never touches either database through Django: it inspects them with plain SQL.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.stacks import Stack, Walk, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RECORD = [ROOT / "tests" / "data" / "wfdb" / "ptbdb" / f"s0010_re.{ext}" for ext in ("hea", "dat", "xyz")]
DATASET = "walk-ptbdb"
BATCH = "Whole job"
# What each reader types after "/" and the statement Enter must choose: different statements, so the
# exam is disputed on both.
READS = {"ana": ("sinus brady", "SB"), "bruno": ("1st degree", "1dAVb")}
DECISIONS = {"SB": "present", "1dAVb": "absent"}


def upload_record(walk: Walk) -> None:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/imports/")
    page.set_input_files("#id_files", [str(path) for path in RECORD])
    page.fill("#id_dataset", DATASET)
    page.click("form.import-form button[type=submit]")
    page.wait_for_url(f"{walk.stack.url}/imports/*/")
    # pages/imports.js polls until then
    expect(page.locator("#job-status")).to_have_text("Done", timeout=60_000)
    expect(page.locator("[data-count=created]")).to_have_text("1")
    walk.shot(page, "1-import")
    assert page.locator("#job-outcomes tr").count() >= 1


def design_batch(walk: Walk) -> None:
    preview = walk.design_batch(BATCH, DATASET, ("ana", "bruno"), mode="two_stage")
    assert "1 of 1 matching exams" in preview


def read_by_keyboard(walk: Walk, reader: str, submit_key: str) -> None:
    """The reader's whole two-stage read: the blind read, then the suggestion, then the final read."""
    query, code = READS[reader]
    page = walk.log_in(reader)
    page.locator("#worklist tr", has_text=BATCH).locator("a.continue").click()
    page.wait_for_selector("#ecg[data-drawn]")
    assert not page.locator("#suggestion").is_visible()
    page.keyboard.press("/")
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    assert page.inner_text("#chosen") == code
    page.keyboard.press("Escape")
    walk.shot(page, f"3-{reader}-blind")
    with page.expect_response(lambda response: "/submit/" in response.url) as blind:
        page.keyboard.press(submit_key)
    assert blind.value.status == 200, blind.value.text()
    page.wait_for_selector("#suggestion:not([hidden])")
    walk.shot(page, f"4-{reader}-suggestion")
    assert page.inner_text("#chosen") == code  # the revision starts from the blind read
    # The reader reads the suggestion, then keeps their read: a key pressed within a second of the blind
    # submit, the read unchanged, would be a reflex and is held back (test_browser_reader_double_enter).
    page.wait_for_timeout(1500)
    with page.expect_response(lambda response: "/submit/" in response.url) as revised:
        page.keyboard.press(submit_key)
    assert revised.value.status == 200, revised.value.text()
    page.wait_for_url(f"{walk.stack.url}/")


def submitted_reads(stack: Stack) -> list[tuple[str, str, str]]:
    return sorted(
        stack.query(
            "SELECT u.username, a.stage, c.code FROM annotations_annotation a "
            "JOIN annotations_assignment s ON a.assignment_id = s.id "
            "JOIN annotations_reviewbatch b ON s.batch_id = b.id "
            "JOIN auth_user u ON s.reader_id = u.id "
            "JOIN annotations_annotationlabel l ON l.annotation_id = a.id "
            "JOIN annotations_diagnosticclass c ON l.diagnostic_class_id = c.id "
            "WHERE b.name = %s AND a.status = 'submitted'",
            BATCH,
        )
    )


def follow_progress(walk: Walk) -> None:
    """The coordinator's dashboard counts both submitted reads, and no skip; its suggestions section,
    fetched by the page, counts the exam's suggestion."""
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/batches/")
    page.locator("a", has_text=BATCH).first.click()
    page.wait_for_url(f"{walk.stack.url}/batches/*/")
    expect(page.locator("#coverage")).to_have_text(
        "1 of 1 exams fully read; 2 of 2 reads done; 0 skipped.", use_inner_text=True
    )
    computed = page.locator("#suggestions .suggestion-progress", has_text="1 of 1 exams computed")
    expect(computed.first).to_be_visible()


def adjudicate(walk: Walk) -> None:
    page = walk.log_in("carla")

    def listed():  # the agreement is recomputed after the submissions: a worker's task on PostgreSQL
        page.goto(f"{walk.stack.url}/adjudication/")
        return page.locator("#adjudication-queue tr", has_text=BATCH).count()

    eventually(listed, timeout=60, interval=1, what="the disputed exam in the adjudication queue")
    page.locator("#adjudication-queue tr", has_text=BATCH).locator("a").click()
    page.wait_for_selector("#adjudication-ecg[data-drawn='1']")
    disputed = sorted(
        name.removeprefix("decision-")
        for name in page.eval_on_selector_all("#disputed input[type=radio]", "els => els.map(e => e.name)")
    )
    assert sorted(set(disputed)) == sorted(DECISIONS)
    for code, decision in DECISIONS.items():
        page.check(f"input[name='decision-{code}'][value='{decision}']")
    page.fill("textarea[name=rationale]", "Sinus bradycardia; PR under 200 ms.")
    walk.shot(page, "5-adjudication")
    page.click("#sign")
    page.wait_for_url(f"{walk.stack.url}/adjudication/")
    assert page.locator("#adjudication-queue tr", has_text=BATCH).count() == 0


def release_and_verify(walk: Walk) -> Path:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/releases/")
    option = page.locator("#id_batches option", has_text=BATCH)
    page.select_option("#id_batches", option.get_attribute("value"))
    page.fill("#id_name", "Walk release")
    page.click("form.release-form button[type=submit]")
    page.wait_for_url(f"{walk.stack.url}/releases/*/")
    # pages/releases.js polls the build's progress and reloads the page once it is finished.
    expect(page.locator("#release")).to_have_attribute("data-finished", "1", timeout=90_000)
    walk.shot(page, "6-release")
    assert page.locator("#release .error").count() == 0, page.inner_text("#release")
    zip_link = page.locator("a[href*='zip']")
    assert zip_link.count() == 1, "the release page offers no zip"
    with page.expect_download() as download_info:
        zip_link.first.click()
    download = download_info.value
    assert re.fullmatch(r"release-\d+\.zip", download.suggested_filename), download.suggested_filename
    archive = walk.downloads / download.suggested_filename
    download.save_as(archive)
    if shutil.which("unzip"):  # as the person downloading it would
        subprocess.run(["unzip", "-q", str(archive), "-d", str(walk.downloads / "unzipped")], check=True)
    else:
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(walk.downloads / "unzipped")
    (sums,) = (walk.downloads / "unzipped").rglob("SHA256SUMS")
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=sums.parent, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = [line for line in sums.read_text().splitlines() if line.strip()]
    assert check.stdout.count(": OK") == len(listed) >= 3
    return sums.parent


def test_the_whole_job_from_upload_to_a_verified_release(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    started = time.monotonic()
    try:
        upload_record(walk)
        design_batch(walk)
        # Two-stage needs the suggestion before the revision: the worker's (or the in-process) task.
        eventually(
            lambda: stack.query(
                "SELECT count(*) FROM annotations_suggestion s JOIN annotations_exam e ON s.exam_id = e.id "
                "JOIN annotations_dataset d ON e.dataset_id = d.id WHERE d.name = %s",
                DATASET,
            )[0][0],
            what="the suggestion for the uploaded exam",
        )
        read_by_keyboard(walk, "ana", submit_key="Enter")
        read_by_keyboard(walk, "bruno", submit_key="Control+Enter")
        assert submitted_reads(stack) == sorted(
            (reader, stage, code) for reader, (_, code) in READS.items() for stage in ("blind", "revised")
        )
        follow_progress(walk)
        adjudicate(walk)
        folder = release_and_verify(walk)
        with (folder / "consensus.csv").open(newline="") as table:
            (row,) = [row for row in csv.DictReader(table) if row["dataset"] == DATASET]
        assert row["exam_id"] == "s0010_re" and row["reads"] == "2"
        assert {code: row[code] for code in DECISIONS} == {"SB": "1", "1dAVb": "0"}  # as adjudicated
        assert walk.errors == []
    except Exception:
        walk.shoot_all("failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
    print(f"{stack.name}: the walk took {time.monotonic() - started:.1f} s", file=sys.stderr)
