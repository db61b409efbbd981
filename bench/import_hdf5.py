"""Import speed of a CODE-15%-shaped HDF5 file on PostgreSQL, against the I/O floor of the same run.

    .venv/bin/python bench/import_hdf5.py [--sizes 2000 8000] [--keep]

For each size it builds an HDF5 file shaped like CODE-15% (`tracings` (N, 4096, 12) float32 at 400 Hz,
zero-padded around 4000 real samples; `exam_id`), then runs two child processes, each on its own so
their peak memories (ru_maxrss) are independent:

* floor: read the file with h5py in the same chunks the importer uses, convert to int16, and write each
  exam's samples to its own file. This is the I/O no importer can avoid.
* import: `exams_import` into a fresh dataset and a fresh waveform folder (content addressing would
  otherwise find every blob already stored), on PostgreSQL.

It prints rates, the import/floor ratio, CPU seconds and peak memory; it never asserts anything about
timings. On a shared machine the rates swing with the load and with other processes' disk writes: the
dirty pages are synced before each child so that neither pays for the other's, the load average is
printed, and the CPU columns (user + system, every thread) show the work done whatever the waiting.
DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/ecgreview_bench, created and migrated if
missing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/ecgreview_bench"
SAMPLES, LEADS, TRUE_LENGTH = 4096, 12, 4000


def _environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE)
    env.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    env.setdefault("ALLOWED_HOSTS", "localhost")
    # A full CODE-15% part (~20,000 exams, 3.7 GB) is over the default upload limit of 2 GB.
    env.setdefault("IMPORT_MAX_FILE_MB", "8192")
    env["VAR_DIR"] = str(work / "var")
    env["DJANGO_SETTINGS_MODULE"] = "ecgreview.settings"
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    return env


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist yet (connecting to 'postgres' to do so)."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def build_file(path: Path, n: int) -> None:
    """N distinct exams: 64 synthetic ECGs, each exam a shifted and slightly rescaled copy of one."""
    import h5py
    import numpy as np

    from annotations.lib.ecg.synthetic import synthetic_ecg

    bases = np.stack(
        [
            synthetic_ecg(
                heart_rate_bpm=50 + i, sampling_rate=400, duration_s=TRUE_LENGTH / 400, noise_uv=20, seed=i
            )[0].T
            for i in range(64)
        ]
    ).astype(np.float32)
    start = (SAMPLES - TRUE_LENGTH) // 2
    with h5py.File(path, "w") as handle:
        tracings = handle.create_dataset("tracings", shape=(n, SAMPLES, LEADS), dtype="f4")
        handle.create_dataset("exam_id", data=np.arange(1, n + 1, dtype=np.int64) * 7 + 100_000)
        block = 256
        for first in range(0, n, block):
            count = min(block, n - first)
            chunk = np.zeros((count, SAMPLES, LEADS), dtype=np.float32)
            for offset in range(count):
                index = first + offset
                chunk[offset, start : start + TRUE_LENGTH] = np.roll(
                    bases[index % 64], index % 397, axis=0
                ) * (1 + (index // 64) * 1e-3)
            tracings[first : first + count] = chunk


def _cpu_s() -> float:
    """CPU seconds of this process so far, user and system, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_floor(path: Path, out: Path) -> dict:
    import h5py
    import numpy as np

    from annotations.lib.formats.base import ReadOptions

    chunk_bytes = ReadOptions().chunk_bytes
    for shard in range(256):
        (out / f"{shard:02x}").mkdir(parents=True, exist_ok=True)
    started, cpu = time.perf_counter(), _cpu_s()
    with h5py.File(path, "r") as handle:
        tracings = handle["tracings"]
        per_chunk = max(1, chunk_bytes // (SAMPLES * LEADS * 4))
        n = tracings.shape[0]
        for first in range(0, n, per_chunk):
            block = np.asarray(tracings[first : first + per_chunk], dtype=np.float32)
            samples = np.rint(block * 1000).astype(np.int16).transpose(0, 2, 1)
            for offset in range(samples.shape[0]):
                index = first + offset
                with open(out / f"{index % 256:02x}" / f"{index}.bin", "wb") as target:
                    target.write(np.ascontiguousarray(samples[offset]).tobytes())
    return {"seconds": time.perf_counter() - started, "exams": n, "cpu_s": _cpu_s() - cpu}


def child_import(path: Path, dataset: str) -> dict:
    import django

    django.setup()
    from annotations.services.imports.exams import exams_import

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), _cpu_s()
    report = exams_import([path], dataset=dataset)
    seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
    if report.files_failed:
        raise SystemExit(report.files[0].error)
    return {"seconds": seconds, "exams": report.count("created"), "rss_before_kb": rss_before, "cpu_s": cpu}


def run_child(mode: str, path: Path, extra: str, env: dict[str, str]) -> dict:
    os.sync()  # the previous child's blobs are written out now, not during this one
    command = [sys.executable, __file__, "--child", mode, str(path), extra]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "EXTRA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path, extra = args.child
        figures = child_floor(Path(path), Path(extra)) if mode == "floor" else child_import(Path(path), extra)
        figures["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(figures), flush=True)
        # Without a broker, the import leaves the new exams' quality reports to the in-process background
        # thread, which drains at exit: minutes of work that is no part of the import (a worker does it
        # on a deployment). The child leaves without it; the benchmark database keeps no such promise.
        os._exit(0)

    work = Path(tempfile.mkdtemp(prefix="ecgreview-bench-"))
    env = _environment(work)
    ensure_database(env["DATABASE_URL"])
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True
    )
    print(f"CODE-15%-shaped HDF5 import on {env['DATABASE_URL'].split('@')[-1]} (work folder {work})")
    print(
        f"{'exams':>6} {'floor ex/s':>11} {'import ex/s':>12} {'ratio':>6} {'floor cpu s':>12} "
        f"{'import cpu s':>13} {'floor MiB':>10} {'import MiB':>11} {'import growth MiB':>18} {'load':>5}"
    )
    try:
        for n in args.sizes:
            path = work / f"code15_{n}.hdf5"
            build_file(path, n)
            floor = run_child("floor", path, str(work / f"floor_{n}"), env)
            shutil.rmtree(work / f"floor_{n}", ignore_errors=True)
            run_env = {**env, "WAVEFORM_STORAGE_URL": (work / f"waveforms_{n}").as_uri()}
            imported = run_child("import", path, f"bench-{n}-{os.getpid()}-{int(time.time())}", run_env)
            floor_rate = floor["exams"] / floor["seconds"]
            import_rate = imported["exams"] / imported["seconds"]
            print(
                f"{n:>6} {floor_rate:>11.0f} {import_rate:>12.0f} {import_rate / floor_rate:>6.2f} "
                f"{floor['cpu_s']:>12.1f} {imported['cpu_s']:>13.1f} "
                f"{floor['peak_rss_kb'] / 1024:>10.0f} {imported['peak_rss_kb'] / 1024:>11.0f} "
                f"{(imported['peak_rss_kb'] - imported['rss_before_kb']) / 1024:>18.0f} "
                f"{os.getloadavg()[0]:>5.1f}"
            )
            shutil.rmtree(work / f"waveforms_{n}", ignore_errors=True)
            if not args.keep:
                path.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        "ratio = import rate / floor rate (goal >= 0.6). Peak memory is each child's ru_maxrss; the "
        "growth column is what the import itself added after Django was set up."
    )


if __name__ == "__main__":
    main()
