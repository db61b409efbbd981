"""Which reader a path needs, decided by its content (magic bytes, root element), not its extension."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from annotations.lib.formats.base import FormatError
from annotations.lib.formats.edf import is_edf
from annotations.lib.formats.philips import ROOT as PHILIPS_ROOT

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAT5_MAGIC = b"MATLAB 5.0 MAT-file"
PTBXL_DATABASE = "ptbxl_database.csv"
# CODE-15%'s table of age, sex, patient and labels, published beside its HDF5 parts: read as their metadata.
CODE_METADATA = "exams.csv"
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")
_WFDB_RECORD_LINE = re.compile(r"^(\S+?)(/\d+)?\s+\d+(\s|$)")


# Archives are never opened (no decompression, so no zip bomb and no nested archive to worry about):
# they are named, and refused.
_ARCHIVE_MAGIC = {
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!\x1a\x07": "rar",
    b"\x28\xb5\x2f\xfd": "zstd",
}
ARCHIVE_SUFFIXES = {".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst"}


def archive_kind(head: bytes, name: str = "") -> str | None:
    """'zip', 'gzip', 'tar', ... when the first bytes (or, failing that, the name) say archive."""
    for magic, kind in _ARCHIVE_MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[257:262] == b"ustar":
        return "tar"
    suffix = Path(name).suffix.lower()
    return suffix.lstrip(".") if suffix in ARCHIVE_SUFFIXES else None


def archive_refusal(kind: str) -> str:
    return f"is a {kind} archive; archives are not imported (unpack it and import the files inside)"


def _head(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


def _xml_root(head: bytes) -> str | None:
    """Name of the first element after the prolog, comments and any DOCTYPE (which the parsers refuse)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM (Philips 1.04 exports)
        head = head[: len(head) - len(head) % 2].decode("utf-16", errors="replace").encode("utf-8", "replace")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        return None
    text = re.sub(rb"<\?.*?\?>", b"", text, flags=re.S)
    text = re.sub(rb"<!--.*?-->", b"", text, flags=re.S)
    text = re.sub(rb"<!DOCTYPE(\s[^\[>]*)?(\[.*?\])?\s*>", b"", text, flags=re.S)
    match = _XML_ROOT.search(text)
    return match.group(2).decode("ascii") if match else None


def is_xml(head: bytes) -> bool:
    """Whether a file's first bytes are XML (whatever its name), so the XML size limit applies."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _wfdb_record_name(head: bytes) -> str | None:
    """The record a WFDB header's record line names, or None when `head` is no WFDB header."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _WFDB_RECORD_LINE.match(line.strip())
        return match.group(1) if match else None
    return None


def _is_wfdb_header(head: bytes, path: Path) -> bool:
    """A WFDB header named after its record. One under another name (copied or renamed without its
    record) is refused saying which record it heads: wfdb finds a record's files by that name."""
    record = _wfdb_record_name(head)
    if record is not None and record == f"{path.stem}.mat":
        return True  # the Georgia set's headers name their record so; the reader reads it as path.stem
    if record is not None and record != path.stem and path.suffix.lower() == ".hea":
        raise FormatError(
            f"is the WFDB header of record {record}, not of {path.stem}: import it as {record}.hea, "
            "beside the signal files it names"
        )
    return record is not None and record == path.stem


def _is_scp(head: bytes, path: Path) -> bool:
    """SCP-ECG: CRC and record length, then section 0 whose header carries "SCPECG" (bytes 16-21). A
    `.scp` file starting with a section-0 header but without it goes to the reader, which says why."""
    return head[16:22] == b"SCPECG" or (path.suffix.lower() == ".scp" and head[8:10] == b"\x00\x00")


