"""Blind benchmarks on the two ways the product is run, in Chromium as the coordinator and a model builder
meet them.

ana and bruno read the demo batch (the same call on each exam, so consensus decides every cell); diego
builds a release of it on the Releases page, makes a consensus benchmark of it on the release's page (its
tracings written after the request, the page waiting "preparing" until they are) and opens a submitter's
account on the People page. The submitter replaces the handed-out password, downloads the tracings (the
HDF5 holds the benchmark's exam ids, no label), is refused a NaN and a missing exam with the reason and
nothing stored, then submits a CSV for every exam and reads the figures beside the release's readers
(by pseudonym) once scored: in-process on "embedded", by the real Celery worker on "postgres".
"""

from __future__ import annotations

import csv
import sys
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from playwright.sync_api import expect

from tests.stacks import Stack, Walk, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BATCH = "Demo batch"
RELEASE = "Benchmark walk release"
BENCHMARK = "Demo benchmark"
SUBMITTER = "sofia"
SUBMITTER_PASSWORD = "sofia-scores-models-42"
MODEL = "walknet"


def _call(context: str) -> str:
    """Both readers make the same call on an exam, chosen from what the page says of it."""
    return "sinus brady" if zlib.crc32(context.encode()) % 2 else "sinus rhythm"


def read_the_demo_batch(walk: Walk, reader: str) -> int:
    return len(walk.read_queue(reader, BATCH, _call))


def build_release(walk: Walk) -> str:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/releases/")
    option = page.locator("#id_batches option", has_text=BATCH)
    page.select_option("#id_batches", option.get_attribute("value"))
    page.fill("#id_name", RELEASE)
    page.click("form.release-form button[type=submit]")
    page.wait_for_url(f"{walk.stack.url}/releases/*/")
    expect(page.locator("#release")).to_have_attribute("data-finished", "1", timeout=120_000)
    assert page.locator("#release .error").count() == 0, page.inner_text("#release")
    return page.url


def make_benchmark(walk: Walk, release_url: str) -> int:
    page = walk.log_in("diego")
    page.goto(release_url)
    page.click("#release-benchmark")
    page.fill("#id_name", BENCHMARK)
    page.select_option("#id_label_source", "consensus")
    page.fill("#id_private_fraction", "0.25")
    page.click("#benchmark-form button[type=submit]")
    page.wait_for_url(f"{walk.stack.url}/benchmarks/*/")
    # The tracings are written by a task after the request (the web process's own thread on "embedded",
    # the worker on "postgres"): the page says "preparing" and reloads itself once the benchmark is open.
    expect(page.locator("#benchmark")).to_have_attribute("data-status", "open", timeout=120_000)
    expect(page.locator("#tracings-download")).to_be_visible()
    walk.shot(page, "benchmark-1-coordinator")
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def open_submitter_account(walk: Walk) -> str:
    page = walk.log_in("diego")
    page.goto(f"{walk.stack.url}/people/")
    page.fill("#id_username", SUBMITTER)
    page.check("#new-account input[value=submitter]")
    page.click("#new-account button[type=submit]")
    page.wait_for_selector("#one-time-password")
    return page.inner_text("#one-time-password")


def submitter_logs_in(walk: Walk, handed_out: str):
    """The submitter's own browser: the handed-out password, replaced at once as the product requires."""
    page = walk.browser_for(SUBMITTER)
    walk.sign_in(page, SUBMITTER, handed_out)
    page.wait_for_selector("#password-change")
    page.fill("#id_old_password", handed_out)
    page.fill("#id_new_password1", SUBMITTER_PASSWORD)
    page.fill("#id_new_password2", SUBMITTER_PASSWORD)
    page.click("#password-change button[type=submit]")
    page.wait_for_url(f"{walk.stack.url}/")
    return page


def download_tracings(page, folder: Path) -> list[str]:
    with page.expect_download() as download_info:
        page.click("#tracings-download")
    download = download_info.value
    assert download.suggested_filename.endswith("-tracings.hdf5"), download.suggested_filename
    path = folder / download.suggested_filename
    download.save_as(path)
    with h5py.File(path, "r") as opened:
        assert sorted(opened.keys()) == ["exam_id", "tracings"]  # no label
        ids = [value.decode() for value in opened["exam_id"][()]]
        assert opened["tracings"].shape == (len(ids), 4096, 12)
        assert np.isfinite(opened["tracings"][()]).all()
    return ids


def submit(page, url: str, path: Path, version: str, thresholds: str):
    page.goto(url)
    page.set_input_files("#id_file", str(path))
    page.fill("#id_model_name", MODEL)
    page.fill("#id_model_version", version)
    page.fill("#id_thresholds", thresholds)
    page.click("#submission-form button[type=submit]")
    page.wait_for_load_state()


