"""Peak memory of reading large aECG and GE MUSE XML files, printed, never asserted.

    .venv/bin/python bench/import_xml.py [--megabytes 10 50] [--formats aecg muse]

Builds each file from a real sample with every lead's samples repeated until it has about the requested
size (aECG: tests/data/hl7-aecg/Example_aECG.xml, its digits; MUSE:
tests/data/muse-xml/musePHI_muse_ecg1_MAC55_simulator.xml, its base64 rhythm leads, with
LeadSampleCountTotal to match), then reads it with that format's reader in a fresh Python process and
prints the file size, the peak memory traced by tracemalloc during the read, and the growth of the
process's peak resident size (ru_maxrss) over the read. Both readers drop each lead's text as soon as
it is converted, so the peak is the samples themselves plus one lead's text, not the whole tree.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "data" / "hl7-aecg" / "Example_aECG.xml"
MUSE = ROOT / "tests" / "data" / "muse-xml" / "musePHI_muse_ecg1_MAC55_simulator.xml"

_CHILD = """
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from annotations.lib.formats import aecg, muse
from annotations.lib.formats.base import ReadOptions
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
started = time.perf_counter()
reader = {"aecg": aecg, "muse": muse}[sys.argv[3]]
(record,) = list(reader.read(Path(sys.argv[1]), ReadOptions()))
seconds = time.perf_counter() - started
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
figures = {"peak": peak, "rss_kb": after - before, "seconds": seconds, "samples": record.signals.size}
print(json.dumps(figures))
"""


def with_crcs(waveform: str) -> str:
    """Each lead's LeadDataCRC32 made again for its grown samples, as the cart writes it (the reader
    checks it)."""

    def lead(match: re.Match) -> str:
        data = re.search(r"<WaveFormData>([^<]*)</WaveFormData>", match.group(0)).group(1)
        crc = zlib.crc32(base64.b64decode(data))
        return re.sub(
            r"<LeadDataCRC32>\d+</LeadDataCRC32>", f"<LeadDataCRC32>{crc}</LeadDataCRC32>", match.group(0)
        )

    return re.sub(r"<LeadData>.*?</LeadData>", lead, waveform, flags=re.S)


def build_muse(folder: Path, megabytes: float) -> Path:
    text = MUSE.read_text()
    rhythm_at = text.index("<WaveformType>Rhythm")
    head, rhythm = text[:rhythm_at], text[rhythm_at:]
    data = re.findall(r"<WaveFormData>([^<]*)</WaveFormData>", rhythm)
    encoded = sum(len(d) for d in data)
    times = max(1, round((megabytes * 1e6 - (len(text) - encoded)) / encoded))

    def grow(match: re.Match) -> str:
        samples = base64.b64decode(match.group(1))
        return "<WaveFormData>" + base64.b64encode(samples * times).decode() + "</WaveFormData>"

    rhythm = re.sub(r"<WaveFormData>([^<]*)</WaveFormData>", grow, rhythm)
    rhythm = re.sub(
        r"<LeadSampleCountTotal>(\d+)</LeadSampleCountTotal>",
        lambda m: f"<LeadSampleCountTotal>{int(m.group(1)) * times}</LeadSampleCountTotal>",
        rhythm,
    )
    path = folder / f"muse-{megabytes:g}mb.xml"
    path.write_text(head + with_crcs(rhythm))
    return path


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
    parser.add_argument("--formats", nargs="+", default=["aecg", "muse"], choices=["aecg", "muse"])
    args = parser.parse_args()
    builders = {"aecg": build, "muse": build_muse}
    with tempfile.TemporaryDirectory(prefix="bench-xml-") as folder:
        for fmt, megabytes in ((f, m) for f in args.formats for m in args.megabytes):
            path = builders[fmt](Path(folder), megabytes)
            size = path.stat().st_size
            result = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(ROOT), fmt],
                capture_output=True,
                text=True,
                check=True,
                env={"DJANGO_SETTINGS_MODULE": "", "PATH": "/usr/bin:/bin"},
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"{fmt:4} {size / 1e6:6.1f} MB, {figures['samples']:>10,} samples: "
                f"peak traced {figures['peak'] / 1e6:7.1f} MB ({figures['peak'] / size:4.1f}x the file), "
                f"peak RSS +{figures['rss_kb'] / 1024:7.1f} MB ({figures['rss_kb'] * 1024 / size:4.1f}x), "
                f"{figures['seconds']:.2f} s"
            )


if __name__ == "__main__":
    main()