def detect_format(path: Path) -> str:
    """Name of the reader for `path`: code15, ptbxl, wfdb, aecg, muse, dicom, scp or cpsc2018."""
    if path.is_dir():
        if (path / PTBXL_DATABASE).is_file():
            return "ptbxl"
        raise FormatError("is a folder without ptbxl_database.csv; name its files instead")
    head = _head(path)
    if kind := archive_kind(head, path.name):
        raise FormatError(archive_refusal(kind))
    if head.startswith(HDF5_MAGIC):
        return "code15"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if _is_scp(head, path):
        return "scp"
    if not head:
        raise FormatError("is an empty file (0 bytes); nothing to import")
    if is_edf(head):
        return "edf"
    root = _xml_root(head)
    if root == "AnnotatedECG":
        return "aecg"
    if root == "RestingECG":
        return "muse"
    if root == PHILIPS_ROOT:
        return "philips"
    if root is not None:
        raise FormatError(f"is XML with root element <{root}>, not HL7 aECG, GE MUSE or Philips XML")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<!DOCTYPE" in head:
        # A DTD longer than the sniffed head (a quadratic blowup's one huge entity): say what it is.
        raise FormatError("is XML whose DTD declares entities; entity expansion is refused")
    if _is_wfdb_header(head, path):
        return "wfdb"
    if head.startswith(MAT5_MAGIC):
        if path.with_suffix(".hea").is_file():
            return "wfdb"
        return "cpsc2018"
    raise FormatError(
        "is not in a format ECG Review reads "
        "(HDF5, WFDB, aECG, MUSE, Philips XML, SCP-ECG, DICOM, EDF, CPSC .mat)"
    )


@dataclass(frozen=True)
class FolderContents:
    units: list[Path]  # what is imported: files, or a PTB-XL folder
    ignored: list[tuple[Path, str]]  # files that are no ECG record, each with why: reported, never dropped


IMPORT_SUFFIXES = {".hea", ".h5", ".hdf5", ".xml", ".dcm", ".edf"}


def folder_contents(path: Path) -> FolderContents:
    """The files (or PTB-XL folders) a path stands for: a folder is searched for importable files.

    A WFDB record counts once, by its header: its signal and annotation files (.dat, .mat, .xyz, .atr,
    anything with the header's name) belong to it. A file of any other name is read by content (a DICOM
    file often has no extension at all), and one that is no ECG is listed as ignored, with the reason.
    Hidden files (.DS_Store and the like) are left out.
    """
    if not path.is_dir():
        if path.suffix.lower() in {".dat", ".mat"} and path.with_suffix(".hea").is_file():
            return FolderContents([path.with_suffix(".hea")], [])
        return FolderContents([path], [])
    if (path / PTBXL_DATABASE).is_file():
        return FolderContents([path], [])
    units, ignored = [], []
    for child in sorted(path.rglob("*")):
        if not child.is_file() or child.name.startswith("."):
            continue
        suffix = child.suffix.lower()
        if suffix in IMPORT_SUFFIXES:
            units.append(child)
        elif child.with_suffix(".hea").is_file():
            continue  # part of a WFDB record, read with its header
        elif suffix == ".mat":
            units.append(child)  # a CPSC-2018 record (no header)
        elif suffix == ".dat":
            ignored.append((child, "is a WFDB signal file without its .hea header"))
        else:
            try:
                detect_format(child)
            except FormatError as error:
                ignored.append((child, str(error)))
            else:
                units.append(child)
    return FolderContents(units, _without_code_metadata(ignored, units))


def code_metadata_beside(unit: Path) -> Path | None:
    """The exams.csv in an HDF5 part's folder, which the part's import reads as its metadata."""
    table = unit.parent / CODE_METADATA
    return table if unit.is_file() and table.is_file() else None


def _without_code_metadata(ignored: list[tuple[Path, str]], units: list[Path]) -> list[tuple[Path, str]]:
    """An exams.csv beside HDF5 parts is their metadata, not a stray file."""
    parts = {unit.parent for unit in units if unit.is_file() and _head(unit, 8).startswith(HDF5_MAGIC)}
    return [(path, why) for path, why in ignored if not (path.name == CODE_METADATA and path.parent in parts)]


def import_units(path: Path) -> list[Path]:
    """The import units of folder_contents (the files and folders that are imported)."""
    return folder_contents(path).units
