"""Benchmark: Label Studio side by side with ours, on the same exam, in the same browser, under the same load.

Optional and slow, so `make bench` leaves it out; `make bench-peer` runs it. It installs Label Studio
(pinned, `--version`; the newest release when the pin is not on the index, and it says which) into its own
virtualenv, var/peer/label-studio-venv, never into the project's, and only when that one lacks it.

Both products run on the same PostgreSQL server (ours: DATABASE_URL, default the local database
ecgreview_bench_peer; Label Studio: ecgreview_bench_peer_ls on the same server, through its DJANGO_DB and
POSTGRE_* variables), both served by gunicorn with the same worker count and class for the load, DEBUG off.
Ours renders its page under runserver as bench/reader_page.py does; Label Studio serves its page and
files from its own gunicorn (its pip package serves them from Django, uncompressed; its Docker image puts
nginx in front, which this bench does not).

1. The labeling page, headless Chromium, one exam of 12 x 5000 samples at 500 Hz (ours, synthetic, also
   imported into Label Studio as the CSV its TimeSeries tag reads): navigation until all 12 leads are
   drawn, empty and warm cache, and the bytes on the wire until the network is idle (and the signal's
   share), median of --runs runs after one unmeasured run. Ours twice: plain (12 leads and statements,
   what Label Studio's page shows) and, for information, equipped as readers get it by default
   (suggestion, median beat panel, an earlier exam).
2. The annotation API under --clients clients at once for --seconds: ours "submit and next" (one logged-in
   reader per client, bench/load_reads.py), Label Studio POST /api/tasks/<id>/annotations/ (one user and
   token per client, each on its own tasks of the same exam): submits/s, latency, errors, and whether
   every acknowledged submit is stored exactly once and nothing else is.

Prints every figure of both products and the ratio, the machine's load beside them; asserts nothing.
Stops everything it started.

    .venv/bin/python bench/peer_label_studio.py [--runs 5] [--clients 50] [--seconds 60] [--workers 4]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench-peer"))

import _load  # noqa: E402
import load_reads  # noqa: E402

from bench import _django, reader_page  # noqa: E402

PEER_DIR = ROOT / "var" / "peer"
LS_VENV = PEER_DIR / "label-studio-venv"
LS_PIN = "1.23.2"
LS_DATABASE = "ecgreview_bench_peer_ls"
LS_ADMIN = "peer-admin@bench.local"
LS_PASSWORD = "peer-admin-password-42"
LS_ADMIN_TOKEN = "peer-admin-token-0123456789abcdef"
LS_READER = "peer-reader-{:03d}@bench.local"
STATEMENTS = ["Normal ECG", "Sinus rhythm", "Sinus bradycardia", "Sinus tachycardia", "Atrial fibrillation"]
STATEMENTS += ["1st degree AV block", "Right bundle branch block", "Left bundle branch block"]
LS_ANNOTATION = {
    "result": [
        {"from_name": "statements", "to_name": "ecg", "type": "choices", "value": {"choices": ["Normal ECG"]}}
    ],
    "lead_time": 1.0,
}
# The page has drawn when each of the 12 channels holds a line path with the samples in it (d of
# thousands of characters; the axes' paths are short). Polled every frame from before the first byte.
LS_DRAWN_PROBE = """
(function poll() {
  const channels = document.querySelectorAll('.htx-timeseries-channel');
  const drawn = channels.length >= 12 && [...channels].every(c =>
    [...c.querySelectorAll('path')].some(p => (p.getAttribute('d') || '').length > 1000));
  if (drawn) { window.peerDrawnAt = performance.now(); return; }
  requestAnimationFrame(poll);
})();
"""


def load_average() -> str:
    return "load average " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


# --- Label Studio: install, set up, serve --------------------------------------------------------------


@dataclass(frozen=True)
class LabelStudio:
    python: Path
    version: str
    package: Path  # site-packages/label_studio: its Django modules import each other from there
    environ: dict[str, str]


def _installed(python: Path) -> tuple[str, Path] | None:
    probe = "import importlib.metadata as m, label_studio, gunicorn, os; "
    probe += "print(m.version('label-studio')); print(os.path.dirname(label_studio.__file__))"
    if not python.exists():
        return None
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    version, package = result.stdout.split()
    return version, Path(package)


def label_studio_install(pin: str) -> tuple[Path, str, Path]:
    """Label Studio and the gunicorn we serve with, in their own virtualenv; pip runs only when missing."""
    python = LS_VENV / "bin" / "python"
    found = _installed(python)
    if found is None:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LS_VENV)], check=True)
        gunicorn = f"gunicorn=={metadata.version('gunicorn')}"  # the same server version as ours
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        print(f"installing label-studio=={pin} into {LS_VENV} (a few minutes) ...", flush=True)
        result = subprocess.run([*pip, f"label-studio=={pin}", gunicorn], capture_output=True, text=True)
        if result.returncode != 0 and "No matching distribution" in result.stderr:
            print(f"label-studio=={pin} is not on the index; installing the newest release", flush=True)
            result = subprocess.run([*pip, "label-studio", gunicorn], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"Label Studio did not install into {LS_VENV}:\n{result.stderr[-3000:]}")
        found = _installed(python)
        if found is None:
            raise SystemExit(f"pip reported success but label_studio does not import from {python}")
    return python, *found


def label_studio_environ(package: Path, data_dir: Path, database_url: str) -> dict[str, str]:
    """A clean environment (none of our settings leak in): PostgreSQL, DEBUG off, nothing phoned home."""
    db = urlparse(database_url)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(package),
        "DJANGO_SETTINGS_MODULE": "label_studio.core.settings.label_studio",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "DJANGO_DB": "default",
        "POSTGRE_NAME": LS_DATABASE,
        "POSTGRE_USER": db.username or "postgres",
        "POSTGRE_PASSWORD": db.password or "",
        "POSTGRE_HOST": db.hostname or "127.0.0.1",
        "POSTGRE_PORT": str(db.port or 5432),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # "Token <key>" auth, one lookup, like our sessions
    }


def _ls_run(ls: LabelStudio, command: list[str], what: str, timeout: float = 900) -> str:
    result = subprocess.run(command, env=ls.environ, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"Label Studio failed to {what}:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


# Users are made in Label Studio's own Django shell: its API creates users but hands a token only to the
# user itself, who has no password to log in with.
READERS_SNIPPET = """
import json
from organizations.models import Organization
from users.models import User
org = Organization.objects.first()
tokens = []
for i in range({clients}):
    email = {pattern!r}.format(i)
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, password=None)
    org.add_user(user)
    if user.active_organization_id != org.id:
        user.active_organization = org
        user.save(update_fields=["active_organization"])
    tokens.append(user.auth_token.key)
