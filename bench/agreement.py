"""Benchmark: per-class agreement statistics against the reference libraries, and the bootstrap.

Computes every per-class statistic (no bootstrap) for a synthetic batch of 100,000 exams x 3 readers x
73 classes with annotations.lib.stats, then the same numbers with the reference implementations
(scikit-learn cohen_kappa_score per reader pair and class, statsmodels fleiss_kappa via
aggregate_raters per class, krippendorff.alpha per class), and prints both times, their ratio and the
largest absolute difference. Then times the 1,000-resample bootstrap. Prints figures; asserts nothing
about time.

    .venv/bin/python bench/agreement.py [--exams 100000] [--classes 73] [--readers 3] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from annotations.lib.stats import ALGORITHM_VERSION, bootstrap_agreement, class_agreement


def synthetic_reads(n_readers: int, n_exams: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """Readers labelling a hidden truth with per-class prevalence from 0.2% to 40% and 2-15% noise."""
    rng = np.random.default_rng(seed)
    prevalence = np.exp(rng.uniform(np.log(0.002), np.log(0.4), size=n_classes))
    truth = rng.random((n_exams, n_classes)) < prevalence
    noise = rng.uniform(0.0, 0.03, size=(n_readers, 1, n_classes)) * np.where(truth[None], 5.0, 0.2)
    return (truth[None] ^ (rng.random((n_readers, n_exams, n_classes)) < noise)).astype(np.int8)


def ours(reads: np.ndarray) -> dict[str, np.ndarray]:
    result = class_agreement(reads)
    return {
        "fleiss_kappa": result.fleiss_kappa,
        "krippendorff_alpha": result.krippendorff_alpha,
        "pairwise_kappa": result.pairwise_kappa,
        "mean_pairwise_kappa": result.mean_pairwise_kappa,
    }


def references(reads: np.ndarray) -> dict[str, np.ndarray]:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    n_readers, _, n_classes = reads.shape
    pairs = [(a, b) for a in range(n_readers) for b in range(a + 1, n_readers)]
    fleiss = np.empty(n_classes)
    alpha = np.empty(n_classes)
    pairwise = np.empty((len(pairs), n_classes))
    for c in range(n_classes):
        column = reads[:, :, c]
        counts, _ = aggregate_raters(column.T, n_cat=2)
        fleiss[c] = fleiss_kappa(counts)
        alpha[c] = krippendorff.alpha(column, level_of_measurement="nominal", value_domain=[0, 1])
        for p, (a, b) in enumerate(pairs):
            pairwise[p, c] = cohen_kappa_score(column[a], column[b], labels=[0, 1])
    return {
        "fleiss_kappa": fleiss,
        "krippendorff_alpha": alpha,
        "pairwise_kappa": pairwise,
        "mean_pairwise_kappa": pairwise.mean(axis=0),
    }


def best_of(function, *args, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exams", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=73)
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    reads = synthetic_reads(args.readers, args.exams, args.classes)
    print(
        f"agreement {ALGORITHM_VERSION}: {args.readers} readers x {args.exams:,} exams x "
        f"{args.classes} classes, {os.cpu_count()} CPUs, numpy {np.__version__}"
    )

    ours_time, our_values = best_of(ours, reads, repeat=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the references warn about nothing we need here
        reference_time, reference_values = best_of(references, reads, repeat=1)
    differences = {
        name: float(np.nanmax(np.abs(our_values[name] - reference_values[name]))) for name in reference_values
    }
    nan_mismatch = sum(
        int((np.isnan(our_values[name]) != np.isnan(reference_values[name])).sum())
        for name in reference_values
    )
    print(f"per-class statistics, ours (best of 3):  {ours_time:8.3f} s")
    print(f"same numbers, reference libraries:      {reference_time:8.3f} s")
    print(f"speed ratio (reference / ours):          {reference_time / ours_time:8.1f} x")
    for name, difference in differences.items():
        print(f"  max |ours - reference| {name:<20} {difference:.2e}")
    overall = max(differences.values())
    print(f"  max abs difference overall             {overall:.2e}  (NaN mismatches: {nan_mismatch})")

    start = time.perf_counter()
    result = bootstrap_agreement(reads, n_resamples=args.resamples, seed=0)
    bootstrap_time = time.perf_counter() - start
    print(f"bootstrap, {args.resamples} resamples, all statistics + intervals: {bootstrap_time:8.2f} s")
    worst = np.nanmax(result.intervals["fleiss_kappa"].upper - result.intervals["fleiss_kappa"].lower)
    print(f"  widest 95% interval of Fleiss' kappa across classes: {worst:.3f}")


if __name__ == "__main__":
    main()
