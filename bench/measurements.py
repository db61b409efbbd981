"""Suggestion providers on the repository's real records: measurements beside the device's, and speed.

    .venv/bin/python bench/measurements.py [--rounds 2] [--providers measurements,openecg]

For each real record under tests/data (the records of tests/suggestions/test_suggestions_measurements.py
plus the GE MUSE sample) and each provider it prints HR, PR, QRS, QT, QTc (Bazett) and the frontal axes,
an independent R-peak rate over the same stretch of signal (scipy, see that test), and, where the file
carries them, the values the recording device measured, as the importer keeps them (DICOM, MUSE,
Philips, SCP-ECG); then each provider's median and largest difference from the devices. Then exams/s
per provider over all records (provider built once; model load not counted). No database; it never
asserts anything.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.suggestions.test_suggestions_measurements import (  # noqa: E402
    DATA,
    RECORDS,
    load_mv,
    rate_from_rr,
    reference_r_peaks,
)

EXTRA = {"muse_MAC55": ("muse", "muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml", 60, "normal")}
PROVIDERS = {
    "measurements": "annotations.lib.providers.measurements.MeasurementProvider",
    "openecg": "annotations.lib.providers.openecg_codec.OpenEcgProvider",
}
COLUMNS = ("hr", "pr", "qrs", "qt", "qtc", "p_ax", "qrs_ax", "t_ax")


def device_values(fmt: str, path: Path) -> dict[str, float]:
    """What the recording device measured, as the importer keeps it (Exam.device_measurements): the
    product's own readers, so this table shows what the exam page shows."""
    from annotations.lib.formats.base import ReadOptions
    from annotations.lib.formats.registry import READERS

    kept = next(iter(READERS[fmt].read(path, ReadOptions()))).device_measurements
    rate = kept.get("heart_rate_bpm") or (60000.0 / kept["rr_ms"] if kept.get("rr_ms") else None)
    qtc = kept.get("qtc_bazett_ms", kept.get("qtc_ms"))
    return {key: value for key, value in {
        "hr": rate, "pr": kept.get("pr_ms"), "qrs": kept.get("qrs_ms"), "qt": kept.get("qt_ms"), "qtc": qtc,
        "p_ax": kept.get("p_axis_deg"), "qrs_ax": kept.get("qrs_axis_deg"), "t_ax": kept.get("t_axis_deg"),
    }.items() if value is not None}  # fmt: skip


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def differences(pairs: list[tuple[dict, dict]]) -> str:
    """Per column, the median and largest |provider - device| over the records where both gave one."""
    lines = []
    for column in COLUMNS:
        gaps = sorted(
            (_angle if column.endswith("_ax") else lambda a, b: abs(a - b))(ours[column], device[column])
            for ours, device in pairs
            if ours.get(column) is not None and device.get(column) is not None
        )
        if gaps:
            lines.append(
                f"  {column:<7} n={len(gaps):<2} median {statistics.median(gaps):6.1f}  max {gaps[-1]:6.1f}"
            )
    return "\n".join(lines)


def provider_values(measurements: dict) -> dict[str, float | None]:
    return {
        "hr": measurements.get("heart_rate_bpm"),
        "pr": measurements.get("pr_ms"),
        "qrs": measurements.get("qrs_ms"),
        "qt": measurements.get("qt_ms"),
        "qtc": measurements.get("qtc_bazett_ms"),
        "p_ax": measurements.get("p_axis_deg"),
        "qrs_ax": measurements.get("qrs_axis_deg"),
        "t_ax": measurements.get("t_axis_deg"),
    }


def row(label: str, values: dict) -> str:
    cells = ["-" if values.get(c) is None else f"{values[c]:.0f}" for c in COLUMNS]
    return f"  {label:<14}" + "".join(f"{cell:>8}" for cell in cells)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over all records per provider")
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    from annotations.lib.providers.base import build_provider

    records = {**RECORDS, **EXTRA}
    RECORDS.update(EXTRA)  # load_mv looks records up there
    signals = {name: load_mv(name) for name in records}
    providers = {}
    for name in args.providers.split(","):
        started = time.perf_counter()
        providers[name] = build_provider(PROVIDERS[name])
        print(f"{name}: version {providers[name].version}, built in {time.perf_counter() - started:.2f} s")
    print(f"\n  {'':<14}" + "".join(f"{c:>8}" for c in COLUMNS))
    pairs: dict[str, list[tuple[dict, dict]]] = {name: [] for name in providers}
    for record, (fmt, relative, _, rhythm) in records.items():
        data, fs = signals[record]
        print(f"{record} ({fmt}, {fs:g} Hz, {data.shape[1] / fs:.1f} s, labelled {rhythm or '-'})")
        device = device_values(fmt, DATA / relative)
        if device:
            print(row("device", device))
        for name, provider in providers.items():
            result = provider.evaluate(data, fs)
            window = result.measurements.get("window_s")
            part = data[:, round(window[0] * fs) : round(window[1] * fs)] if window else data
            reference = rate_from_rr(reference_r_peaks(part, fs), fs)
            suggested = ",".join(provider.suggested(result)) or "-"
            ours = provider_values(result.measurements)
            print(row(name, ours) + f"   ref HR {reference:.1f}  {suggested}")
            if device:
                pairs[name].append((ours, device))
    for name, both in pairs.items():
        print(f"\n{name} against the recording devices ({len(both)} records with both; ms, bpm, degrees):")
        print(differences(both))
    print("\nexams/s (all records, 12 leads, after the provider is built):")
    for name, provider in providers.items():
        started = time.perf_counter()
        count = 0
        for _ in range(args.rounds):
            for data, fs in signals.values():
                provider.evaluate(data, fs)
                count += 1
        elapsed = time.perf_counter() - started
        print(f"  {name:<14} {count / elapsed:6.2f} exams/s  ({count} exams in {elapsed:.1f} s, one process)")
    median_beat_speed(signals.values(), args.rounds)


# The reader page asks for an exam's median beat when it opens the exam, so it is computed on demand: the
# goal is a few tens of milliseconds per exam, a small part of a warm page load.
MEDIAN_BEAT_GOAL_MS = 30.0


def median_beat_speed(signals, rounds: int) -> None:
    from annotations.lib.ecg.median_beat import median_beat

    signals = list(signals)
    for data, fs in signals:  # the first call of each shape imports and plans the filters: not counted
        median_beat(data, fs)
    started = time.perf_counter()
    for _ in range(rounds):
        for data, fs in signals:
            median_beat(data, fs)
    each_ms = (time.perf_counter() - started) * 1000 / (rounds * len(signals))
    print(
        f"\nmedian beat: {each_ms:.1f} ms per exam over {rounds * len(signals)} computations "
        f"({each_ms / MEDIAN_BEAT_GOAL_MS:.2f}x the {MEDIAN_BEAT_GOAL_MS:.0f} ms goal)"
    )


if __name__ == "__main__":
    main()
