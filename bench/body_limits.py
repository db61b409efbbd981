"""What the request-body caps save: a reader's huge draft saves, and the login page beside them.

    .venv/bin/python bench/body_limits.py [--saves 3] [--megabytes 4.3] [--rounds 3]

Starts gunicorn on 127.0.0.1 (4 sync workers, DEBUG off) against DATABASE_URL (default: the local
ecgreview_bench_body database) and BENCH_REDIS_URL (default: Redis database 8 on the local server),
twice: with REQUEST_MAX_BODY_KB=10240 (the old global 10 MB limit: the body is read and parsed, then
refused by the labels cap) and with the default cap (refused by its Content-Length, unread). In each,
`--saves` readers send a draft of `--megabytes` of labels at once, `--rounds` times, while one client
times the login page; it prints the saves' latency, the login page's latency idle and during the saves.

It also times, in this process, what the labels cap saves on top: validating that list entry by entry
with the API's serializer, which is what every such save cost before either cap.
Nothing is asserted: tests/cross/test_body_limits.py checks the answers (413, 400) themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import threading
import time

import _django
import _load

LABEL = {"code": "SB", "uncertain": False}


def prepare(readers: int):
    from django.contrib.auth import get_user_model

    from annotations.models import Taxonomy
    from annotations.roles import Role
    from annotations.services.taxonomy import DEFAULT_TAXONOMY_FILE, taxonomy_load, taxonomy_read_file
    from annotations.services.users import role_groups_ensure

    groups = role_groups_ensure()
    User = get_user_model()
    taxonomy = Taxonomy.objects.filter(is_default=True).first()
    if taxonomy is None:
        taxonomy = taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE), make_default=True).taxonomy
    coordinator, _ = User.objects.get_or_create(username="body-coordinator")
    coordinator.groups.add(groups[Role.COORDINATOR])
    people = []
    for i in range(readers):
        reader, _ = User.objects.get_or_create(username=f"body-reader-{i:02d}")
        reader.groups.add(groups[Role.READER])
        people.append(reader)
    batch = _load.reading_batch(
        name=f"body {time.strftime('%H%M%S')}",
        taxonomy=taxonomy,
        coordinator=coordinator,
        readers=people,
        reads_each=2,
        readers_per_exam=1,
    )
    from annotations.models import Assignment
    from annotations.selectors.reading.refs import assignment_ref

    # What a reader's URLs name each slot by (never its database id).
    slots = [
        assignment_ref(Assignment.objects.filter(batch=batch, reader=r).order_by("position").first().pk)
        for r in people
    ]
    return people, slots


def huge_draft(megabytes: float) -> dict:
    count = int(megabytes * 1e6 / len(json.dumps(LABEL)))
    return {"labels": [LABEL] * count, "comment": "", "revision": 0}


def raw_put(port: int, credentials, path: str, payload: bytes) -> tuple[int, float]:
    """A PUT on its own socket that still reads the answer when the server refuses the body before it
    has all been sent (a 413 by Content-Length: the server answers and closes while the client sends)."""
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {credentials.cookie}\r\n"
        f"X-CSRFToken: {credentials.csrf}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        try:
            sock.sendall(head + payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: the answer is already waiting
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    elapsed = time.perf_counter() - started
    try:
        return int(answer.split(b" ", 2)[1]), elapsed
    except (IndexError, ValueError):
        return 0, elapsed


def run(port: int, credentials, slots, body: dict, rounds: int) -> dict:
    payload = json.dumps(body).encode()
    login = _load.HttpClient(port)
    idle = [login.request("GET", "/accounts/login/")[2] for _ in range(20)]
    saves: list[float] = []
    statuses: list[int] = []
    during: list[float] = []
    for _ in range(rounds):
        done = threading.Event()

        def save(c, slot):
            status, elapsed = raw_put(port, c, f"/api/v1/reading/assignments/{slot}/draft/", payload)
            saves.append(elapsed)
            statuses.append(status)

        threads = [threading.Thread(target=save, args=pair) for pair in zip(credentials, slots, strict=True)]
        for thread in threads:
            thread.start()

        def watch(done=done):
            while not done.is_set():
                during.append(login.request("GET", "/accounts/login/")[2])
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        for thread in threads:
            thread.join()
        done.set()
        watcher.join()
    return {"idle": idle, "saves": saves, "statuses": statuses, "during": during}


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values) * 1000:8.1f} ms, max {max(values) * 1000:8.1f} ms"


def serializer_cost(body: dict) -> float:
    from annotations.api.reading import SaveSerializer

    started = time.perf_counter()
    SaveSerializer(data=body).is_valid()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=4.3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("SUGGESTION_PROVIDERS", "none")
    _django.setup("ecgreview_bench_body")
    from django.conf import settings
    from django.db import connection

    people, slots = prepare(args.saves)
    credentials = [_load.reader_session(reader) for reader in people]
    connection.close()
    body = huge_draft(args.megabytes)
    size = len(json.dumps(body))
    print(
        f"draft body: {size / 1e6:.1f} MB, {len(body['labels'])} labels; {args.saves} at once x {args.rounds}"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
    for label, cap_kb in (
        ("body cap 10 MB (old global limit)", "10240"),
        ("body cap 256 kB (default)", "256"),
    ):
        with _load.gunicorn(
            database_url=os.environ["DATABASE_URL"],
            redis_url=redis_url,
            var_dir=os.environ["VAR_DIR"],
            secret_key=settings.SECRET_KEY,
            workers=4,
            extra_env={"REQUEST_MAX_BODY_KB": cap_kb, "SUGGESTION_PROVIDERS": "none"},
        ) as server:
            result = run(server.port, credentials, slots, body, args.rounds)
        statuses = sorted(set(result["statuses"]))
        print(f"\n{label}: answers {statuses}")
        print(f"  huge draft save           {ms(result['saves'])}")
        print(f"  login page, idle          {ms(result['idle'])}")
        print(f"  login page, during saves  {ms(result['during'])}")
    cost = serializer_cost(body)
    labels = len(body["labels"])
    print(f"\nvalidating the {labels} labels entry by entry (no cap at all): {cost * 1000:.0f} ms per save")


if __name__ == "__main__":
    main()
