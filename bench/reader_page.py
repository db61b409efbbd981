"""Benchmark: the reader page in headless Chromium, each figure next to its floor measured in the same run.

Starts the app (gunicorn with 3 sync workers as docker-compose runs it, or --server runserver; DEBUG off)
on a free port against DATABASE_URL (default: the local database ecgreview_bench_reader, created and
migrated), creates its own reader, taxonomy, exams and batch, and
serves the floor pages from a second tiny server. Then, median of --runs runs:

  (a) waveform bytes on the wire vs the gzip-compressed int16 size of the same exam (goal <= 1.1x);
  (b) navigation -> all 13 strips drawn, warm and empty cache, vs a minimal page drawing the same
      samples with the same Plotly basic bundle and nothing else (goal: warm <= 1.0x, empty cache <= 1.5x);
      the warm load also once more after the page has been left quiet ("warm, quiet": see settle());
  (c) submit-and-next -> next exam drawn vs half of (b)'s warm page load (goal <= 1.0x of that half);
  and, for information, (b) against a bare canvas page drawing the same samples, and (d) the time from
  choosing "Earlier ECGs: stacked" to the earlier ECG drawn.

The reader's desk panels are on as well: the median beat panel under the sheet, the serial comparison's
median beats overlaid ((e): choosing "Earlier ECGs: median beats overlaid" to the 24 beats drawn), and the
off-screen cue, with (b) once more at 50 mm/s, where the magnified sheet runs past the pane and the cue
names the leads out of view ("warm, 50 mm/s", against the same minimal Plotly page's warm load).

By default the page is measured as a reader sees it fully equipped: a batch in "shown" suggestion mode whose
exams carry the measurement provider's suggestion (so the median beat panel with its fiducial marks is
drawn), designed with serial comparison, each exam's patient having one earlier exam (offered, fetched only
when opened). --plain measures a hidden-mode batch without serial comparison instead.

Prints figures and ratios; asserts nothing.

    .venv/bin/python bench/reader_page.py [--runs 15] [--plain]
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench-reader"))

from bench import _django  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "bench-reader-password-42"
VIEWPORT = {"width": 1400, "height": 900}

# The floors: the same samples, the same 3x4 + rhythm arrangement, nothing else.
FLOOR_COMMON = """
const LAYOUT = [["I","aVR","V1","V4"],["II","aVL","V2","V5"],["III","aVF","V3","V6"]];
const NAMES = ["I","II","III","aVR","aVL","aVF","V1","V2","V3","V4","V5","V6"];
function strips(buf, gainUv) {
  const raw = new Int16Array(buf), n = raw.length / 12, fs = 500, out = [];
  const lead = (name) => {
    const o = NAMES.indexOf(name) * n, mv = new Float32Array(n);
    for (let i = 0; i < n; i++) mv[i] = raw[o + i] * gainUv / 1000;
    return mv;
  };
  const leads = {}; NAMES.forEach(name => leads[name] = lead(name));
  const col = 2.5 * fs;
  LAYOUT.forEach((row, r) => row.forEach((name, c) => {
    const x = new Float32Array(col), y = new Float32Array(col);
    for (let i = 0; i < col; i++) {
      x[i] = 10 + c * 62.5 + i * 0.05; y[i] = 120 - (r + 0.55) * 30 + leads[name][c * col + i] * 10;
    }
    out.push({x, y});
  }));
  const x = new Float32Array(n), y = new Float32Array(n);
  for (let i = 0; i < n; i++) { x[i] = 10 + i * 0.05; y[i] = 120 - 3.55 * 30 + leads.II[i] * 10; }
  out.push({x, y});
  return out;
}
"""
PLOTLY_FLOOR = """<!doctype html><html><head><meta charset="utf-8">
<script src="plotly-basic.min.js"></script></head>
<body style="margin:0"><div id="g"></div><script>%s
fetch("wave.bin").then(r => r.arrayBuffer()).then(buf => {
  const data = strips(buf, %s).map(s => ({type: "scatter", mode: "lines", x: s.x, y: s.y,
    hoverinfo: "skip",
    line: {color: "#111", width: 1}}));
  return Plotly.newPlot("g", data, {width: 1400, height: 672, margin: {l: 0, r: 0, t: 0, b: 0},
    showlegend: false,
    hovermode: false, xaxis: {range: [0, 265], visible: false}, yaxis: {range: [0, 125], visible: false}},
    {displayModeBar: false});
}).then(() => { window.drawnAt = performance.now(); });
</script></body></html>"""
CANVAS_FLOOR = """<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0"><canvas id="c" width="1400" height="672"></canvas><script>%s
fetch("wave.bin").then(r => r.arrayBuffer()).then(buf => {
  const g = document.getElementById("c").getContext("2d"), k = 1400 / 265;
  g.strokeStyle = "#111"; g.lineWidth = 1;
  strips(buf, %s).forEach(s => { g.beginPath(); g.moveTo(s.x[0] * k, 672 - s.y[0] * k);
    for (let i = 1; i < s.x.length; i++) g.lineTo(s.x[i] * k, 672 - s.y[i] * k); g.stroke(); });
  requestAnimationFrame(() => { window.drawnAt = performance.now(); });
});
</script></body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _equip(exams, earlier) -> None:
    """The full configuration: each exam's suggestion, with the measurements that draw the median beat
    panel, and one earlier exam of its patient."""
    from annotations.lib.providers.measurements.provider import MeasurementProvider
    from annotations.services.suggestions import suggestion_compute

    provider = MeasurementProvider()
    for exam in exams:
        suggestion = suggestion_compute(exam.pk, provider)
        if suggestion is None or not suggestion.measurements:
            raise RuntimeError(f"no measurements for exam {exam.pk}: the median panel would not show")
    assert len(earlier) == len(exams)


