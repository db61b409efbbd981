"""aECG digits: converted while the file is parsed, so a large file is read within a memory bound; a
damaged one is refused with a message. bench/import_xml.py prints the peak memory of 10 and 50 MB files.

The bound: the peak memory traced while reading stays under 2 times the file's size (the samples as
int32 take about 0.7 times a file of short integers, and are stacked into one array once). The whole-tree
read with a list of strings per lead peaked at 3.9 times.
"""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from annotations.lib.formats import aecg
from annotations.lib.formats.base import FormatError, ReadOptions

EXAMPLE = Path(__file__).parent.parent / "data" / "hl7-aecg" / "Example_aECG.xml"
BOUND = 2


def large_aecg(folder: Path, times: int) -> Path:
    """The example file with every lead's digits repeated `times` times (all leads stay equally long)."""
    text = EXAMPLE.read_text()
    grown = re.sub(
        r"<digits>([^<]*)</digits>", lambda m: "<digits>" + (m.group(1) + " ") * times + "</digits>", text
    )
    path = folder / "large_aecg.xml"
    path.write_text(grown)
    return path


def test_digits_that_are_not_integers_are_refused(tmp_path):
    text = EXAMPLE.read_text()
    path = tmp_path / "bad.xml"
    path.write_text(text.replace("<digits> -2 -2 -2", "<digits> -2 x2 -2", 1))
    with pytest.raises(FormatError, match="digits"):
        list(aecg.read(path, ReadOptions()))


def test_a_10_mb_aecg_is_read_within_twice_its_size(tmp_path):
    path = large_aecg(tmp_path, 40)
    size = path.stat().st_size
    assert size > 10_000_000
    tracemalloc.start()
    try:
        (record,) = list(aecg.read(path, ReadOptions()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    small = next(aecg.read(EXAMPLE, ReadOptions()))
    assert record.signals.shape[1] == small.signals.shape[1] * 40
    assert np.array_equal(record.signals[:, : small.signals.shape[1]], small.signals)
    print(f"aECG {size / 1e6:.1f} MB: peak {peak / 1e6:.1f} MB traced ({peak / size:.1f}x the file)")
    assert peak < BOUND * size
