"""Benchmark: the warm reader page of two checkouts, loaded in turn in one headless Chromium.

bench/reader_page.py compares the page with a floor measured in the same run; from one run to the next its
warm ratio moves by about 0.05x on a 2-core VM, as much as a change to the page is worth. This one answers
"is this change faster?": both checkouts serve the same exam from the same database, each with its own
gunicorn (3 sync workers, as docker-compose runs it) and its own collected static files, and their warm
loads alternate A, B, B, A, ... so that what the machine does meanwhile falls on both alike.

    .venv/bin/python bench/reader_page_ab.py [--pairs 40] [--quiet] [A B]

A and B are checkout folders; by default A is a fresh worktree of HEAD and B this working tree, so with no
arguments it measures uncommitted changes (and, with none, the noise between two identical pages). Both
run this working tree's database schema: it compares the pages' code, not migrations.

Prints each checkout's median, mean and quartiles of navigation -> 13 traces drawn, and B - A paired by
turn: the median difference with a 95 % bootstrap interval. The same for the two parts of each load the page
times itself: the strips' drawing (its data-drawn-ms) and what comes before it. The drawing varies far less
than the whole load (on a 2-core VM, 40 pairs of the same page: an interval of +-7 ms against +-20), so a
change to the drawing shows there long before it shows in the total. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench-reader"))

from bench import reader_page  # noqa: E402

WARM_UP_LOADS = 4


def head_worktree(stack: ExitStack) -> Path:
    """A throw-away worktree of HEAD, removed when the stack closes."""
    folder = Path(tempfile.mkdtemp(prefix="reader-ab-head-")) / "head"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(folder), "HEAD"], cwd=ROOT, check=True, capture_output=True
    )
    stack.callback(
        subprocess.run, ["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True
    )
    return folder


def serve(checkout: Path, stack: ExitStack) -> str:
    """The checkout's app on a free port, with its own static files and this run's waveforms."""
    from django.conf import settings

    port = reader_page.free_port()
    env = dict(
        os.environ,
        VAR_DIR=tempfile.mkdtemp(prefix="reader-ab-var-"),
        WAVEFORM_STORAGE_URL=settings.WAVEFORM_STORAGE_URL,
        DEBUG="0",
        STATIC_MANIFEST="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=checkout,
        env=env,
        check=True,
    )
    server = subprocess.Popen(
        [sys.executable, *reader_page.SERVERS["gunicorn"], f"127.0.0.1:{port}"],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(server.terminate)
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"{checkout}: the app exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{checkout}: the app did not start")


# The drawing's own duration, as the page times it (pages/reading/sheet.js sets it with data-drawn-at).
DRAWING_MS = "Number(document.getElementById('ecg').dataset.drawnMs)"


def alternate(
    bases: list[str], assignment_id: str, pairs: int, quiet: bool = False
) -> tuple[list[list[float]], list[list[float]]]:
    """Warm loads of each base's reader page, in turn, the order reversed every other turn; quiet: each
    after its page has had no request open for half a second (reader_page.settle). Returns each base's
    loads (navigation -> drawn) and, load by load, the drawing's part of them."""
    from playwright.sync_api import sync_playwright

    loads: list[list[float]] = [[] for _ in bases]
    drawings: list[list[float]] = [[] for _ in bases]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=reader_page.CHROMIUM, args=reader_page.CHROMIUM_ARGS
        )
        pages = []
        for base in bases:  # one context each: separate caches and sessions, as two sites
            page = browser.new_context(viewport=reader_page.VIEWPORT).new_page()
            reader_page.log_in(page, base)
            url = f"{base}/read/{assignment_id}/"
            for _ in range(WARM_UP_LOADS):
                reader_page.reader_load(page, url, assignment_id)
            pages.append((page, url))
        for turn in range(pairs):
            order = range(len(bases)) if turn % 2 == 0 else reversed(range(len(bases)))
            for index in order:
                page, url = pages[index]
                if quiet:
                    reader_page.settle(page)
                loads[index].append(reader_page.reader_load(page, url, assignment_id))
                drawings[index].append(float(page.evaluate(DRAWING_MS)))
        browser.close()
    return loads, drawings


def paired_difference(a: list[float], b: list[float], resamples: int = 10_000) -> tuple[float, float, float]:
    """Median of B - A over the turns, with a 95 % percentile bootstrap interval."""
    differences = np.asarray(b) - np.asarray(a)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(differences), size=(resamples, len(differences)))
    medians = np.median(differences[picks], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(np.median(differences)), float(low), float(high)


def report(names: list[str], loads: list[list[float]], drawings: list[list[float]]) -> None:
    for name, values in zip(names, loads, strict=True):
        quartiles = statistics.quantiles(values, n=4)
        print(
            f"{name}: median {statistics.median(values):6.1f} ms   mean {statistics.mean(values):6.1f} ms   "
            f"quartiles {quartiles[0]:.0f}-{quartiles[2]:.0f} ms   ({len(values)} warm loads)"
        )
    before = [
        [load - drawing for load, drawing in zip(base_loads, base_drawings, strict=True)]
        for base_loads, base_drawings in zip(loads, drawings, strict=True)
    ]
    parts = (("the whole load", loads), ("before the drawing", before), ("the drawing", drawings))
    for part, values in parts:
        middle, low, high = paired_difference(values[0], values[1])
        print(
            f"B - A, paired by turn, {part:<18}: median {middle:+6.1f} ms, "
            f"95 % interval {low:+.1f} to {high:+.1f} ms"
            f"   (medians A {statistics.median(values[0]):.1f}, B {statistics.median(values[1]):.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="turns of one warm load each")
    parser.add_argument("--quiet", action="store_true", help="each load after its page has been left quiet")
    parser.add_argument("checkouts", nargs="*", type=Path, help="A and B (default: HEAD and this tree)")
    args = parser.parse_args()
    if len(args.checkouts) not in (0, 2):
        parser.error("give two checkouts, or none")
    assignment = reader_page.prepare(n_exams=4, full=True)[0]
    with ExitStack() as stack:
        checkouts = args.checkouts or [head_worktree(stack), ROOT]
        names = ["A " + str(checkouts[0]), "B " + str(checkouts[1])]
        bases = [serve(checkout.resolve(), stack) for checkout in checkouts]
        kind = "warm, quiet" if args.quiet else "warm, back to back"
        print(f"reader page A/B: {args.pairs} turns ({kind}), the same exam and database, served by gunicorn")
        report(names, *alternate(bases, reader_page._ref(assignment), max(5, args.pairs), args.quiet))


if __name__ == "__main__":
    main()