def prepare(n_exams: int, full: bool = True):
    """Users, the default taxonomy, synthetic exams and a batch read by one reader, all new each run."""
    _django.setup("ecgreview_bench_reader")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotations.lib.ecg.leads import STANDARD_LEADS
    from annotations.lib.ecg.synthetic import synthetic_ecg
    from annotations.models import Assignment
    from annotations.roles import Role
    from annotations.services.batches.lifecycle import batch_create
    from annotations.services.exams.create import ExamInput, dataset_get_or_create, exam_create
    from annotations.services.taxonomy import DEFAULT_TAXONOMY_FILE, taxonomy_load, taxonomy_read_file

    users = get_user_model()

    def person(name: str, role: Role):
        user, _ = users.objects.get_or_create(username=name)
        user.set_password(PASSWORD)
        user.is_staff = role == Role.COORDINATOR
        user.save()
        user.groups.set([Group.objects.get_or_create(name=str(role))[0]])
        return user

    reader, coordinator = person("bench-reader", Role.READER), person("bench-coordinator", Role.COORDINATOR)
    taxonomy = taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE), make_default=True).taxonomy
    dataset = dataset_get_or_create(name="bench-reader")
    stamp = time.strftime("%Y%m%d%H%M%S")
    exams, earlier = [], []
    for i in range(n_exams):
        signals, _ = synthetic_ecg(heart_rate_bpm=60 + i % 40, rr_jitter=0.03, noise_uv=15, seed=i)
        exams.append(
            exam_create(
                dataset=dataset,
                data=ExamInput(
                    external_id=f"{stamp}-{i}",
                    signals_mv=signals,
                    sampling_rate=500.0,
                    lead_names=list(STANDARD_LEADS),
                    age=40 + i,
                    sex="F",
                    patient_pseudo_id=f"{stamp}-patient-{i}",
                    acquired_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
                ),
            )
        )
        if not full:
            continue
        before, _ = synthetic_ecg(heart_rate_bpm=55 + i % 30, rr_jitter=0.03, noise_uv=15, seed=1000 + i)
        earlier.append(
            exam_create(
                dataset=dataset,
                data=ExamInput(
                    external_id=f"{stamp}-{i}-earlier",
                    signals_mv=before,
                    sampling_rate=500.0,
                    lead_names=list(STANDARD_LEADS),
                    age=38 + i,
                    sex="F",
                    patient_pseudo_id=f"{stamp}-patient-{i}",
                    acquired_at=datetime(2022, 3, 1, 10, tzinfo=UTC),
                ),
            )
        )
    if full:
        _equip(exams, earlier)
    batch = batch_create(
        name=f"bench {stamp}",
        taxonomy=taxonomy,
        exams=exams,
        readers=[reader],
        readers_per_exam=1,
        actor=coordinator,
        seed=1,
        suggestion_mode="shown" if full else "hidden",
        serial_comparison=full,
    )
    return list(Assignment.objects.filter(batch=batch).select_related("exam").order_by("position"))