print("TOKENS " + json.dumps(tokens))
"""


def label_studio_prepare(ls: LabelStudio, clients: int) -> list[str]:
    """Migrations, the admin with a known token (its `init` command), and one user and token per client."""
    _django._create_database(urlparse(os.environ["DATABASE_URL"])._replace(path=f"/{LS_DATABASE}").geturl())
    init = [str(ls.python.parent / "label-studio"), "init", "--quiet", "--enable-legacy-api-token"]
    init += ["--username", LS_ADMIN, "--password", LS_PASSWORD, "--user-token", LS_ADMIN_TOKEN]
    _ls_run(ls, init, "initialise (migrate, create its admin)")
    snippet = READERS_SNIPPET.format(clients=clients, pattern=LS_READER)
    out = _ls_run(ls, [str(ls.python), str(ls.package / "manage.py"), "shell", "-c", snippet], "create users")
    return json.loads(next(line for line in out.splitlines() if line.startswith("TOKENS "))[7:])


@contextmanager
def label_studio_server(ls: LabelStudio, workers: int) -> Iterator[int]:
    """Label Studio under gunicorn on 127.0.0.1, flags as ours in bench/_load.py; always stopped."""
    port = _load.free_port()
    command = [str(ls.python), "-m", "gunicorn", "label_studio.core.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync"]
    command += ["--timeout", "60", "--graceful-timeout", "10", "--backlog", "512", "--log-level", "warning"]
    log_path = PEER_DIR / "label-studio-gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=ls.environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise SystemExit(f"Label Studio's gunicorn did not come up (exit {process.poll()}):\n{tail}")
            try:
                if _load.HttpClient(port, timeout=5).request("GET", "/user/login/")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- Label Studio: the project and the exam ----------------------------------------------------------


def _ls_client(port: int, token: str, timeout: float = 60.0) -> _load.HttpClient:
    client = _load.HttpClient(port, timeout=timeout)
    client.headers["Authorization"] = f"Token {token}"
    return client


def _ls_call(client: _load.HttpClient, method: str, path: str, body: dict | list | None = None):
    status, answer, _ = client.json(method, path, body)  # type: ignore[arg-type]
    if status not in (200, 201):
        raise SystemExit(f"Label Studio answered {status} to {method} {path}: {str(answer)[:1000]}")
    return answer


def labeling_config(leads: list[str]) -> str:
    """12 channels of one TimeSeries read from a CSV by URL, and a handful of statements to choose."""
    channels = "".join(f'<Channel column="{lead}" units="mV" legend="{lead}"/>' for lead in leads)
    choices = "".join(f'<Choice value="{statement}"/>' for statement in STATEMENTS)
    return (
        '<View><TimeSeries name="ecg" value="$csv" valueType="url" sep="," timeColumn="time">'
        f'{channels}</TimeSeries><Choices name="statements" toName="ecg" choice="multiple">{choices}'
        "</Choices></View>"
    )


def exam_csv(exam) -> tuple[bytes, list[str]]:
    """Our exam's samples in mV (int16 x gain, every digit kept), one column per lead plus time in s."""
    import numpy as np

    from annotations.services.exams.waveforms import waveform_load

    leads = list(exam.lead_names)[:12]
    millivolts = waveform_load(exam.waveform_key)[:12].astype(np.float64) * exam.gain_uv / 1000.0
    seconds = np.arange(millivolts.shape[1]) / exam.sampling_rate
    rows = np.column_stack([seconds, millivolts.T])
    lines = [",".join(["time", *leads])]
    lines += [",".join(f"{value:.10g}" for value in row) for row in rows]
    return ("\n".join(lines) + "\n").encode(), leads


