"""Peak memory of reading large aECG files (the XML reader's whole-tree parse), printed, never asserted.

    .venv/bin/python bench/import_xml.py [--megabytes 10 50]

Builds each file from tests/data/hl7-aecg/Example_aECG.xml with every lead's digits repeated until it
has about the requested size, then reads it with annotations.lib.formats.aecg in a fresh Python process and
prints the file size, the peak memory traced by tracemalloc during the read, and the growth of the
process's peak resident size (ru_maxrss) over the read.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "data" / "hl7-aecg" / "Example_aECG.xml"

_CHILD = """
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from annotations.lib.formats import aecg
from annotations.lib.formats.base import ReadOptions
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
started = time.perf_counter()
(record,) = list(aecg.read(Path(sys.argv[1]), ReadOptions()))
seconds = time.perf_counter() - started
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
figures = {"peak": peak, "rss_kb": after - before, "seconds": seconds, "samples": record.signals.size}
print(json.dumps(figures))
"""


def build(folder: Path, megabytes: float) -> Path:
    text = EXAMPLE.read_text()
    digits = sum(len(m) for m in re.findall(r"<digits>([^<]*)</digits>", text))
    times = max(1, round((megabytes * 1e6 - (len(text) - digits)) / digits))
    grown = re.sub(
        r"<digits>([^<]*)</digits>", lambda m: "<digits>" + (m.group(1) + " ") * times + "</digits>", text
    )
    path = folder / f"aecg-{megabytes:g}mb.xml"
    path.write_text(grown)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=float, nargs="+", default=[10, 50])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-xml-") as folder:
        for megabytes in args.megabytes:
            path = build(Path(folder), megabytes)
            size = path.stat().st_size
            result = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(ROOT)],
                capture_output=True,
                text=True,
                check=True,
                env={"DJANGO_SETTINGS_MODULE": "", "PATH": "/usr/bin:/bin"},
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"aECG {size / 1e6:6.1f} MB, {figures['samples']:>10,} samples: "
                f"peak traced {figures['peak'] / 1e6:7.1f} MB ({figures['peak'] / size:4.1f}x the file), "
                f"peak RSS +{figures['rss_kb'] / 1024:7.1f} MB ({figures['rss_kb'] * 1024 / size:4.1f}x), "
                f"{figures['seconds']:.2f} s"
            )


if __name__ == "__main__":
    main()
