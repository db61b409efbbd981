"""The record around the sections: its CRC and length, each section's header, section 0's pointers.

Also the little-endian cursor every section reader uses, which names the section and the field when a
length lies, and the text-field decoding shared by sections 1, 8 and 11.
"""

from __future__ import annotations

import binascii
import itertools
import struct
from dataclasses import dataclass
from typing import Any

from annotations.lib.formats.base import FormatError

IDENTIFICATION = b"SCPECG"
HEADER = 16
FIRST_SECTION = 7  # 1-based byte position of section 0 (after the CRC and the record length)
REQUIRED = (0, 1, 6)  # the sections a rhythm record cannot do without


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT as SCP-ECG specifies it: polynomial x^16 + x^12 + x^5 + 1, initial value 0xFFFF."""
    return binascii.crc_hqx(data, 0xFFFF)


def decode_text(raw: bytes) -> str:
    """Text fields are NUL-terminated; carts write ASCII, Latin-1 (Swedish statements) or UTF-8."""
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


class Cursor:
    """Little-endian reads inside one section body; running past its end names the section and field."""

    def __init__(self, data: bytes, section: int) -> None:
        self.data, self.section, self.pos = data, section, 0

    def need(self, size: int, what: str) -> None:
        if size < 0 or self.pos + size > len(self.data):
            raise FormatError(
                f"SCP-ECG section {self.section}: {what} needs {size} bytes at offset {self.pos}, "
                f"but the section body has only {len(self.data) - self.pos} left (lying length)"
            )

    def take(self, size: int, what: str) -> bytes:
        self.need(size, what)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def u8(self, what: str) -> int:
        return int(self.unpack("B", what)[0])

    def u16(self, what: str) -> int:
        return int(self.unpack("H", what)[0])

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


@dataclass(frozen=True)
class Section:
    number: int
    version: int
    protocol: int
    body: bytes  # the section after its 16-byte header


def check_record(data: bytes) -> None:
    """The record's own CRC and length, before any section is looked at."""
    if len(data) == 0:
        raise FormatError("SCP-ECG: empty file")
    if len(data) < 6 + HEADER:
        raise FormatError(f"SCP-ECG: {len(data)} bytes is too short for a record (truncated file)")
    stored_crc, length = struct.unpack_from("<HI", data, 0)
    # The identification first: a file of another format (or a cart's own dialect) fails every check
    # after it, and the length's "truncated" would name the wrong fault.
    if data[6 + 10 : 6 + 16] != IDENTIFICATION:
        raise FormatError(
            "SCP-ECG: section 0's header does not carry the 'SCPECG' identification (bytes 17-22), and "
            f"declares protocol version {data[6 + 9]}: not a compliant SCP-ECG record"
        )
    if length != len(data):
        raise FormatError(
            f"SCP-ECG: the record length field says {length} bytes but the file has {len(data)} "
            "(truncated file, or not a compliant SCP-ECG record)"
        )
    if crc_ccitt(data[2:]) != stored_crc:
        raise FormatError("SCP-ECG: the record's CRC-CCITT does not match its content (corrupted record)")


def read_section(data: bytes, number: int, length: int, index: int) -> Section:
    """One section as a pointer names it: bounds, header id, header length and CRC all checked."""
    start = index - 1
    if index < FIRST_SECTION or start + length > len(data):
        raise FormatError(
            f"SCP-ECG section {number}: the pointer (byte {index}, {length} bytes) lies outside the "
            f"record of {len(data)} bytes"
        )
    if length < HEADER:
        raise FormatError(f"SCP-ECG section {number}: length {length} is shorter than its 16-byte header")
    chunk = data[start : start + length]
    stored_crc, section_id, declared, version, protocol = struct.unpack_from("<HHIBB", chunk, 0)
    if section_id != number:
        raise FormatError(
            f"SCP-ECG section {number}: the pointer leads to a header of section {section_id} (wrong pointer)"
        )
    if declared != length:
        raise FormatError(
            f"SCP-ECG section {number}: its header says {declared} bytes, the pointer says {length} "
            "(lying length)"
        )
    if crc_ccitt(chunk[2:]) != stored_crc:
        raise FormatError(f"SCP-ECG section {number}: CRC-CCITT does not match its content")
    return Section(number, version, protocol, chunk[HEADER:])


def section0_pointers(data: bytes) -> dict[int, Section]:
    """Section 0: the identification, then one 10-byte pointer (id, length, 1-based index) per section."""
    section_id, length = struct.unpack_from("<HI", data, 8)
    if section_id != 0:
        raise FormatError(f"SCP-ECG: the record starts with section {section_id}, not section 0 (pointers)")
    if data[6 + 10 : 6 + 16] != IDENTIFICATION:
        raise FormatError(
            "SCP-ECG section 0: bytes 11-16 of its header are not 'SCPECG' (not a compliant SCP-ECG record)"
        )
    zero = read_section(data, 0, length, FIRST_SECTION)
    cursor = Cursor(zero.body, 0)
    if cursor.left % 10:
        raise FormatError(f"SCP-ECG section 0: {cursor.left} bytes of pointers is not a whole number of 10")
    pointers: dict[int, tuple[int, int]] = {}
    while cursor.left:
        number, size, index = cursor.unpack("HII", "a pointer")
        if number in pointers:
            raise FormatError(f"SCP-ECG section 0: section {number} is pointed to twice")
        pointers[number] = (size, index)
    if pointers.get(0) != (length, FIRST_SECTION):
        found = pointers.get(0)
        raise FormatError(
            f"SCP-ECG section 0: its pointer to itself is {found}, not ({length}, {FIRST_SECTION}) "
            "(pointers are 1-based byte positions)"
        )
    sections = {0: zero}
    spans: list[tuple[int, int, int]] = []
    for number, (size, index) in sorted(pointers.items()):
        if number == 0 or size == 0:
            continue
        sections[number] = read_section(data, number, size, index)
        spans.append((index, index + size, number))
    spans.append((FIRST_SECTION, FIRST_SECTION + length, 0))
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            raise FormatError(f"SCP-ECG section 0: sections {first} and {second} overlap (lying pointers)")
    for number in REQUIRED:
        if number not in sections:
            raise FormatError(f"SCP-ECG: section {number} is missing")
    return sections
