"""aECG digits: a damaged file is refused with a message naming the lead. (bench/import_xml.py prints
the reader's peak memory on large generated files; large_aecg builds them.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotations.formats import aecg
from annotations.formats.base import FormatError, ReadOptions

EXAMPLE = Path(__file__).parent / "data" / "hl7-aecg" / "Example_aECG.xml"


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
