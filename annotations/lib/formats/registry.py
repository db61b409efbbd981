"""Reader lookup by format name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from annotations.lib.formats.base import Reader

# Each format's reader: a module of annotations.lib.formats, or "module:attribute" for a reader that is
# an object of one. They are imported on first use, not here: between them they bring wfdb (and pandas),
# pydicom, h5py and scipy.io, over a second of imports that every web process, worker and manage command
# would pay at start for the format names alone.
_READER_PATHS: dict[str, str] = {
    "code15": "code15",
    "wfdb": "wfdb_format",
    "ptbxl": "wfdb_format:ptbxl",
    "aecg": "aecg",
    "dicom": "dicom",
    "muse": "muse",
    "cpsc2018": "cpsc2018",
    "scp": "scp",
    "philips": "philips",
    "edf": "edf",
}


class _Readers(Mapping[str, Reader]):
    """Format name -> reader, each imported when first asked for."""

    def __getitem__(self, name: str) -> Reader:
        module, _, attribute = _READER_PATHS[name].partition(":")
        reader = import_module(f"annotations.lib.formats.{module}")
        return getattr(reader, attribute) if attribute else reader

    def __iter__(self) -> Iterator[str]:
        return iter(_READER_PATHS)

    def __len__(self) -> int:
        return len(_READER_PATHS)


READERS: Mapping[str, Reader] = _Readers()
FORMATS = tuple(_READER_PATHS)
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
