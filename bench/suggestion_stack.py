"""Benchmark: what the whole built-in suggestion stack costs a worker, per exam and in memory.

Workload: the 10 s, 12-lead records of tests/data/ecg-labelled (longer ones cut to their first 10 s, as
a cart's resting ECG is), at their own sampling rates. Stack: the measurement (criteria) provider, the
quality provider and the openecg codec, each built as a worker builds it, run one exam at a time on one
thread, as a Celery worker process does.

Each run happens in a fresh child process, so that its peak resident memory (ru_maxrss, which includes
numpy, neurokit2, onnxruntime and the model) is what one worker of that configuration needs. CPU time is
the child's own user + system time over the timed loop, after one warm-up exam (lazy imports and model
loading are a worker's start-up cost, not an exam's). Prints figures and the goals' ratios; asserts
nothing.

    .venv/bin/python bench/suggestion_stack.py [--exams 60] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

RECORDS = ROOT / "tests" / "data" / "ecg-labelled" / "records"
PROVIDERS = {
    "measurements": "annotations.lib.providers.measurements.MeasurementProvider",
    "quality": "annotations.lib.providers.quality.QualityProvider",
    "openecg": "annotations.lib.providers.openecg_codec.OpenEcgProvider",
}
GOAL_EXAMS_PER_CPU_S = 2.0
GOAL_PEAK_MB = 500.0


def ten_second_exams(limit: int) -> list[tuple[str, object, float]]:
    """(record, (12, n) mV signals, rate) for the first `limit` records with the 12 standard leads."""
    import numpy as np

    from annotations.lib.formats.base import ReadOptions, standardized
    from annotations.lib.formats.registry import READERS

    exams = []
    for header in sorted(RECORDS.glob("*.hea")):
        record = standardized(next(iter(READERS["wfdb"].read(header, ReadOptions()))))
        signals = np.asarray(record.signals[:12], dtype=np.float64)
        if record.gain_uv is not None:
            gains = np.broadcast_to(np.asarray(record.gain_uv, dtype=np.float64), (record.signals.shape[0],))
            signals = signals * gains[:12, None] / 1000.0
        signals = signals[:, : round(10 * record.sampling_rate)]
        exams.append((header.stem, signals, float(record.sampling_rate)))
        if len(exams) == limit:
            break
    return exams


def child(names: list[str], limit: int, repeat: int) -> dict:
    """Runs in the child: build the providers, warm up on one exam, time the loop."""
    from annotations.lib.providers.base import build_providers

    exams = ten_second_exams(limit)
    providers = list(build_providers([PROVIDERS[name] for name in names]).values())
    for provider in providers:  # lazy imports, sessions, caches
        provider.evaluate(exams[0][1], exams[0][2])
    started_cpu, started_wall, worst = time.process_time(), time.perf_counter(), 0.0
    for _ in range(repeat):
        for _, signals, rate in exams:
            one = time.process_time()
            for provider in providers:
                provider.evaluate(signals, rate)
            worst = max(worst, time.process_time() - one)
    cpu = time.process_time() - started_cpu
    done = len(exams) * repeat
    return {
        "exams": done,
        "cpu_s": cpu,
        "wall_s": time.perf_counter() - started_wall,
        "worst_ms": worst * 1000.0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "versions": {provider.name: provider.version for provider in providers},
    }


def measure(names: list[str], limit: int, repeat: int) -> dict:
    command = [sys.executable, __file__, "--child", ",".join(names), "--exams", str(limit)]
    command += ["--repeat", str(repeat)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child.split(","), args.exams, args.repeat)))
        return
    print(f"one worker process, 1 thread; {args.exams} records of tests/data/ecg-labelled cut to 10 s")
    print(f"{'configuration':<32} {'exams':>6} {'exams/CPU-s':>12} {'worst ms':>9} {'peak MB':>8}")
    configurations = [[name] for name in PROVIDERS] + [list(PROVIDERS)]
    for names in configurations:
        figures = measure(names, args.exams, args.repeat)
        rate = figures["exams"] / figures["cpu_s"]
        label = " + ".join(names)
        print(
            f"{label:<32} {figures['exams']:>6} {rate:>12.2f} {figures['worst_ms']:>9.0f} "
            f"{figures['peak_mb']:>8.0f}"
        )
    print(
        f"whole stack: {rate:.2f} exams per CPU-second = {rate / GOAL_EXAMS_PER_CPU_S:.2f}x the goal "
        f"(>= {GOAL_EXAMS_PER_CPU_S:g}); peak {figures['peak_mb']:.0f} MB = "
        f"{figures['peak_mb'] / GOAL_PEAK_MB:.2f}x the ceiling ({GOAL_PEAK_MB:g} MB)"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in figures["versions"].items()))


if __name__ == "__main__":
    main()
