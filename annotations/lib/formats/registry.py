"""Reader lookup by format name."""

from __future__ import annotations

from annotations.lib.formats import aecg, code15, cpsc2018, dicom, edf, muse, philips, scp, wfdb_format
from annotations.lib.formats.base import Reader

READERS: dict[str, Reader] = {
    "code15": code15,
    "wfdb": wfdb_format,
    "ptbxl": wfdb_format.ptbxl,
    "aecg": aecg,
    "dicom": dicom,
    "muse": muse,
    "cpsc2018": cpsc2018,
    "scp": scp,
    "philips": philips,
    "edf": edf,
}
FORMATS = tuple(READERS)