def label_studio_exam(port: int, csv: bytes, leads: list[str]) -> tuple[int, int, str]:
    """A project with one task reading the exam's CSV, uploaded as the UI does: (project, task, CSV URL)."""
    client = _ls_client(port, LS_ADMIN_TOKEN)
    title = f"peer bench {time.strftime('%Y%m%d-%H%M%S')}"
    project = _ls_call(
        client, "POST", "/api/projects/", {"title": title, "label_config": labeling_config(leads)}
    )
    boundary = "peer-bench-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="exam.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{boundary}--\r\n".encode()
    )
    client.connection.request(
        "POST",
        f"/api/projects/{project['id']}/import?commit_to_project=false",
        body=body,
        headers={**client.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    response = client.connection.getresponse()
    upload = json.loads(response.read())
    if response.status != 201:
        raise SystemExit(f"Label Studio refused the exam's CSV: {response.status} {upload}")
    # The whole file is one time series, not a table of tasks (the UI's "Treat CSV as time series").
    reimport = {"file_upload_ids": upload["file_upload_ids"], "files_as_tasks_list": False}
    _ls_call(client, "POST", f"/api/projects/{project['id']}/reimport", reimport)
    task = _ls_call(client, "GET", f"/api/tasks/?project={project['id']}")["tasks"][0]
    return project["id"], task["id"], task["data"]["csv"]


def label_studio_load_tasks(port: int, project: int, csv_url: str, count: int) -> list[int]:
    """More tasks on the same uploaded CSV, so each client annotates tasks of its own, as our readers do."""
    client = _ls_client(port, LS_ADMIN_TOKEN, timeout=600)
    path = f"/api/projects/{project}/import?return_task_ids=true"
    answer = _ls_call(client, "POST", path, [{"csv": csv_url} for _ in range(count)])
    return list(answer["task_ids"])


# --- The page in Chromium -------------------------------------------------------------------------------


@dataclass
class PageFigures:
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    wire: list[int] = field(default_factory=list)
    signal: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    gzipped: int = 0  # the cold load's bodies gzip-compressed (level 6), once, for information


class WireMeter:
    """Bytes received per response (headers and body as sent, from the DevTools protocol)."""

    def __init__(self, context, page, signal_marker: str):
        self.page = page
        self.session = context.new_cdp_session(page)
        self.session.send("Network.enable")
        self.urls: dict[str, str] = {}
        self.in_flight: set[str] = set()
        self.last_event = time.monotonic()
        self.received: list[tuple[str, int]] = []
        self.signal_marker = signal_marker
        self.session.on("Network.requestWillBeSent", self._sent)
        self.session.on("Network.responseReceived", self._response)
        self.session.on("Network.loadingFinished", self._finished)
        self.session.on("Network.loadingFailed", self._failed)

    def _sent(self, event: dict) -> None:
        if event["request"]["url"].startswith("http"):
            self.in_flight.add(event["requestId"])
        self.last_event = time.monotonic()

    def _response(self, event: dict) -> None:
        self.urls[event["requestId"]] = event["response"]["url"]

    def _finished(self, event: dict) -> None:
        self.received.append((self.urls.get(event["requestId"], ""), int(event["encodedDataLength"])))
        self._failed(event)

    def _failed(self, event: dict) -> None:
        self.in_flight.discard(event["requestId"])
        self.last_event = time.monotonic()

    def wait_quiet(self, quiet_s: float = 2.0, limit_s: float = 30.0) -> None:
        """Until nothing is in flight and nothing started for `quiet_s`: a page's lazy chunks keep coming
        after it has drawn, and Playwright's networkidle may have fired in a gap before them."""
        deadline = time.monotonic() + limit_s
        while self.in_flight or time.monotonic() - self.last_event < quiet_s:
            if time.monotonic() > deadline:
                print(f"  (requests still in flight after {limit_s:.0f} s: bytes counted until then)")
                return
            self.page.wait_for_timeout(100)  # lets the protocol's events in

    def totals(self) -> tuple[int, int, int]:
        signal = sum(size for url, size in self.received if self.signal_marker in url)
        return sum(size for _, size in self.received), signal, len(self.received)


def _gzipped_bodies(responses: list) -> int:
    total = 0
    for response in responses:
        try:
            total += len(gzip.compress(response.body(), compresslevel=6))
        except Exception:  # redirects and aborted requests have no body
            pass
    return total


def measure_page(
    browser, runs: int, log_in, load, url: str, signal_marker: str, probe: str = ""
) -> PageFigures:
    """Per run: a fresh context, log in, the page twice (empty cache, then warm); the first run unmeasured."""
    figures = PageFigures()
    for run in range(runs + 1):
        context = browser.new_context(viewport=reader_page.VIEWPORT)
        if probe:
            context.add_init_script(probe)
        page = context.new_page()
        log_in(page)
        meter = WireMeter(context, page, signal_marker)
        responses: list = []
        page.on("response", lambda response, responses=responses: responses.append(response))
        cold = load(page, url)
        meter.wait_quiet()
        wire, signal, requests = meter.totals()
        if run == 1:
            figures.gzipped = _gzipped_bodies(responses)
        warm = load(page, url)
        context.close()
        if run == 0:
            continue
        figures.cold.append(cold)
        figures.warm.append(warm)
        figures.wire.append(wire)
        figures.signal.append(signal)
        figures.requests.append(requests)
    return figures


def ls_log_in(page, base: str) -> None:
    page.goto(f"{base}/user/login/")
    page.fill("input[name=email]", LS_ADMIN)
    page.fill("input[name=password]", LS_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/user/login" not in url, timeout=30000)


def ls_load(page, url: str) -> float:
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => window.peerDrawnAt !== undefined", timeout=60000)
    return float(page.evaluate("() => window.peerDrawnAt"))


# --- The annotation API under load ----------------------------------------------------------------------


def ls_annotate(client: _load.HttpClient, tasks: list[int], deadline: float, log: _load.ClientLog) -> None:
    """One annotator submitting on its own tasks, in turn, until the deadline; a broken connection counts."""
    index = 0
    while time.monotonic() < deadline:
        task = tasks[index % len(tasks)]
        index += 1
        try:
            status, answer, elapsed = client.json("POST", f"/api/tasks/{task}/annotations/", LS_ANNOTATION)
        except OSError as error:  # a timeout or a reset: the server may still have stored it
            log.statuses["connection error"] += 1
            log.errors.append(f"connection error on task {task}: {error!r}")
            continue
        log.latencies.append(elapsed)
        log.statuses[status] += 1
        if status == 201:
            log.acknowledged.append(int(answer["id"]))
        else:
            log.errors.append(f"{status} on task {task}: {str(answer)[:300]}")


def ls_load_run(port: int, tokens: list[str], tasks: list[int], seconds: float) -> _load.LoadResult:
    clients = len(tokens)
    deadline = time.monotonic() + seconds
    return _load.run_clients(
        [
            lambda log, i=i: ls_annotate(_ls_client(port, tokens[i]), tasks[i::clients], deadline, log)
            for i in range(clients)
        ]
    )


def ls_warm_up(port: int, tokens: list[str], seconds: float) -> None:
    """Every worker up and connected before the clock starts, as ours gets from its bare phase."""
    deadline = time.monotonic() + seconds

    def hit(log: _load.ClientLog, token: str) -> None:
        client = _ls_client(port, token)
        while time.monotonic() < deadline:
            log.statuses[client.request("GET", "/api/current-user/whoami")[0]] += 1

    _load.run_clients([lambda log, t=t: hit(log, t) for t in tokens])


def ls_stored_check(project: int, acknowledged: list[int]) -> str:
    """Counted in Label Studio's database after the run: every acknowledged annotation once, nothing else."""
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])._replace(path=f"/{LS_DATABASE}").geturl()
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT a.id FROM task_completion a JOIN htx_user u ON u.id = a.completed_by_id "
            "WHERE a.project_id = %s AND u.email LIKE 'peer-reader-%%'",
            (project,),
        ).fetchall()
    stored = Counter(row[0] for row in rows)
    good = set(stored) == set(acknowledged) and len(acknowledged) == len(set(acknowledged))
    return f"{'yes' if good else 'NO'} ({len(acknowledged)} acknowledged, {len(stored)} stored)"


