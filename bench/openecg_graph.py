"""Benchmark: the openecg codec as shipped against its refinement evaluated on phases (onnx_phases.py).

On the real records of tests/data, one thread, as a `models` worker runs, alternating the two graphs pass by
pass so that both see the same machine:
1. the model alone: 12 single-lead calls per exam, ms per exam;
2. the whole provider (window, model, beats, measurements): exams/s;
3. how far the answers move: the largest logit change per head, the samples whose class changes, the
   largest score change and the measurements that differ.

    .venv/bin/python bench/openecg_graph.py [--passes 5]

Prints figures, asserts nothing (tests/suggestions/test_suggestions_openecg_phases.py holds the answers
to account).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402 (after the thread settings above)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

MEASURED = ("n_beats", "beats_measured", "heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qrs_axis_deg")


def model_pass(provider, inputs: list[np.ndarray]) -> float:
    began = time.perf_counter()
    for leads in inputs:
        for lead in leads:
            provider.logits(lead)
    return (time.perf_counter() - began) / len(inputs)


def provider_pass(provider, exams: list[tuple]) -> float:
    began = time.perf_counter()
    provider.evaluate_many(exams)
    return len(exams) / (time.perf_counter() - began)


def answers(phases, shipped, exams: list[tuple]) -> None:
    heads = ("frame", "beat", "rhythm")
    moved, changed, samples = dict.fromkeys(heads, 0.0), dict.fromkeys(heads, 0), 0
    for signals, rate in exams:
        for lead in phases.lead_inputs(signals, rate):
            for head, a, b in zip(heads, phases.logits(lead), shipped.logits(lead), strict=True):
                moved[head] = max(moved[head], float(np.abs(a - b).max()))
                changed[head] += int((a.argmax(-1) != b.argmax(-1)).sum())
            samples += lead.shape[0]
    for head in heads:
        print(
            f"  {head:<7} head: largest logit change {moved[head]:.3f}, samples whose class changes "
            f"{changed[head]} of {samples}"
        )
    score_moved, differing = 0.0, []
    for index, (a, b) in enumerate(
        zip(phases.evaluate_many(exams), shipped.evaluate_many(exams), strict=True)
    ):
        score_moved = max(score_moved, *(abs(a.scores[c] - b.scores[c]) for c in b.scores))
        differing += [f"exam {index} {key}" for key in MEASURED if a.measurements[key] != b.measurements[key]]
    print(f"  largest score change {score_moved:.5f}; measurements that differ: {differing or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5, help="alternating passes over the records")
    args = parser.parse_args()
    from annotations.lib.providers.openecg_codec import OpenEcgProvider
    from bench.suggestions_scale import records

    phases, shipped = OpenEcgProvider(), OpenEcgProvider(refine_on_phases=False)
    exams = records()
    inputs = [phases.lead_inputs(signals, rate) for signals, rate in exams]
    for provider in (phases, shipped):  # first calls allocate; keep them out of the figures
        provider.evaluate(*exams[0])
    model = {"as shipped": [], "on phases": []}
    whole = {"as shipped": [], "on phases": []}
    for _ in range(args.passes):
        for label, provider in (("as shipped", shipped), ("on phases", phases)):
            model[label].append(model_pass(provider, inputs))
            whole[label].append(provider_pass(provider, exams))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{len(exams)} records, 12 leads each, one thread, {args.passes} passes each (medians);")
    print(f"{os.cpu_count()} cores, load average {load}")
    for label in model:
        print(
            f"  {label:<11} model {statistics.median(model[label]) * 1000:6.1f} ms per exam, "
            f"provider {statistics.median(whole[label]):5.2f} exams/s"
        )
    ratio = statistics.median(model["as shipped"]) / statistics.median(model["on phases"])
    speed = statistics.median(whole["on phases"]) / statistics.median(whole["as shipped"])
    print(f"  speed-up: model {ratio:.2f}x, provider {speed:.2f}x")
    answers(phases, shipped, exams)


if __name__ == "__main__":
    main()
