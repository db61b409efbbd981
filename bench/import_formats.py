"""Import speed per file format, on the repository's own sample files.

    .venv/bin/python bench/import_formats.py [--rounds 3]

Every file under tests/data that the importer detects (WFDB, CPSC-2018, HL7 aECG, DICOM, SCP-ECG, and
MUSE / Philips / EDF files when present) is grouped by its detected format. For each format it prints:

* read: records/s of the reader alone (parse, decode, arrange the 12 leads), no database;
* import: records/s of `exams_import` into a fresh dataset and a fresh waveform folder each round (so
  content addressing finds nothing already stored), on PostgreSQL (DATABASE_URL, default
  postgres://postgres@127.0.0.1:5432/ecgreview_bench_formats, created and migrated if missing).

The Philips XML rows come from tests/data/philips-xml (three real PageWriter / HeartStart files, one
UTF-8 and two UTF-16). The repository holds no EDF file (the tests build theirs), so 10 EDF+C files are
built here with edfio, shaped like the tests' one (12 ECG leads in uV at 500 Hz for 10 s, a respiration
signal and an annotation), each from its own seed so that no two share a blob. A CODE-15%-shaped HDF5
of 200 exams is built in the same temporary folder for the `code15` row (the repository holds no CODE
tracing file). It is small and quick (well under a minute); it never asserts timings.
"""

from __future__ import annotations

import argparse
import os
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
    from annotations.lib.formats.base import FormatError, ReadOptions
    from annotations.lib.formats.detect import detect_format, folder_contents
    from annotations.lib.formats.registry import READERS

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


EDF_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def edf_files(folder: Path, count: int = 10) -> list[Path]:
    """EDF+C files written with edfio, each from its own synthetic seed."""
    from datetime import date, time

    import numpy as np
    from edfio import Edf, EdfAnnotation, EdfSignal, Patient

    from annotations.lib.ecg.synthetic import synthetic_ecg

    paths = []
    for seed in range(count):
        signals_mv, _ = synthetic_ecg(
            heart_rate_bpm=60 + seed, sampling_rate=500, duration_s=10, noise_uv=5, seed=seed
        )
        signals = [
            EdfSignal(
                signals_mv[i] * 1000,
                500,
                label=f"ECG {lead}",
                physical_dimension="uV",
                physical_range=(-8000, 8000),
            )
            for i, lead in enumerate(EDF_LEADS)
        ]
        signals.append(
            EdfSignal(
                np.sin(np.linspace(0, 20, 250)),
                25,
                label="Resp",
                physical_dimension="Ohm",
                physical_range=(-2, 2),
            )
        )
        edf = Edf(
            signals,
            patient=Patient(code=f"BENCH-{seed:04d}", sex="F", birthdate=date(1951, 5, 2), name="X"),
            starttime=time(10, 11, 12),
            annotations=[EdfAnnotation(0.0, None, "Recording starts")],  # an annotation makes it EDF+C
        )
        edf.startdate = date(2024, 3, 4)
        path = folder / f"bench-{seed:02d}.edf"
        edf.write(path)
        paths.append(path)
    return paths


def read_rate(fmt: str, paths: list[Path], rounds: int) -> tuple[int, float]:
    from annotations.lib.formats.base import ReadOptions, Record, standardized
    from annotations.lib.formats.registry import READERS

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

    from annotations.services.imports.exams import exams_import

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
        edf_folder = work / "edf"
        edf_folder.mkdir()
        groups["edf"] = edf_files(edf_folder)
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
    # Without a broker the imports left the new exams' quality reports to the in-process background
    # thread, which would drain them at exit against waveform folders already deleted: not benchmarked.
    sys.stdout.flush()
    os._exit(0)
