"""Benchmark: the openecg provider on a GPU against the same provider on one CPU core, and whether the
answers stay the same.

Runs on a machine with onnxruntime-gpu (execution "cuda"); the CPU side is the default provider (int8
graph, one lead per call, one thread). For each leads_per_call it prints the exams per second of one
process feeding the GPU --batch exams per evaluate_many call (preparing the windows, the model, and the
beats and measurements all counted), and the model's share. Then, on every record: the largest change of a
frame or rhythm logit against the CPU's int8 graph, the share of samples whose wave or rhythm class
changes, and whether every score (to 1e-6) and measurement of the results is the CPU's.

    python bench/openecg_gpu.py [--records FILE.npz] [--model-path FILE.onnx] [--rounds 20]
        [--leads-per-call 12,96,192,384,768] [--batch 32]

--records as bench/suggestions_scale.py writes them (--save-records); without, the records of tests/data.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402 (after the thread settings above)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.suggestions_scale import records  # noqa: E402


def provider(model_path: str | None, **options):
    from annotations.lib.providers.openecg_codec import OpenEcgProvider

    return OpenEcgProvider(model_path=model_path, **options)


def throughput(gpu, exams: list[tuple], rounds: int, batch: int) -> tuple[float, float]:
    """(exams/s, share of the time inside the session's run) over rounds of the exams in chunks."""
    session = gpu._session
    inside = 0.0
    run = session.run

    def timed(*args, **kwargs):
        nonlocal inside
        began = time.perf_counter()
        out = run(*args, **kwargs)
        inside += time.perf_counter() - began
        return out

    session.run = timed
    queue = exams * rounds
    gpu.evaluate_many(queue[:batch])  # kernels chosen, memory reserved: not timed
    inside = 0.0
    began = time.perf_counter()
    for index in range(0, len(queue), batch):
        gpu.evaluate_many(queue[index : index + batch])
    wall = time.perf_counter() - began
    session.run = run
    return len(queue) / wall, inside / wall


def same_answers(cpu, gpu, exams: list[tuple]) -> None:
    frames, rhythms, changed_wave, changed_rhythm, samples = 0.0, 0.0, 0, 0, 0
    for signals, rate in exams:
        leads = cpu.lead_inputs(signals, rate)
        ours = [cpu.logits(lead) for lead in leads]  # one lead per call, int8 on the CPU
        theirs = gpu._session.run(gpu._heads, {gpu._input: leads})
        for k, name in enumerate(gpu._heads):
            a, b = np.stack([o[k] for o in ours]), theirs[k]
            if "frame" in name:
                frames = max(frames, float(np.abs(a - b).max()))
                changed_wave += int((a.argmax(-1) != b.argmax(-1)).sum())
            if "rhythm" in name:
                rhythms = max(rhythms, float(np.abs(a - b).max()))
                changed_rhythm += int((a.argmax(-1) != b.argmax(-1)).sum())
        samples += leads.shape[0] * leads.shape[1]
    print(f"  largest logit change: frame {frames:.6f}, rhythm {rhythms:.6f}")
    print(f"  samples whose class changes: wave {changed_wave} of {samples}, rhythm {changed_rhythm}")
    differ, scores_moved, measured = 0, 0.0, {}
    for a, b in zip(cpu.evaluate_many(exams), gpu.evaluate_many(exams), strict=True):
        scores_moved = max(scores_moved, max(abs(a.scores[c] - b.scores[c]) for c in a.scores))
        keys = [k for k, v in a.measurements.items() if k != "model_graph" and v != b.measurements.get(k)]
        differ += bool(keys) or any(abs(a.scores[c] - b.scores[c]) > 1e-6 for c in a.scores)
        for key in keys:
            x, y = a.measurements[key], b.measurements.get(key)
            gap = _gap(x, y)
            count, largest, unmatched = measured.get(key, (0, 0.0, 0))
            if gap is None:
                measured[key] = (count + 1, largest, unmatched + 1)
            else:
                measured[key] = (count + 1, max(largest, gap), unmatched)
    print(f"  results (scores to 1e-6, every measurement) differing from the CPU's: {differ} of {len(exams)}")
    print(f"  largest score change {scores_moved:.4f}")
    for key, (count, largest, unmatched) in sorted(measured.items()):
        other = f" ({unmatched} of them of another length or kind)" if unmatched else ""
        print(f"    {key}: differs in {count} of {len(exams)}, by at most {largest:g}{other}")


def _gap(x, y) -> float | None:
    """The largest difference between two measurements: numbers, equal-length lists of numbers (R peaks,
    in s) or dicts of numbers (rhythm probabilities); None when they do not line up."""
    if isinstance(x, int | float) and isinstance(y, int | float):
        return abs(x - y)
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        gaps = [_gap(a, b) for a, b in zip(x, y, strict=True)]
        return None if None in gaps else max(gaps, default=0.0)
    if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys():
        return _gap(list(x.values()), list(y.values()))
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records")
    parser.add_argument("--model-path")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32, help="exams per evaluate_many call")
    parser.add_argument("--leads-per-call", default="12,96,192,384,768")
    parser.add_argument("--execution", default="cuda", help="cpu runs the lead-batched graph on the CPU")
    parser.add_argument("--cuda-option", action="append", default=[], help="KEY=VALUE for the CUDA provider")
    args = parser.parse_args()
    import onnxruntime as ort

    from annotations.lib.providers import openecg_codec

    for option in args.cuda_option:
        key, _, value = option.partition("=")
        openecg_codec.CUDA_OPTIONS[key] = value
    print(f"CUDA options {openecg_codec.CUDA_OPTIONS}")

    print(f"onnxruntime {ort.__version__}, providers {', '.join(ort.get_available_providers())}")
    if args.execution == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        print("no GPU build of onnxruntime here (onnxruntime-gpu): nothing to measure; see docs/scaling.md")
        return  # make bench runs every script, on machines with and without a GPU
    exams = records(args.records)
    print(f"{len(exams)} records x {args.rounds} rounds, {args.batch} exams per evaluate_many call")
    cpu = provider(args.model_path)
    began = time.perf_counter()
    cpu.evaluate_many(exams)
    cpu_rate = len(exams) / (time.perf_counter() - began)
    print(f"  CPU, one thread, int8 graph, one lead per call: {cpu_rate:7.2f} exams/s")
    for leads in [int(n) for n in args.leads_per_call.split(",")]:
        gpu = provider(args.model_path, execution=args.execution, leads_per_call=leads)
        rate, share = throughput(gpu, exams, args.rounds, args.batch)
        print(
            f"  {args.execution}, {leads:4d} leads per call: {rate:7.2f} exams/s "
            f"({rate / cpu_rate:5.1f}x the CPU), {share:4.0%} of it in the model"
        )
    same_answers(cpu, provider(args.model_path, execution=args.execution, leads_per_call=384), exams)


if __name__ == "__main__":
    main()