# --- Ours -------------------------------------------------------------------------------------------------


def ours_page(browser, runs: int, assignment) -> PageFigures:
    port = _load.free_port()
    app = reader_page.start_app(port)
    base = f"http://127.0.0.1:{port}"
    try:
        return measure_page(
            browser,
            runs,
            lambda page: reader_page.log_in(page, base),
            lambda page, url: reader_page.reader_load(page, url, reader_page._ref(assignment)),
            f"{base}/read/{reader_page._ref(assignment)}/",
            "/waveform/",
        )
    finally:
        app.terminate()
        app.wait(timeout=10)


def ours_load(clients: int, seconds: float, workers: int, max_reads: int) -> tuple[_load.LoadResult, str]:
    from django.conf import settings
    from django.db import connection

    batch, readers = load_reads.prepare(clients, max_reads)
    credentials = [_load.reader_session(reader) for reader in readers]
    connection.close()  # the benchmark process holds no connection while it measures
    with _load.gunicorn(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
        var_dir=os.environ["VAR_DIR"],
        secret_key=settings.SECRET_KEY,
        workers=workers,
    ) as server:
        deadline = time.monotonic() + load_reads.WARM_UP_S
        _load.run_clients(
            [lambda log: _load.hit_bare(_load.HttpClient(server.port), deadline, 10**7, log)] * clients
        )
        reads = load_reads.submit_load(server.port, credentials, batch.pk, seconds, max_reads)
    return reads, load_reads.stored_check(batch, reads.acknowledged)


