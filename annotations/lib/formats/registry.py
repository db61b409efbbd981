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
# What people call each format, for pages and messages (the keys are what the API and the command take).
FORMAT_NAMES: dict[str, str] = {
    "code15": "HDF5 (CODE)",
    "wfdb": "WFDB",
    "ptbxl": "PTB-XL",
    "aecg": "HL7 aECG",
    "dicom": "DICOM waveform",
    "muse": "GE MUSE XML",
    "cpsc2018": "CPSC-2018 .mat",
    "scp": "SCP-ECG",
    "philips": "Philips XML",
    "edf": "EDF/EDF+",
}