def write_csv(path: Path, ids: list[str], classes: list[str], scores: np.ndarray) -> Path:
    with path.open("w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(["exam_id", *classes])
        for row in reversed(range(len(ids))):  # any order is taken
            writer.writerow([ids[row], *(f"{value:.6f}" for value in scores[row])])
    return path


def submissions(stack: Stack) -> int:
    return stack.query("SELECT count(*) FROM annotations_benchmarksubmission")[0][0]


def refused(page, walk: Walk, path: Path, url: str, thresholds: str, reason: str, step: str) -> None:
    before = submissions(walk.stack)
    submit(page, url, path, "bad", thresholds)
    expect(page.locator("#submission-refused")).to_contain_text(reason)
    walk.shot(page, step)
    assert submissions(walk.stack) == before


def submitter_never_sees_labels(page, walk: Walk, benchmark: int) -> None:
    page.goto(f"{walk.stack.url}/benchmarks/{benchmark}/")
    assert page.locator("a[href*='label']").count() == 0
    answer = page.request.get(f"{walk.stack.url}/api/v1/benchmarks/{benchmark}/labels.csv")
    assert answer.status in (403, 404), answer.status


def called_classes_scored(public, readers: set[str]) -> None:
    """The classes the readers called: the model gets an AUROC where the public split holds both
    outcomes, and each reader, who agreed with the consensus, an F1 of 1."""
    aurocs, f1s = [], []
    for code in ("SR", "SB"):
        cell = public.locator(f'tr[data-who="{MODEL} 1"][data-class="{code}"] td').nth(2)
        aurocs.append(cell.get_attribute("data-value"))
        for reader in readers:
            row = public.locator(f'tr[data-who="{reader}"][data-class="{code}"] td')
            f1s.append(row.nth(7).get_attribute("data-value"))
    assert any(value is not None and 0 <= float(value) <= 1 for value in aurocs), aurocs
    assert {float(value) for value in f1s if value is not None} == {1.0}, f1s


# One story, as the people in it meet it: the steps are functions above; this is their order and checks.
def test_a_submitter_scores_a_model_on_a_blind_benchmark_of_the_demo(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    started = time.monotonic()
    try:
        reads = {reader: read_the_demo_batch(walk, reader) for reader in ("ana", "bruno")}
        assert reads["ana"] == reads["bruno"] > 0
        release_url = build_release(walk)
        benchmark = make_benchmark(walk, release_url)
        rows = stack.query(
            "SELECT exam_key FROM annotations_benchmarkexam WHERE benchmark_id = %s ORDER BY row", benchmark
        )
        assert len(rows) == reads["ana"]  # the readers agreed on every exam: every one is decided
        password = open_submitter_account(walk)

        page = submitter_logs_in(walk, password)
        page.goto(f"{stack.url}/benchmarks/")
        page.click(f"text={BENCHMARK}")
        page.wait_for_url(f"{stack.url}/benchmarks/{benchmark}/")
        url = page.url
        walk.shot(page, "benchmark-2-submitter")
        submitter_never_sees_labels(page, walk, benchmark)
        listed = page.request.get(f"{stack.url}/api/v1/benchmarks/{benchmark}/").json()
        classes, ids = listed["classes"], listed["exam_ids"]
        assert ids == [key for (key,) in rows]
        assert download_tracings(page, tmp_path) == ids
        thresholds = ",".join(["0.5"] * len(classes))
        scores = np.random.default_rng(7).random((len(ids), len(classes)))

        nan = scores.copy()
        nan[0, 0] = np.nan
        np.save(tmp_path / "nan.npy", nan)
        refused(page, walk, tmp_path / "nan.npy", url, thresholds, "is not a number", "benchmark-3-nan")
        missing = write_csv(tmp_path / "missing.csv", ids[1:], classes, scores[1:])
        reason = f"1 exam has no row: '{ids[0]}'"
        refused(page, walk, missing, url, thresholds, reason, "benchmark-4-missing")

        submit(page, url, write_csv(tmp_path / "scores.csv", ids, classes, scores), "1", thresholds)
        page.wait_for_url(f"{stack.url}/benchmarks/submissions/*/")
        assert submissions(stack) == 1

        def scored():
            page.reload()
            return page.locator("#submission-waiting").count() == 0

        eventually(scored, timeout=180, interval=2, what="the submission scored")
        public = page.locator("table.figures[data-split=public]")
        expect(public.locator(f'tr[data-who="{MODEL} 1"][data-class="macro"]')).to_have_count(1)
        expect(page.locator("table.figures[data-split=private]")).to_have_count(0)
        who = set(public.locator("tr").evaluate_all("rows => rows.map(r => r.dataset.who)")) - {None}
        readers = who - {f"{MODEL} 1"}
        assert len(readers) == 2, who
        assert not any(name in label for label in readers for name in ("ana", "bruno")), readers
        for code in classes:
            expect(public.locator(f'tr[data-who="{MODEL} 1"][data-class="{code}"]')).to_have_count(1)
        called_classes_scored(public, readers)
        walk.shot(page, "benchmark-5-results")
        if stack.name == "postgres":  # scored by the real worker, not in the request
            worker_log = (stack.var_dir / "celery.log").read_text(errors="replace")
            assert "annotations.tasks.benchmarks_score" in worker_log and "succeeded" in worker_log
            assert "annotations.tasks.benchmarks_prepare" in worker_log

        page.goto(url)
        expect(page.locator("#leaderboard")).to_contain_text(MODEL)
        walk.shot(page, "benchmark-6-leaderboard")
        submitter_never_sees_labels(page, walk, benchmark)
        assert stack.query("SELECT status FROM annotations_benchmarksubmission")[0][0] == "done", stack.query(
            "SELECT status, error FROM annotations_benchmarksubmission"
        )
        assert walk.errors == []
    except Exception:
        walk.shoot_all("failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
    print(f"{stack.name}: the benchmark walk took {time.monotonic() - started:.1f} s", file=sys.stderr)
