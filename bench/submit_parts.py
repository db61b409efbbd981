"""Benchmark: where a submit's time goes, in one process, next to the minimal authenticated write.

    .venv/bin/python bench/submit_parts.py [--submits 300] [--rounds 3] [--profile N]

bench/load_reads.py measures throughput under 50 clients; this one says what each part of a submit costs,
without gunicorn, sockets or other processes in the figures. It calls the product's WSGI application
(bench._bare_wsgi: the product plus the minimal write view) directly, with a reader's session cookie,
against DATABASE_URL (default: the local ecgreview_bench_parts database) and BENCH_REDIS_URL (default:
Redis database 8), as a deployment with a broker runs: the agreement recomputation is queued, not run.

Prints, per round (minimal writes then submits, alternated so drift cancels): CPU and wall time per
request of each and their ratio; then, over all submits, the CPU and wall time of each part (the function
named, timed around its call): the assignment locked, the body validated, the read written, its labels
and revision, the audit row, the assignment closed, the agreement's recomputation queued (after the commit),
the next exam found. --profile N adds N submits under cProfile. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

# (module, function, label): what is timed around each call.
PARTS = (
    ("annotations.api.reading", "_save_arguments", "body validated"),
    ("annotations.services.reading", "assignment_for_reader_locked", "assignment locked"),
    ("annotations.services.reading", "_check_submittable", "statements checked"),
    ("annotations.services.reading", "_snapshot_rows", "labels and revision"),
    ("annotations.services.reading", "audit_record", "audit row"),
    ("annotations.services.reading", "_assignment_closed", "assignment closed"),
    ("annotations.services.reading", "agreement_recompute_request", "agreement queued"),
    ("annotations.api.reading", "assignment_next_id_for_reader", "next exam found"),
    ("annotations.api.reading", "annotation_submit", "whole service"),
)


def setup() -> None:
    import _django

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ecgreview_bench_parts")
    os.environ.setdefault("SUGGESTION_PROVIDERS", "none")  # the exams are rows without waveforms
    _django._create_database(os.environ["DATABASE_URL"])
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
    os.environ.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        ALLOWED_HOSTS="localhost,127.0.0.1",
        VAR_DIR=os.environ.get("VAR_DIR", str(ROOT / "var" / "bench")),
        DJANGO_SETTINGS_MODULE="ecgreview.settings",
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


class Caller:
    """The WSGI application called directly, as one logged-in reader."""

    def __init__(self, cookie: str, csrf: str):
        from bench._bare_wsgi import BareHandler

        self.application = BareHandler()
        self.headers = {"HTTP_COOKIE": cookie, "HTTP_X_CSRFTOKEN": csrf}

    def __call__(self, method: str, path: str, body: dict | None = None) -> tuple[str, dict]:
        payload = json.dumps(body).encode() if body is not None else b""
        address, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": address,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_ACCEPT": "application/json",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            **self.headers,
        }
        answered: list[str] = []
        content = b"".join(
            self.application(environ, lambda status, headers, exc=None: answered.append(status))
        )
        return answered[0], json.loads(content or b"{}")


def timed(run: Callable[[int], None], count: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per request of `count` requests."""
    cpu, wall = time.process_time(), time.perf_counter()
    run(count)
    return (time.process_time() - cpu) * 1e3 / count, (time.perf_counter() - wall) * 1e3 / count


def instrument(spent: dict[str, list[float]]) -> None:
    """Wrap each PARTS function where it is called from, adding its CPU and wall time to `spent`."""
    import importlib

    for module_name, name, label in PARTS:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def wrapper(*args, __original=original, __label=label, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__label][0] += time.process_time() - cpu
                spent[__label][1] += time.perf_counter() - wall

        setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then N more submits under cProfile, printing where their time went",
    )
    args = parser.parse_args()
    setup()
    import _load
    import load_reads
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {_load.MINIMAL_WRITE_TABLE} "
            "(user_id bigint PRIMARY KEY, body jsonb NOT NULL)"
        )
    warm_up = 30
    batch, readers = load_reads.prepare(2, args.submits * (args.rounds + 1) + warm_up + args.profile)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have it on a running server (load_reads.py)
    credentials = _load.reader_session(readers[0])
    call = Caller(credentials.cookie, credentials.csrf)
    state = {"next": call("GET", f"/api/v1/reading/next/?batch={batch.pk}")[1]["next_assignment_id"]}

    def submits(count: int) -> None:
        for _ in range(count):
            status, answer = call("POST", f"/api/v1/reading/assignments/{state['next']}/submit/", _load.READ)
            assert status.startswith("200"), (status, answer)
            state["next"] = answer["next_assignment_id"]

    def writes(count: int) -> None:
        for _ in range(count):
            status, answer = call("POST", _load.MINIMAL_WRITE_PATH, _load.READ)
            assert status.startswith("200"), (status, answer)

    submits(warm_up)
    writes(warm_up)
    print(
        f"one process, {args.submits} requests of each kind per round, PostgreSQL and Redis on this machine"
    )
    ratios = []
    for index in range(args.rounds):
        write_cpu, write_wall = timed(writes, args.submits)
        read_cpu, read_wall = timed(submits, args.submits)
        ratios.append(write_wall / read_wall)
        print(
            f"round {index + 1}: minimal write {write_cpu:5.2f} ms CPU {write_wall:5.2f} ms wall; "
            f"submit {read_cpu:5.2f} ms CPU {read_wall:5.2f} ms wall; "
            f"ratio {write_cpu / read_cpu:.3f}x CPU, {write_wall / read_wall:.3f}x wall"
        )
    print(f"median wall ratio (what one busy process would give): {sorted(ratios)[len(ratios) // 2]:.3f}x")
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    instrument(spent)
    cpu, _ = timed(submits, args.submits)
    print(f"a submit, parts timed around their calls ({args.submits} submits, {cpu:.2f} ms CPU each):")
    for _, _, label in PARTS:
        spent_cpu, spent_wall = spent[label]
        print(
            f"  {label:<20} {spent_cpu * 1e3 / args.submits:5.2f} ms CPU "
            f"{spent_wall * 1e3 / args.submits:5.2f} ms wall"
        )

    if args.profile:
        profiled(submits, args.profile)


def profiled(submits: Callable[[int], None], count: int) -> None:
    """Where `count` submits spend their time, by function, cumulative and own."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.runcall(submits, count)
    stats = pstats.Stats(profile).strip_dirs()
    print(f"\n{count} submits under cProfile, by cumulative time:")
    stats.sort_stats("cumulative").print_stats(45)
    print("by own time:")
    stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
