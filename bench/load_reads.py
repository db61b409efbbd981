"""Readers submitting through the API under load, next to a bare Django view on the same gunicorn.

    .venv/bin/python bench/load_reads.py [--clients 50] [--seconds 15] [--rounds 4] [--workers 4]
        [--worker-class sync] [--threads 1]

Starts gunicorn on 127.0.0.1 (bench._bare_wsgi: the product plus two reference views), DEBUG off,
against DATABASE_URL (default: the local ecgreview_bench_load database) and BENCH_REDIS_URL (default:
Redis database 8 on the local server). Phases of `--seconds` each, `--clients` clients at once:
1. the bare view (two bytes, no session, no database): what the stack answers with no work at all;
2. the minimal authenticated write (session, CSRF, one ORM upsert), with the readers' own sessions:
   what any write costs on this stack, whatever it writes; the issue's ratio is taken against it;
3. the readers (one logged-in session each) submitting reads, "submit and next".
Phases 2 and 3 alternate for `--rounds` rounds (write then reads, then reads then write, ...): on a shared
machine the throughput drifts by as much as a change is worth between minutes, and a ratio taken within
a round cancels the drift that both of its phases saw. Each phase stops by itself at its deadline or
count. It prints req/s and p50/p95 latency of each kind, the ratio of each round and their median, the CPU
each side spent per request in phases 2 and 3 (gunicorn's workers, PostgreSQL when it runs on this machine,
the clients; bench/_cpu.py), and whether every acknowledged read is stored exactly once; it asserts nothing
about timings (tests/imports/test_load_reads.py checks correctness under the same load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable

import _cpu
import _django
import _load

WARM_UP_S = 3.0


def prepare(clients: int, reads_each: int):
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
    coordinator, _ = User.objects.get_or_create(username="load-coordinator")
    coordinator.groups.add(groups[Role.COORDINATOR])
    readers = []
    for i in range(clients):
        reader, _ = User.objects.get_or_create(username=f"load-reader-{i:03d}")
        reader.groups.add(groups[Role.READER])
        readers.append(reader)
    batch = _load.reading_batch(
        name=f"load {time.strftime('%H%M%S')}",
        taxonomy=taxonomy,
        coordinator=coordinator,
        readers=readers,
        reads_each=reads_each,
    )
    return batch, readers


def stored_check(batch, acknowledged: list[str]) -> str:
    """Every acknowledged read stored once, with one revision; nothing stored that was not acknowledged.
    `acknowledged`: the references the server answered (annotations.selectors.reading.refs)."""
    from annotations.models import Annotation, AnnotationRevision, Assignment
    from annotations.selectors.reading.refs import assignment_pk

    acknowledged = [assignment_pk(ref) for ref in acknowledged]
    submitted = Annotation.objects.filter(assignment__batch=batch, status="submitted", is_current=True)
    per_slot = Counter(submitted.values_list("assignment_id", flat=True))
    closed = set(Assignment.objects.filter(batch=batch, status="submitted").values_list("pk", flat=True))
    revisions = AnnotationRevision.objects.filter(annotation__assignment__batch=batch).count()
    good = (
        set(per_slot) == set(acknowledged) == closed
        and len(acknowledged) == len(set(acknowledged))
        and set(per_slot.values()) <= {1}
        and revisions == len(acknowledged)
    )
    return (
        f"{'yes' if good else 'NO'} ({len(acknowledged)} acknowledged, {len(per_slot)} stored, "
        f"{len(closed)} slots closed, {revisions} revisions)"
    )


def submit_load(
    port: int, credentials: list, batch_id: int, seconds: float, max_reads: int
) -> _load.LoadResult:
    """Every reader submitting reads ("submit and next") at once, for `seconds` or `max_reads` each."""
    deadline = time.monotonic() + seconds
    return _load.run_clients(
        [
            lambda log, c=c: _load.submit_reads(_load.HttpClient(port, c), batch_id, deadline, max_reads, log)
            for c in credentials
        ]
    )


def alternated(
    rounds: int, write: Callable[[], _load.LoadResult], read: Callable[[], _load.LoadResult]
) -> list[tuple[_load.LoadResult, _load.LoadResult]]:
    """(write phase, reads phase) per round, their order swapped every other round."""
    pairs = []
    for index in range(rounds):
        if index % 2 == 0:
            first = write()
            pairs.append((first, read()))
        else:
            first = read()
            pairs.append((write(), first))
    return pairs


def metered(meter: _cpu.Meter, phase: Callable[[], _load.LoadResult]) -> _load.LoadResult:
    """The phase's result with the CPU each side spent while it ran."""
    before = meter.read()
    result = phase()
    return _load.LoadResult(seconds=result.seconds, logs=result.logs, cpu=meter.since(before))


def combined(results: list[_load.LoadResult]) -> _load.LoadResult:
    """Several phases of one kind as one: their time, their clients' logs and their CPU together."""
    return _load.LoadResult(
        seconds=sum(result.seconds for result in results),
        logs=[log for result in results for log in result.logs],
        cpu={group: sum(result.cpu.get(group, 0.0) for result in results) for group in _cpu.GROUPS},
    )


