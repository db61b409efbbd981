"""Decompression bombs: the time and peak memory each format's reader takes to refuse one.

    .venv/bin/python bench/decoder_bombs.py [--unguarded] [--timeout 120]

Each bomb of tests/data/hostile/bombs.py (a real file of its format whose one compressed or declared
part explodes) is made in a temporary folder and read by the product's reader in a fresh process, so the
peak resident memory printed is that read's alone (the process's own start-up, ~50 MB, included). With
--unguarded it also times the decoding library called directly, as the readers did before they bounded
it (sierraecg, pydicom, scipy's loadmat; SCP has no library: its decoder is the project's own), in a
process stopped after --timeout seconds. Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GUARDED = """
import json, resource, sys, time
from pathlib import Path
from annotations.lib.formats.base import FormatError, ReadOptions
from annotations.lib.formats.registry import READERS
started = time.monotonic()
try:
    list(READERS[sys.argv[1]].read(Path(sys.argv[2]), ReadOptions()))
    outcome = "read"
except FormatError as error:
    outcome = str(error)
print(json.dumps({"s": time.monotonic() - started, "outcome": outcome,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

UNGUARDED = {
    "philips": "import sierraecg; sierraecg.read_file(PATH)",
    "dicom": "import pydicom; pydicom.dcmread(PATH)",
    "cpsc2018": "import scipy.io; scipy.io.loadmat(PATH)",
}
UNGUARDED_RUN = """
import json, resource, time
PATH = {path!r}
started = time.monotonic()
try:
    {call}
    outcome = "decoded"
except Exception as error:
    outcome = type(error).__name__
print(json.dumps({{"s": time.monotonic() - started, "outcome": outcome,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(script: list[str], timeout: float) -> dict:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", *script], cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"s": time.monotonic() - started, "outcome": f"stopped after {timeout:.0f} s", "peak_mb": None}
    if done.returncode != 0:
        return {"s": time.monotonic() - started, "outcome": done.stderr.strip()[-200:], "peak_mb": None}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unguarded", action="store_true", help="also time the libraries called directly")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    from tests.data.hostile.bombs import BOMBS

    print(f"{'format':<10} {'on disk':>9} {'refused in':>11} {'peak':>8}  reason")
    with tempfile.TemporaryDirectory(prefix="bombs-") as folder:
        for name, make in sorted(BOMBS.items()):
            path = make(Path(folder) / f"bomb-{name}")
            size_kb = path.stat().st_size / 1024
            result = run([GUARDED, name, str(path)], args.timeout)
            peak = f"{result['peak_mb']:.0f} MB" if result["peak_mb"] is not None else "-"
            print(f"{name:<10} {size_kb:>6.0f} kB {result['s']:>9.2f} s {peak:>8}  {result['outcome'][:90]}")
            if args.unguarded and name in UNGUARDED:
                call = UNGUARDED_RUN.format(path=str(path), call=UNGUARDED[name])
                raw = run([call], args.timeout)
                peak = f"{raw['peak_mb']:.0f} MB" if raw["peak_mb"] is not None else "-"
                print(f"{'  library':<10} {'':>9} {raw['s']:>9.2f} s {peak:>8}  {raw['outcome'][:90]}")


if __name__ == "__main__":
    main()
