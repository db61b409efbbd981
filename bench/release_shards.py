"""Benchmark: a sharded release of 10,000 exams built by 1 and by 2 Celery worker processes.

Seeds its own PostgreSQL database (ecg_bench_release_shards) the way bench/scale.py does: a few real
recordings through the real importer, then N exam rows by COPY pointing at their blobs (so every exam is a
real 12-lead waveform to load, resample and pad), one batch with one submitted first read per exam
(inserted by SQL, as bench/export.py inserts its reads). Reused on later runs when seeded at that size.

Then, on a Redis of its own (redis-server on a free port, no persistence), for 1 and for 2 workers:
starts that many `celery worker --pool solo` processes (concurrency 1 each) on the default and releases
queues, queues the build of one release (RELEASE_SHARD_EXAMS per shard, --shard-exams) and waits until it
is done. Prints the wall time (and its parts: the labels pass, the shards, the assembly), the speed-up,
each worker's peak resident memory (VmHWM) and how many shards it wrote, and the load (uptime), since the
machine may be shared. The same release is built both times (reset in between), so it also checks that
every file comes out with the same SHA-256. Asserts nothing.

    .venv/bin/python bench/release_shards.py [--exams 10000] [--shard-exams 2500] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import redis

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "ecg_bench_release_shards"
SHARD_DONE = re.compile(r"Task annotations\.tasks\.releases_shard_build\[[^\]]+\] succeeded")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def own_redis():
    """A throwaway redis-server on a free port; yields its URL."""
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def seed_batch(n_exams: int) -> int:
    """The batch of n_exams read exams, seeding the database if it is not there yet."""
    from django.db import connection

    from annotations.models import ReviewBatch
    from bench import scale

    name = f"bench release shards {n_exams}"
    existing = ReviewBatch.objects.filter(name=name).first()
    if existing is not None:
        return existing.pk
    started = time.perf_counter()
    world = scale.seed_people_and_taxonomy()
    templates = scale.template_exams(world.coordinator)
    exam_ids = scale.seed_exams(n_exams, templates)
    batch = ReviewBatch.objects.create(
        name=name, taxonomy=world.taxonomy, created_by=world.coordinator, status="active", readers_per_exam=1
    )
    reader = world.readers[0]
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO annotations_batchexam (batch_id, exam_id, target_reads, is_gold,
                   needs_adjudication)
               SELECT %s, id, 1, false, false FROM annotations_exam WHERE id = ANY(%s)""",
            [batch.pk, exam_ids.tolist()],
        )
        cursor.execute(
            """INSERT INTO annotations_assignment (batch_id, exam_id, reader_id, read_round, position,
                   status, skip_reason, assigned_at, started_at, submitted_at)
               SELECT batch_id, exam_id, %s, 1, row_number() OVER (ORDER BY exam_id), 'submitted', '',
                      now(), now(), now()
               FROM annotations_batchexam WHERE batch_id = %s""",
            [reader.pk, batch.pk],
        )
        cursor.execute(
            """INSERT INTO annotations_annotation (assignment_id, stage, is_current, status, comment,
                   time_on_task_ms, revision, created_at, updated_at, submitted_at)
               SELECT id, 'blind', true, 'submitted', '', 30000, 1, now(), now(), now()
               FROM annotations_assignment WHERE batch_id = %s""",
            [batch.pk],
        )
        cursor.execute("ANALYZE")
    print(f"seeded {n_exams:,} exams and their reads in {time.perf_counter() - started:.0f} s")
    return batch.pk


