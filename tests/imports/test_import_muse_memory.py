"""A large GE MUSE XML file is read lead by lead: each lead's base64 text is decoded as its element ends
and dropped, so the reader's peak is the samples it returns plus one lead's text, not the whole tree.
bench/import_xml.py prints the figures for 10 and 50 MB files."""

from __future__ import annotations

import base64
import re
import tracemalloc
from pathlib import Path

from annotations.lib.formats import muse
from annotations.lib.formats.base import ReadOptions
from bench.import_xml import with_crcs

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "muse-xml" / "musePHI_muse_ecg1_MAC55_simulator.xml"


def large_muse(folder: Path, times: int) -> Path:
    """The sample with every rhythm lead's samples repeated `times` over (counts to match)."""
    text = SAMPLE.read_text()
    at = text.index("<WaveformType>Rhythm")
    rhythm = re.sub(
        r"<WaveFormData>([^<]*)</WaveFormData>",
        lambda m: (
            "<WaveFormData>"
            + base64.b64encode(base64.b64decode(m.group(1)) * times).decode()
            + "</WaveFormData>"
        ),
        text[at:],
    )
    rhythm = re.sub(
        r"<LeadSampleCountTotal>(\d+)</LeadSampleCountTotal>",
        lambda m: f"<LeadSampleCountTotal>{int(m.group(1)) * times}</LeadSampleCountTotal>",
        rhythm,
    )
    path = folder / "large.xml"
    path.write_text(text[:at] + with_crcs(rhythm))
    return path


def test_a_10_mb_muse_file_is_read_within_five_times_its_size(tmp_path):
    """The returned int64 signals alone are 3x the file (2 bytes a sample as 1.33 base64 characters,
    widened to 8); the whole-tree parse peaked at 7x."""
    path = large_muse(tmp_path, 100)
    size = path.stat().st_size
    assert size > 9_000_000
    tracemalloc.start()
    try:
        (record,) = list(muse.read(path, ReadOptions()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert record.signals.shape == (8, 500_000)
    assert peak < 5 * size, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