# How the app is served. gunicorn as docker-compose runs it with PostgreSQL (sync workers, each keeping its
# database connection); runserver as `make run` serves the demo, which opens a thread and a new database
# connection per browser connection (about 8 ms of the first byte with PostgreSQL on a 2-core VM).
SERVERS = {
    "gunicorn": ["-m", "gunicorn", "ecgreview.wsgi:application", "--workers", "3", "--bind"],
    "runserver": ["manage.py", "runserver", "--noreload"],
}


def start_app(port: int, server_kind: str = "gunicorn") -> subprocess.Popen:
    env = dict(
        os.environ,
        DEBUG="0",
        STATIC_MANIFEST="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    server = subprocess.Popen(
        [sys.executable, *SERVERS[server_kind], f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):  # a minute: at a load of 9 on the shared 2-core machine it took 12 s to listen
        if server.poll() is not None:
            raise RuntimeError(f"the app exited with {server.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the app did not start")


def serve_floors(exam) -> tuple[str, http.server.ThreadingHTTPServer, Path]:
    from annotations.services.exams.waveforms import waveform_load

    folder = Path(tempfile.mkdtemp(prefix="reader-floors-"))
    shutil.copy(ROOT / "static" / "vendor" / "plotly" / "plotly-basic.min.js", folder)
    (folder / "wave.bin").write_bytes(waveform_load(exam.waveform_key)[:12].astype("<i2").tobytes())
    (folder / "plotly.html").write_text(PLOTLY_FLOOR % (FLOOR_COMMON, repr(exam.gain_uv)))
    (folder / "canvas.html").write_text(CANVAS_FLOOR % (FLOOR_COMMON, repr(exam.gain_uv)))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server, folder


# Where a warm reader page's time goes, in ms from the navigation's start: the first byte and the end of
# the HTML, each resource's fetch ending (from the cache or the server), the strips' own drawing, and drawn.
TIMELINE_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0], gd = document.getElementById("ecg");
  const ended = (part) => {
    const hit = performance.getEntriesByType("resource").find((r) => r.name.includes(part));
    return hit ? hit.responseEnd : null;
  };
  return {first_byte: nav.responseStart, html: nav.responseEnd, dom: nav.domInteractive,
    plotly: ended("plotly"), waveform: ended("/waveform/"), context: ended("/reading/assignments/"),
    draw: Number(gd.dataset.drawnMs), drawn: Number(gd.dataset.drawnAt)};
}"""


def log_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "bench-reader")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("main h1")


def page_value(page, expression: str, timeout_s: float = 30.0) -> float:
    """The page's own figure, once `expression` gives one, asked for from outside every 10 ms.

    Each page times itself (performance.now() when its strips are drawn); the harness only reads it. It
    asks through the DevTools protocol rather than Playwright's waits: those inject a script of their own
    and poll the DOM from inside the page, costing the page's main thread about 10 ms, sometimes before
    the drawing (the reader page, whose streamed HTML leaves the parser gaps that script lands in),
    sometimes after it (the floors, parsed in one go); which one was luck of timing. Asked like this,
    both kinds of page bear the same few evaluations of one expression, and nothing else."""
    session = page.context.new_cdp_session(page)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                answer = session.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
            except Exception:  # between documents: no context to evaluate in yet
                answer = {}
            value = answer.get("result", {}).get("value")
            if value is not None:
                return float(value)
            time.sleep(0.01)
    finally:
        session.detach()
    raise TimeoutError(f"{expression} gave nothing in {timeout_s:.0f} s")


def _ref(assignment) -> str:
    """What the reader page calls an assignment: its reference (annotations.selectors.reading.refs)."""
    from annotations.selectors.reading.refs import assignment_ref

    return assignment_ref(assignment.pk)


def drawn_expression(assignment_id: str) -> str:
    return (
        f"(function () {{ var gd = document.getElementById('ecg');"
        f" return gd && gd.dataset.drawn === '{assignment_id}' ? Number(gd.dataset.drawnAt) : null; }})()"
    )


def settle(page) -> None:
    """The page left until it has had no request open for half a second.

    The warm load is measured twice: at once after the previous load has drawn (as the issue's figures
    always were), and again after this, "quiet". Back to back, each load overlaps what the browser and
    the server still do for the previous one (its later requests, the caches it writes); the floors have
    less of that than the reader page, so the quiet figure is the stricter comparison."""
    page.wait_for_load_state("networkidle")


def reader_load(page, url: str, assignment_id: str) -> float:
    page.goto(url, wait_until="commit")
    return page_value(page, drawn_expression(assignment_id))


def magnified_load(page, url: str, assignment_id: str) -> float:
    """A warm load at 50 mm/s, the reader's preference chosen on the page first (and the standard 25 mm/s
    chosen back after): the sheet runs past the pane and the off-screen cue shows."""
    choose_speed(page, "50")
    settle(page)
    drawn = reader_load(page, url, assignment_id)
    page.wait_for_selector("#sheet-more-right:not([hidden])", timeout=30000)
    choose_speed(page, "25")
    return drawn


def choose_speed(page, speed: str) -> None:
    """The speed chosen on the toolbar, once the server has kept it (the next load draws at it)."""

    def saved(response) -> bool:
        return "/reading/preferences/" in response.url and response.request.method == "PUT"

    with page.expect_response(saved, timeout=30000):
        page.select_option("#speed", speed)


def floor_load(page, url: str) -> float:
    page.goto(url, wait_until="commit")
    return page_value(page, "window.drawnAt === undefined ? null : window.drawnAt")


def prefetched(page, finished: list[str], assignment_id: str, timeout_s: float = 30.0) -> None:
    """Until the reader page has fetched the waveform and the context of `assignment_id` ahead of time."""
    wanted = (f"/assignments/{assignment_id}/waveform/", f"/assignments/{assignment_id}/?prefetch=1")
    deadline = time.monotonic() + timeout_s
    while not all(any(part in url for url in finished) for part in wanted):
        if time.monotonic() > deadline:
            raise RuntimeError(f"assignment {assignment_id} was not prefetched within {timeout_s:.0f} s")
        page.wait_for_timeout(20)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 15 by default: on a 2-core VM one warm page ranged 150-340 ms within a run, and medians of 7 moved
    # by 0.1x from one run to the next.
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--plain", action="store_true", help="hidden suggestions, no median panel, no serial comparison"
    )
    parser.add_argument("--server", choices=sorted(SERVERS), default="gunicorn", help="how the app is served")
    args = parser.parse_args()
    runs = max(7, args.runs)
    assignments = prepare(n_exams=runs + 3, full=not args.plain)  # every switch submits one read
    first = assignments[0]
    port = free_port()
    app = start_app(port, args.server)
    base = f"http://127.0.0.1:{port}"
    floors, floor_server, floor_dir = serve_floors(first.exam)
    from playwright.sync_api import sync_playwright

    from annotations.services.exams.waveforms import waveform_load

    samples = waveform_load(first.exam.waveform_key).astype("<i2").tobytes()
    floor_bytes = len(gzip.compress(samples))
    figures: dict[str, list[float]] = {
        k: []
        for k in (
            "wire",
            "cold",
            "warm",
            "quiet",
            "plotly_cold",
            "plotly_warm",
            "plotly_quiet",
            "canvas_cold",
            "canvas_warm",
            "canvas_quiet",
            "switch",
            "earlier",
            "magnified",
            "overlay",
        )
    }
    timeline: list[dict] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            reader_url = f"{base}/read/{_ref(first)}/"
            for run in range(runs + 1):  # the first run warms the server and the OS caches: not counted
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                log_in(page, base)
                sizes: list[int] = []
                page.on(
                    "requestfinished",
                    lambda r, sizes=sizes: (
                        sizes.append(r.sizes()["responseBodySize"]) if "/waveform/" in r.url else None
                    ),
                )
                earlier_fetched: list[str] = []
                page.on(
                    "request",
                    lambda r, seen=earlier_fetched: seen.append(r.url) if "/priors/" in r.url else None,
                )
                cold = reader_load(page, reader_url, _ref(first))
                warm = reader_load(page, reader_url, _ref(first))
                timeline.append(page.evaluate(TIMELINE_JS))
                settle(page)
                quiet = reader_load(page, reader_url, _ref(first))
                if not args.plain:
                    assert page.locator("#median-panel polyline").count() == 12, "no median beat panel"
                    assert page.locator("#priors-control").is_visible(), "no earlier ECG offered"
                    page.wait_for_load_state("networkidle")
                    offered = list(earlier_fetched)  # the earlier ECG is not fetched before it is opened
                    started = page.evaluate("() => performance.now()")
                    page.select_option("#priors-view", "stacked")
                    page.wait_for_selector("#ecg-prior[data-drawn]", timeout=30000)
                    if run > 0:
                        figures["earlier"].append(page.evaluate("() => performance.now()") - started)
                    assert not offered, f"fetched before the earlier ECG was opened: {offered}"
                    started = page.evaluate("() => performance.now()")
                    page.select_option("#priors-view", "overlay")
                    # The page's CSP allows no evaluated strings: a selector, not wait_for_function.
                    page.wait_for_selector("#serial-overlay polyline", timeout=30000)
                    if run > 0:
                        figures["overlay"].append(page.evaluate("() => performance.now()") - started)
                    beats = page.locator("#serial-overlay polyline").count()
                    assert beats == 24, f"{beats} beats overlaid"
                    page.select_option("#priors-view", "none")
                magnified = magnified_load(page, reader_url, _ref(first))
                context.close()
                floor_context = browser.new_context(viewport=VIEWPORT)
                floor_page = floor_context.new_page()
                plotly_cold = floor_load(floor_page, f"{floors}/plotly.html")
                plotly_warm = floor_load(floor_page, f"{floors}/plotly.html")
                settle(floor_page)
                plotly_quiet = floor_load(floor_page, f"{floors}/plotly.html")
                canvas_cold = floor_load(floor_page, f"{floors}/canvas.html")
                canvas_warm = floor_load(floor_page, f"{floors}/canvas.html")
                settle(floor_page)
                canvas_quiet = floor_load(floor_page, f"{floors}/canvas.html")
                floor_context.close()
                if run == 0:
                    continue
                figures["wire"].append(sizes[0])
                for key, value in (
                    ("cold", cold),
                    ("warm", warm),
                    ("quiet", quiet),
                    ("plotly_cold", plotly_cold),
                    ("plotly_warm", plotly_warm),
                    ("plotly_quiet", plotly_quiet),
                    ("canvas_cold", canvas_cold),
                    ("canvas_warm", canvas_warm),
                    ("canvas_quiet", canvas_quiet),
                    ("magnified", magnified),
                ):
                    figures[key].append(value)
            # (c) submit-and-next through the queue: each switch opens the (prefetched) next exam.
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            log_in(page, base)
            finished: list[str] = []
            page.on("requestfinished", lambda r, done=finished: done.append(r.url))
            reader_load(page, f"{base}/read/{_ref(assignments[0])}/", _ref(assignments[0]))
            for index in range(runs + 1):  # the first switch is a warm-up, not counted
                following = assignments[index + 1]
                # A reader spends seconds on an exam, by which time the next one is prefetched: wait for
                # that (its waveform and context). The load state "networkidle" is no such wait: it is
                # reached once per document, and every switch stays in the same document.
                prefetched(page, finished, _ref(following))
                page.keyboard.press("n")
                started = page.evaluate("() => performance.now()")
                page.keyboard.press("Enter")
                drawn_at = page_value(page, drawn_expression(_ref(following)))
                if index > 0:
                    figures["switch"].append(drawn_at - started)
            context.close()
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=10)
        floor_server.shutdown()
        shutil.rmtree(floor_dir, ignore_errors=True)

    m = {key: median(values) for key, values in figures.items() if values}
    setup = (
        "hidden suggestions" if args.plain else "shown suggestion + median beat panel, serial comparison on"
    )
    print(
        f"reader page benchmark: median of {runs} runs, headless Chromium, one 12 x 5000 exam; {setup}; "
        f"served by {args.server}"
    )
    print(
        f"(a) waveform on the wire   {m['wire']:>9,.0f} B   floor gzip int16 {floor_bytes:>9,} B"
        f"   ratio {m['wire'] / floor_bytes:.2f}x (goal <= 1.10x)"
    )
    labels = {"cold": "empty cache", "warm": "warm cache", "quiet": "warm, quiet"}
    for cache, goal in (("cold", 1.5), ("warm", 1.0), ("quiet", 1.0)):
        label = labels[cache]
        print(
            f"(b) page -> 13 strips, {label:<11} {m[cache]:>6.0f} ms"
            f"   minimal Plotly page {m['plotly_' + cache]:>6.0f} ms"
            f"   ratio {m[cache] / m['plotly_' + cache]:.2f}x (goal <= {goal:.2f}x)"
            f"   [canvas page {m['canvas_' + cache]:.0f} ms: {m[cache] / m['canvas_' + cache]:.2f}x]"
        )
    print(
        f"(b) page -> 13 strips, warm, 50 mm/s {m['magnified']:>6.0f} ms   minimal Plotly page (warm)"
        f" {m['plotly_warm']:>6.0f} ms   ratio {m['magnified'] / m['plotly_warm']:.2f}x"
        "   (the sheet twice as wide, the off-screen cue on)"
    )
    half = m["warm"] / 2
    print(
        f"(c) submit-and-next -> drawn {m['switch']:>6.0f} ms   half the warm page load {half:>6.0f} ms"
        f"   ratio {m['switch'] / half:.2f}x (goal <= 1.00x)"
    )
    if figures["earlier"]:
        print(
            f"(d) 'Earlier ECGs: stacked' -> drawn {m['earlier']:>6.0f} ms (fetched on opening, not before)"
        )
    if figures["overlay"]:
        print(
            f"(e) 'Earlier ECGs: median beats overlaid' -> drawn {m['overlay']:>6.0f} ms (fetched on opening)"
        )
    steps = [k for k in timeline[0] if all(t[k] is not None for t in timeline[1:])] if timeline[1:] else []
    print(
        "    warm page, median ms from navigation: "
        + ", ".join(f"{k} {median([t[k] for t in timeline[1:]]):.0f}" for k in steps)
    )
    print("load average at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(
        "samples (ms): "
        + "; ".join(f"{k}={[round(v) for v in vals]}" for k, vals in figures.items() if k != "wire")
    )


if __name__ == "__main__":
    main()