# --- Putting it together ----------------------------------------------------------------------------------


def row(name: str, ours: float, theirs: float, unit: str, digits: int = 0) -> str:
    ratio = f"{theirs / ours:8.2f}x" if ours else "       -"
    return f"{name:<38} {ours:>12,.{digits}f} {theirs:>14,.{digits}f}  {unit:<8} {ratio}"


def report(ours: dict, theirs: dict, args, ls_version: str) -> None:
    theirs = theirs | {f"{key}_full": theirs[key] for key in ("cold", "warm", "wire")}
    print()
    print(f"{'figure':<38} {'ours':>12} {'Label Studio':>14}  {'unit':<8} LS / ours")
    for key, name, unit, digits in (
        ("cold", "labeling page drawn, empty cache", "ms", 0),
        ("warm", "labeling page drawn, warm cache", "ms", 0),
        ("wire", "bytes on the wire, empty cache", "kB", 0),
        ("gzipped", "  the same bodies gzipped (info)", "kB", 0),
        ("signal", "  of which the signal", "kB", 1),
        ("requests", "  requests", "", 0),
        ("cold_full", "ours equipped (info): empty cache", "ms", 0),
        ("warm_full", "  warm cache", "ms", 0),
        ("wire_full", "  bytes on the wire, empty cache", "kB", 0),
        ("rate", f"submits/s, {args.clients} clients, {args.seconds:.0f} s", "/s", 1),
        ("p50", "  submit latency p50", "ms", 0),
        ("p95", "  submit latency p95", "ms", 0),
        ("errors", "  errors (non-2xx, broken connections)", "", 0),
    ):
        print(row(name, ours[key], theirs[key], unit, digits))
    print(f"{'every acknowledged submit stored once':<38} ours: {ours['stored']}")
    print(f"{'':<38} Label Studio: {theirs['stored']}")
    print(
        f"ours: PostgreSQL, page under runserver, load under gunicorn {args.workers} x sync; Label Studio "
        f"{ls_version}: PostgreSQL (same server), page and load under gunicorn {args.workers} x sync"
    )


