"""Benchmark: how many exams with a positive read a class needs before the latent estimate beats majority.

Simulated reader studies with a known truth (annotations.lib.stats.simulate), three readers per exam in
four panels (three good readers; good, fair and poor; fair, fair and poor; two good and an adversarial
one), batches of 10 to 200 exams. Each study is decided twice with annotations.lib.stats.consensus_decide
with the latent estimate allowed on every class (min_positive_exams=0) and with the majority rule. For
the cells where readers disagree (split cells), it counts how often each rule's decision is wrong against
the truth, grouped by how many exams of the batch carry a positive read of the cell's class, pooled over
batch sizes and for the batch size where the latent estimate fared worst. A disputed cell (uncertain, tie)
is not counted as wrong: it goes to a human.

The constant annotations.lib.stats.consensus.MIN_LATENT_POSITIVE_EXAMS is chosen from this table: the
smallest group from which the latent estimate is wrong no more often than the majority at any batch size.
Prints the table; asserts nothing.

    .venv/bin/python bench/latent_minimum.py [--studies 1500]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS, consensus_decide
from annotations.lib.stats.reads import MISSING
from annotations.lib.stats.simulate import ADVERSARIAL, FAIR, GOOD, POOR, simulate_study

PANELS = {
    "3 good": [GOOD, GOOD, GOOD],
    "good, fair, poor": [GOOD, FAIR, POOR],
    "fair, fair, poor": [FAIR, FAIR, POOR],
    "2 good, adversarial": [GOOD, GOOD, ADVERSARIAL],
}
BATCH_SIZES = (10, 20, 40, 60, 100, 200)
GROUPS = ((0, 4), (5, 9), (10, 19), (20, 39), (40, None))


def group_of(positive_exams: int) -> int:
    return next(
        i
        for i, (lo, hi) in enumerate(GROUPS)
        if positive_exams >= lo and (hi is None or positive_exams <= hi)
    )


def tally(panel: list, n_exams: int, studies: int, counts: dict) -> None:
    """Adds, per (group, batch size), [latent wrong, majority wrong, split cells] over `studies` studies."""
    for seed in range(studies):
        study = simulate_study(10_000 + seed, panel, n_exams=n_exams)
        latent = consensus_decide(
            study.reads, method="latent", exclusive_sets=study.sets, min_positive_exams=0
        )
        majority = consensus_decide(study.reads, method="majority", exclusive_sets=study.sets)
        n = (study.reads != MISSING).sum(axis=0)
        k = (study.reads == 1).sum(axis=0)
        split = (n >= 2) & (k > 0) & (k < n)
        for c in np.nonzero(split.any(axis=0))[0]:
            cells = split[:, c]
            truth = study.truth[cells, c]
            row = counts[group_of(int((k[:, c] > 0).sum())), n_exams]
            for i, made in enumerate((latent, majority)):
                value = made.value[cells, c]
                row[i] += int(((value != MISSING) & (value != truth)).sum())
            row[2] += int(cells.sum())


def ratio(latent_wrong: int, majority_wrong: int) -> float:
    return latent_wrong / majority_wrong if majority_wrong else float("nan")


def print_panel(name: str, counts: dict) -> None:
    """One line per group: pooled over batch sizes, and the worst batch size (100+ split cells)."""
    for g, (lo, hi) in enumerate(GROUPS):
        rows = {size: counts[g, size] for size in BATCH_SIZES if counts[g, size][2]}
        if not rows:
            continue
        latent_wrong, majority_wrong, cells = (sum(row[i] for row in rows.values()) for i in range(3))
        sizable = {size: ratio(*row[:2]) for size, row in rows.items() if row[2] >= 100}
        worst = max(sizable, key=lambda size: sizable[size], default=None)
        worst_text = f"worst {sizable[worst]:.2f}x at {worst} exams" if worst else ""
        span = f"{lo}-{hi}" if hi is not None else f"{lo}+"
        rates = f"latent {latent_wrong / cells:.3f}  majority {majority_wrong / cells:.3f}"
        print(
            f"  {name:<20} {span:>5} positive exams  split cells {cells:>6,}  {rates}"
            f"  {ratio(latent_wrong, majority_wrong):.2f}x  {worst_text}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1500, help="exams simulated per panel and batch size")
    args = parser.parse_args()
    started = time.perf_counter()
    print("split cells wrong, latent vs majority, by exams with a positive read of the class (3 readers)")
    for name, panel in PANELS.items():
        counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        for n_exams in BATCH_SIZES:
            tally(panel, n_exams, max(3, args.studies // n_exams), counts)
        print_panel(name, counts)
    print(
        f"the service's rule: the latent estimate decides a class from {MIN_LATENT_POSITIVE_EXAMS} exams"
        f" with a positive read on ({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