def cpu_line(label: str, result: _load.LoadResult) -> str:
    parts = (f"{group} {result.cpu_ms_per_request(group):5.2f}" for group in ("app", "database", "clients"))
    return f"CPU per request, {label}: " + ", ".join(parts) + " ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0, help="each phase")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of a write phase and a reads phase")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-reads", type=int, default=600, help="per client: the count bound")
    args = parser.parse_args()
    # The benchmark's exams are rows without waveforms: no suggestion to compute when the batch starts.
    os.environ.setdefault("SUGGESTION_PROVIDERS", "none")
    _django.setup("ecgreview_bench_load")
    from django.conf import settings
    from django.db import connection

    batch, readers = prepare(args.clients, args.max_reads)
    with connection.cursor() as cursor:  # the minimal write's own table (bench._bare_wsgi.MinimalWrite)
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {_load.MINIMAL_WRITE_TABLE} "
            "(user_id bigint PRIMARY KEY, body jsonb NOT NULL)"
        )
        # The planner then sees the new batch's rows as autovacuum would show them to it on a server that
        # runs it (the default); without statistics it walked a reader's whole queue to find the row to
        # lock, on every submit.
        cursor.execute("ANALYZE")
    credentials = [_load.reader_session(reader) for reader in readers]
    connection.close()  # the benchmark process holds no connection while it measures
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
    with _load.gunicorn(
        database_url=os.environ["DATABASE_URL"],
        redis_url=redis_url,
        var_dir=os.environ["VAR_DIR"],
        secret_key=settings.SECRET_KEY,
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
    ) as server:

        def bare(seconds: float) -> _load.LoadResult:
            deadline = time.monotonic() + seconds
            return _load.run_clients(
                [
                    lambda log: _load.hit_bare(_load.HttpClient(server.port), deadline, 10**7, log)
                    for _ in range(args.clients)
                ]
            )

        def minimal(seconds: float) -> _load.LoadResult:
            deadline = time.monotonic() + seconds
            return _load.run_clients(
                [
                    lambda log, c=c: _load.minimal_writes(
                        _load.HttpClient(server.port, c), deadline, 10**7, log
                    )
                    for c in credentials
                ]
            )

        meter = _cpu.Meter(app_pid=server.pid)
        bare(WARM_UP_S)  # every worker has imported everything and opened its connections
        floor = bare(args.seconds)
        minimal(WARM_UP_S)  # the sessions and the minimal write's statements are warm too
        rounds = alternated(
            max(1, args.rounds),
            lambda: metered(meter, lambda: minimal(args.seconds)),
            lambda: metered(
                meter, lambda: submit_load(server.port, credentials, batch.pk, args.seconds, args.max_reads)
            ),
        )
        write, reads = combined([w for w, _ in rounds]), combined([r for _, r in rounds])
        server_errors = server.log_tail(2000) if reads.statuses.keys() - {200} else ""
    setup = f"gunicorn {args.workers} x {args.worker_class}"
    setup += f" ({args.threads} threads)" if args.threads > 1 else ""
    print(
        f"{args.clients} clients, {args.seconds:.0f} s per phase, {len(rounds)} rounds of a write phase "
        f"and a reads phase, {setup}, 127.0.0.1"
    )
    print(
        f"bare Django view: {floor.per_second:8.1f} req/s   p50 {floor.percentile_ms(0.5):6.1f} ms   "
        f"p95 {floor.percentile_ms(0.95):6.1f} ms   statuses {dict(floor.statuses)}"
    )
    print(
        f"minimal write:    {write.per_second:8.1f} req/s   p50 {write.percentile_ms(0.5):6.1f} ms   "
        f"p95 {write.percentile_ms(0.95):6.1f} ms   statuses {dict(write.statuses)}"
    )
    print(
        f"reads submitted:  {reads.per_second:8.1f} reads/s p50 {reads.percentile_ms(0.5):6.1f} ms   "
        f"p95 {reads.percentile_ms(0.95):6.1f} ms   statuses {dict(reads.statuses)}"
    )
    print(f"ratio reads/s / bare req/s: {reads.per_second / floor.per_second:.3f}x")
    print(
        f"ratio minimal write / bare: {write.per_second / floor.per_second:.3f}x "
        "(what any authenticated write reaches on this stack)"
    )
    ratios = [r.per_second / w.per_second for w, r in rounds]
    print(
        "ratio reads/s / minimal write, round by round: "
        + ", ".join(f"{ratio:.3f}x" for ratio in ratios)
        + f"; median {statistics.median(ratios):.3f}x, all phases together "
        f"{reads.per_second / write.per_second:.3f}x (goal: at least 0.5x)"
    )
    print(cpu_line("minimal write", write))
    print(cpu_line("read submitted", reads))
    print(f"every acknowledged read stored exactly once: {stored_check(batch, reads.acknowledged)}")
    for error in reads.errors[:5]:
        print(f"  refused: {error}")
    if server_errors:
        print(f"gunicorn log tail:\n{server_errors}")


if __name__ == "__main__":
    main()