def page_summary(figures: PageFigures) -> dict:
    return {
        "cold": statistics.median(figures.cold),
        "warm": statistics.median(figures.warm),
        "wire": statistics.median(figures.wire) / 1000,
        "gzipped": figures.gzipped / 1000,
        "signal": statistics.median(figures.signal) / 1000,
        "requests": statistics.median(figures.requests),
    }


def load_summary(result: _load.LoadResult, stored: str) -> dict:
    errors = sum(count for status, count in result.statuses.items() if status not in (200, 201))
    return {
        "rate": len(result.acknowledged) / result.seconds,  # ours answers 200, Label Studio 201
        "p50": result.percentile_ms(0.5),
        "p95": result.percentile_ms(0.95),
        "errors": errors,
        "stored": f"{stored}; statuses {dict(result.statuses)}",
    }


def label_studio_side(
    ls: LabelStudio, browser, args, tokens: list[str], csv: bytes, leads: list[str]
) -> dict:
    with label_studio_server(ls, args.workers) as port:
        project, task, csv_url = label_studio_exam(port, csv, leads)
        base = f"http://127.0.0.1:{port}"
        figures = measure_page(
            browser,
            args.runs,
            lambda page: ls_log_in(page, base),
            ls_load,
            f"{base}/projects/{project}/data?task={task}",
            "/data/upload/",
            LS_DRAWN_PROBE,
        )
        print(f"Label Studio page measured; {load_average()}", flush=True)
        tasks = label_studio_load_tasks(port, project, csv_url, args.clients * args.tasks_each)
        ls_warm_up(port, tokens, load_reads.WARM_UP_S)
        result = ls_load_run(port, tokens, tasks, args.seconds)
        print(f"Label Studio load measured; {load_average()}", flush=True)
        stored = ls_stored_check(project, result.acknowledged)
        for error in result.errors[:5]:
            print(f"  Label Studio refused: {error}")
    return page_summary(figures) | load_summary(result, stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads per product, after one unmeasured")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers, both products")
    parser.add_argument("--max-reads", type=int, default=600, help="ours: reads each client may submit")
    parser.add_argument("--tasks-each", type=int, default=40, help="Label Studio: tasks per client, in turn")
    parser.add_argument("--ls-version", default=LS_PIN)
    args = parser.parse_args()
    print("start: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    python, version, package = label_studio_install(args.ls_version)
    print(f"Label Studio {version} in {LS_VENV}", flush=True)
    os.environ.setdefault("SUGGESTION_PROVIDERS", "none")  # load_reads' exams are rows without waveforms
    _django.setup("ecgreview_bench_peer")
    PEER_DIR.mkdir(parents=True, exist_ok=True)
    environ = label_studio_environ(package, PEER_DIR / "label-studio-data", os.environ["DATABASE_URL"])
    ls = LabelStudio(python=python, version=version, package=package, environ=environ)
    tokens = label_studio_prepare(ls, args.clients)
    # One exam each (nothing else to prefetch), the same samples (seed 0): the plain page shows what Label
    # Studio's does, 12 leads and statements; the equipped one adds the suggestion, median beat panel and
    # an earlier exam, as readers get by default.
    assignment = reader_page.prepare(n_exams=1, full=False)[0]
    equipped = reader_page.prepare(n_exams=1, full=True)[0]
    csv, leads = exam_csv(assignment.exam)
    print(f"the exam: 12 x {assignment.exam.n_samples} samples, as Label Studio's CSV {len(csv):,} B")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=reader_page.CHROMIUM, args=reader_page.CHROMIUM_ARGS, headless=True
        )
        try:
            ours = page_summary(ours_page(browser, args.runs, assignment))
            full = page_summary(ours_page(browser, args.runs, equipped))
            ours |= {f"{key}_full": full[key] for key in ("cold", "warm", "wire")}
            print(f"our pages measured; {load_average()}", flush=True)
            theirs = label_studio_side(ls, browser, args, tokens, csv, leads)
        finally:
            browser.close()
    reads, stored = ours_load(args.clients, args.seconds, args.workers, args.max_reads)
    print(f"our load measured; {load_average()}", flush=True)
    ours |= load_summary(reads, stored)
    report(ours, theirs, args, version)
    print("end: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
