"""Benchmark: exams per second of the rule and the model provider at 1, 2 and 4 worker processes.

Each worker process builds its provider once (as a Celery worker does: model load not counted), then all
workers start together and each runs every real record of tests/data (14 records, 100-1000 Hz, 10-43 s)
--rounds times, --batch exams per evaluate_many call. Throughput is all exams done over the wall time
from the common start to the last worker's end. BLAS and onnxruntime use one thread per process, so N
processes need N free cores to scale: the machine's core count and load are printed beside the figures.
"openecg-cuda" runs the model on a GPU (onnxruntime-gpu; the processes share the one GPU).

    .venv/bin/python bench/suggestions_scale.py [--processes 1,2,4] [--rounds 1] [--batch 16]
        [--providers measurements,openecg,openecg-cuda] [--model-path FILE.onnx]
        [--save-records FILE.npz | --records FILE.npz]

--save-records writes the records as read by the project's format readers, and --records reads them
back, for a machine that has numpy, scipy and onnxruntime but not the readers' libraries (a GPU host).

The speed-up column compares with 1.85 exams/s, the openecg provider's figure in one process before
batching (bench/measurements.py --rounds 1 --providers measurements,openecg), and 8.9 for the rule one.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402 (after the thread settings above)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

OPENECG = "annotations.lib.providers.openecg_codec.OpenEcgProvider"
PROVIDERS: dict[str, dict] = {
    "measurements": {"class": "annotations.lib.providers.measurements.MeasurementProvider"},
    "openecg": {"class": OPENECG},
    "openecg-cuda": {"class": OPENECG, "options": {"execution": "cuda"}},
}
# exams/s, one process, before this bench existed (the GPU one had no earlier figure: the CPU's is used)
BASELINE = {"measurements": 8.9, "openecg": 1.85, "openecg-cuda": 1.85}


def records(path: str | None = None) -> list[tuple]:
    """The records bench/measurements.py times, in millivolts: (signals, sampling rate); from a file
    written by --save-records when a path is given."""
    if path:
        with np.load(path) as saved:
            count = len(saved.files) // 2
            return [
                (saved[f"signals_{i}"].astype(np.float64), float(saved[f"rate_{i}"])) for i in range(count)
            ]
    from bench.measurements import EXTRA
    from tests.suggestions.test_suggestions_measurements import RECORDS, load_mv

    RECORDS.update(EXTRA)  # load_mv looks records up there
    return [load_mv(name) for name in RECORDS]


def provider_entry(name: str, model_path: str | None) -> dict:
    entry = {"class": PROVIDERS[name]["class"], "options": dict(PROVIDERS[name].get("options", {}))}
    if model_path and entry["class"] == OPENECG:
        entry["options"]["model_path"] = model_path
    return entry


def worker(entry: dict, exams: list[tuple], rounds: int, batch: int, start, results) -> None:
    """Build the provider, wait for the others, time rounds over the exams; report (count, t0, t1)."""
    from annotations.lib.providers.base import build_provider

    provider = build_provider(entry)
    provider.evaluate_many(exams[:batch])  # lazy imports and first-call allocations stay out of the timing
    start.wait()
    began = time.monotonic()
    done = 0
    queue = exams * rounds  # chunks run across rounds, so a batch larger than the records is filled
    for index in range(0, len(queue), batch):
        chunk = queue[index : index + batch]
        failed = [r for r in provider.evaluate_many(chunk) if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"{entry['class']}: {failed[0]}")
        done += len(chunk)
    results.put((done, began, time.monotonic()))


def measure(entry: dict, processes: int, exams: list[tuple], rounds: int, batch: int) -> float:
    """Exams per second of `processes` workers running together."""
    context = mp.get_context("spawn")  # a fresh interpreter per worker, as Celery's prefork children
    start = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=worker, args=(entry, exams, rounds, batch, start, results))
        for _ in range(processes)
    ]
    for process in workers:
        process.start()
    reports = []
    while len(reports) < processes:
        try:
            reports.append(results.get(timeout=1.0))
        except queue.Empty:
            # A worker that died (a GPU out of memory, say) never reports, and the others may wait at the
            # barrier for it: stop them all rather than wait forever.
            dead = [p.exitcode for p in workers if p.exitcode not in (None, 0)]
            if dead:
                for process in workers:
                    process.kill()
                raise SystemExit(f"{entry['class']}: a worker failed (exit {dead[0]})") from None
    for process in workers:
        process.join()
    total = sum(done for done, _, _ in reports)
    wall = max(end for _, _, end in reports) - min(began for _, began, _ in reports)
    return total / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the records per worker")
    parser.add_argument("--batch", type=int, default=16, help="exams per evaluate_many call")
    parser.add_argument("--providers", default="measurements,openecg", help=f"of {', '.join(PROVIDERS)}")
    parser.add_argument("--model-path", help="the codec's .onnx, where the openecg package is not installed")
    parser.add_argument("--records", help="read the records from this file (see --save-records)")
    parser.add_argument("--save-records", help="write the records to this file and stop")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    exams = records(args.records)
    if args.save_records:
        arrays = {f"signals_{i}": signals.astype(np.float32) for i, (signals, _) in enumerate(exams)}
        arrays.update({f"rate_{i}": np.array(rate) for i, (_, rate) in enumerate(exams)})
        np.savez_compressed(args.save_records, **arrays)
        print(f"{len(exams)} records written to {args.save_records}")
        return
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{len(exams)} records x {args.rounds} rounds per worker, batch {args.batch}; ", end="")
    print(f"{os.cpu_count()} cores, load average {load}")
    header = ("processes", "exams/s", "per process", "vs 1 proc", "vs before")
    print(
        f"{'provider':<14} " + " ".join(f"{h:>{w}}" for h, w in zip(header, (9, 9, 12, 10, 10), strict=True))
    )
    for name in args.providers.split(","):
        single = None
        for processes in counts:
            rate = measure(provider_entry(name, args.model_path), processes, exams, args.rounds, args.batch)
            single = single or (rate if processes == 1 else None)
            scaling = f"{rate / single:>9.2f}x" if single else f"{'-':>10}"
            print(
                f"{name:<14} {processes:>9} {rate:>9.2f} {rate / processes:>12.2f} {scaling} "
                f"{rate / BASELINE[name]:>9.2f}x"
            )


if __name__ == "__main__":
    main()