@contextmanager
def workers(count: int, environ: dict, log_dir: Path):
    """`count` celery worker processes (solo pool: each runs one task at a time); yields them once all
    are consuming, then reads each one's peak resident memory before stopping it."""
    processes = []
    with ExitStack() as stack:
        for i in range(count):
            log = stack.enter_context(open(log_dir / f"worker-{i}.log", "w"))
            command = [sys.executable, "-m", "celery", "-A", "ecgreview", "worker", "--pool", "solo"]
            command += ["--queues", "default,releases", "--hostname", f"bench-{i}-{os.getpid()}@%h"]
            command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
            )
        deadline = time.monotonic() + 120
        while not all(" ready." in (log_dir / f"worker-{i}.log").read_text() for i in range(count)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker did not start: see " + str(log_dir))
            time.sleep(0.2)
        try:
            yield processes
        finally:
            for process in processes:
                process.peak_mb = peak_rss_mb(process.pid)
                process.cpu_s = cpu_seconds(process.pid)
                process.terminate()
            for process in processes:
                process.wait(timeout=60)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far: on a shared machine, what it got of the cores."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset(release_id: int) -> None:
    from django.conf import settings

    from annotations.models import Release

    Release.objects.filter(pk=release_id).update(
        status=Release.Status.QUEUED, files=[], progress_done=0, progress_total=0, finished_at=None
    )
    shutil.rmtree(Path(settings.RELEASE_STORAGE_DIR) / str(release_id), ignore_errors=True)


def build(release_id: int) -> dict:
    """Queue the build and follow it: seconds to the end of the labels pass, of the shards, of all."""
    from annotations.models import Release
    from annotations.services.jobs.dispatch import task_enqueue

    started = time.perf_counter()
    task_enqueue("annotations.tasks.releases_build", release_id)
    marks: dict[str, float] = {}
    while True:
        release = Release.objects.get(pk=release_id)
        shards = [f for f in release.files if f["name"].startswith("tracings-0")]
        now = time.perf_counter() - started
        if shards and "labels" not in marks:
            marks["labels"] = now
        if shards and all(f["sha256"] for f in shards) and "shards" not in marks:
            marks["shards"] = now
        if release.status in (Release.Status.DONE, Release.Status.FAILED):
            marks["total"] = now
            marks["status"] = release.status
            marks["error"] = release.error
            marks["files"] = {f["name"]: f["sha256"] for f in release.files}
            return marks
        time.sleep(0.1)


def run(count: int, release_id: int, environ: dict) -> dict:
    reset(release_id)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        with workers(count, environ, Path(folder)) as processes:
            marks = build(release_id)
        marks["workers"] = [
            (
                process.peak_mb,
                process.cpu_s,
                len(SHARD_DONE.findall((Path(folder) / f"worker-{i}.log").read_text())),
            )
            for i, process in enumerate(processes)
        ]
    return marks


def report(count: int, marks: dict) -> None:
    labels, shards, total = marks.get("labels", 0), marks.get("shards", 0), marks["total"]
    print(
        f"{count} worker{'s' if count > 1 else ' '}: {total:7.1f} s  (labels pass {labels:.1f} s, shards "
        f"{shards - labels:.1f} s, assembly {total - shards:.1f} s)  {marks['status']} {marks['error'][:80]}"
    )
    for i, (peak, cpu, taken) in enumerate(marks["workers"]):
        print(f"    worker {i}: peak RSS {peak:6.0f} MB, CPU {cpu:6.1f} s, {taken} shards")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=10_000)
    parser.add_argument("--shard-exams", type=int, default=2_500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database", default=DATABASE, help="one per --exams: the exam ids repeat")
    args = parser.parse_args()
    os.environ["VAR_DIR"] = os.environ.get("BENCH_VAR_DIR", str(ROOT / "var" / "bench_release_shards"))
    os.environ["RELEASE_SHARD_EXAMS"] = str(args.shard_exams)
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    with own_redis() as redis_url:
        os.environ["BENCH_REDIS_URL"] = redis_url
        from bench import scale

        scale.setup(args.database, fresh=False)
        batch_id = seed_batch(args.exams)
        from django.contrib.auth import get_user_model

        from annotations.models import ReviewBatch
        from annotations.services.releases.builds import release_create

        coordinator = get_user_model().objects.get(username="coordinator")
        release = release_create(actor=coordinator, batches=[ReviewBatch.objects.get(pk=batch_id)])
        # Neither what the seeding queued (quality reports) nor the build release_create just queued:
        # each run below queues its own build once its workers are up.
        redis.Redis.from_url(redis_url).flushdb()
        environ = {**os.environ, "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "ecgreview.settings"}
        print(
            f"release #{release.pk}: {args.exams:,} exams in shards of {args.shard_exams:,}, "
            f"{os.cpu_count()} CPUs; load before: {os.getloadavg()[0]:.2f}"
        )
        results = {}
        for count in args.workers:
            results[count] = run(count, release.pk, environ)
            report(count, results[count])
            uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            print(f"    load after: {uptime}")
        if 1 in results and len(results) > 1:
            for count, marks in results.items():
                if count != 1:
                    print(f"speed-up with {count} workers: {results[1]['total'] / marks['total']:.2f}x")
        same = len({tuple(sorted(m["files"].items())) for m in results.values()}) == 1
        print(f"every file byte-identical across the builds: {'yes' if same else 'NO'}")
        reset(release.pk)


if __name__ == "__main__":
    main()
