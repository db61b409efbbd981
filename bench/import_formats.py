"""Import speed per file format, on the repository's own sample files.

    .venv/bin/python bench/import_formats.py [--rounds 3]

Every file under tests/data that the importer detects (WFDB, CPSC-2018, HL7 aECG, DICOM, SCP-ECG, and
MUSE / Philips / EDF files when present) is grouped by its detected format. For each format it prints:

* read: records/s of the reader alone (parse, decode, arrange the 12 leads), no database;
* import: records/s of `exams_import` into a fresh dataset and a fresh waveform folder each round (so
  content addressing finds nothing already stored), on PostgreSQL (DATABASE_URL, default
  postgres://postgres@127.0.0.1:5432/ecgreview_bench_formats, created and migrated if missing).

A CODE-15%-shaped HDF5 of 200 exams is built in a temporary folder for the `code15` row (the repository
holds no CODE tracing file). It is small and quick (well under a minute); it never asserts timings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

DATA = _django.ROOT / "tests" / "data"
SKIP = {"hostile", "code-test", "ptbxl"}  # hostile files are refused on purpose; code-test holds labels


def sample_files() -> dict[str, list[Path]]:
    """Detected format -> files that read; files refused on purpose (the non-compliant SCP) are left out."""
    from annotations.formats.base import FormatError, ReadOptions
    from annotations.formats.detect import detect_format, folder_contents
    from annotations.formats.registry import READERS

    by_format: dict[str, list[Path]] = defaultdict(list)
    for folder in sorted(p for p in DATA.iterdir() if p.is_dir() and p.name not in SKIP):
        for unit in folder_contents(folder).units:
            try:
                fmt = detect_format(unit)
                list(READERS[fmt].read(unit, ReadOptions()))
            except (FormatError, ValueError) as error:
                print(f"left out {unit.relative_to(DATA)}: {str(error)[:90]}")
                continue
            by_format[fmt].append(unit)
    return dict(by_format)


def code15_file(folder: Path) -> Path:
    sys.path.insert(0, str(_django.ROOT))
    from tests.importing import write_code15

    path, _ = write_code15(folder, exams=[(1000 + n, 4000) for n in range(200)])
    return path


def read_rate(fmt: str, paths: list[Path], rounds: int) -> tuple[int, float]:
    from annotations.formats.base import ReadOptions, Record, standardized
    from annotations.formats.registry import READERS

    reader, options, records = READERS[fmt], ReadOptions(), 0
    started = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            for item in reader.read(path, options):
                if isinstance(item, Record):
                    standardized(item)
                    records += 1
    return records, time.perf_counter() - started


def import_rate(fmt: str, paths: list[Path], rounds: int, work: Path) -> tuple[int, float, int]:
    from django.test import override_settings

    from annotations.services.imports import exams_import

    records, elapsed, failed = 0, 0.0, 0
    for round_ in range(rounds):
        folder = work / f"waveforms-{fmt}-{round_}"
        storages = {
            "waveforms": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(folder), "allow_overwrite": True},
            }
        }
        from django.conf import settings

        with override_settings(STORAGES={**settings.STORAGES, **storages}):
            started = time.perf_counter()
            report = exams_import(paths, dataset=f"bench-{fmt}-{time.time_ns()}", options=None)
            elapsed += time.perf_counter() - started
        records += report.summary()["created"]
        failed += report.files_failed
    return records, elapsed, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _django.setup("ecgreview_bench_formats")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        groups = sample_files()
        groups["code15"] = [code15_file(work)]
        print(f"{'format':<10} {'files':>5} {'records':>8} {'read rec/s':>11} {'import rec/s':>13}")
        for fmt in sorted(groups):
            paths = groups[fmt]
            read_records, read_s = read_rate(fmt, paths, args.rounds)
            imported, import_s, failed = import_rate(fmt, paths, args.rounds, work)
            note = f"  ({failed} file imports failed)" if failed else ""
            print(
                f"{fmt:<10} {len(paths):>5} {read_records // args.rounds:>8} "
                f"{read_records / read_s:>11.1f} {imported / import_s:>13.1f}{note}"
            )


if __name__ == "__main__":
    main()
