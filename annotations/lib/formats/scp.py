"""SCP-ECG (EN 1064:2005 / ISO 11073-91064), written from the standard's description of the record.

A record is a 2-byte CRC-CCITT of everything after it, a 4-byte record length, then sections. Every
section starts with a 16-byte header (CRC of the rest of the section, section id, section length,
section version, protocol version, 6 reserved bytes, which hold "SCPECG" in section 0). Section 0 points
to the others (1-based byte positions). This module reads, one function per section:

  0 pointers, 1 patient header tags, 2 Huffman tables, 3 lead definitions, 4 QRS locations,
  5 reference beat, 6 rhythm data, 7 global measurements, 8 interpretive statements (text),
  10 per-lead measurements, 11 universal statements.

Sample decoding (in this order): Huffman (the default table of Annex C, or the file's own tables with
table-mode switches), first or second differences, bimodal compression (the samples outside the
protected QRS zones stored decimated; they are put back by linear interpolation between the stored
samples, since the standard leaves the reconstruction filter to the reader), then reference-beat
subtraction (the reference beat of section 5 added back into each subtraction zone of section 4).
Anything else the standard allows and this reader does not do is refused with a message naming it.

Every CRC (of the record and of each section) is checked, and every length and pointer is checked
against the bytes that are really there, before a sample is decoded. Pure Python and numpy: no Django.
"""

from __future__ import annotations

import binascii
import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from annotations.lib.formats.base import FormatError, ReadOptions, Record, RecordError, check_shape

name = "scp"
IDENTIFICATION = b"SCPECG"
HEADER = 16
FIRST_SECTION = 7  # 1-based byte position of section 0 (after the CRC and the record length)
DEFAULT_TABLE_MARK = 19999  # section 2: "the default Huffman table of Annex C is used"
NOT_COMPUTED = 29999  # section 7 / 10: value not computed
REQUIRED = (0, 1, 6)  # the sections a rhythm record cannot do without

# Section 3 lead identifiers (Annex A, table 31): the ones the import recognises by name.
LEAD_NAMES = {
    1: "I",
    2: "II",
    3: "V1",
    4: "V2",
    5: "V3",
    6: "V4",
    7: "V5",
    8: "V6",
    9: "V7",
    10: "V2R",
    11: "V3R",
    12: "V4R",
    13: "V5R",
    14: "V6R",
    15: "V7R",
    16: "X",
    17: "Y",
    18: "Z",
    19: "CC5",
    20: "CM5",
    21: "LA",
    22: "RA",
    23: "LL",
    61: "III",
    62: "aVR",
    63: "aVL",
    64: "aVF",
    65: "-aVR",
    66: "V8",
    67: "V9",
    68: "V8R",
    69: "V9R",
}

# Section 1 tags that identify a person, a place or a device (dropped unless IDENTIFIERS_POLICY=keep).
IDENTIFYING_TAGS = {
    0: "last_name",
    1: "first_name",
    2: "patient_id",
    3: "second_last_name",
    5: "date_of_birth",
    13: "diagnosis_or_referral",
    14: "acquiring_device",
    15: "analysing_device",
    16: "acquiring_institution",
    17: "analysing_institution",
    18: "acquiring_department",
    19: "analysing_department",
    20: "referring_physician",
    21: "confirming_physician",
    22: "technician",
    23: "room",
    30: "free_text",
    31: "ecg_sequence_number",
    35: "medical_history",
}
_TEXT_TAGS = {0, 1, 2, 3, 13, 16, 17, 18, 19, 20, 21, 22, 23, 30, 31, 35}


def crc_ccitt(data: bytes) -> int:
    """CRC-CCITT as SCP-ECG specifies it: polynomial x^16 + x^12 + x^5 + 1, initial value 0xFFFF."""
    return binascii.crc_hqx(data, 0xFFFF)


def _text(raw: bytes) -> str:
    """Text fields are NUL-terminated; carts write ASCII, Latin-1 (Swedish statements) or UTF-8."""
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


class _Cursor:
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

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def u8(self, what: str) -> int:
        return self.unpack("B", what)[0]

    def u16(self, what: str) -> int:
        return self.unpack("H", what)[0]

    def i16(self, what: str) -> int:
        return self.unpack("h", what)[0]

    def u32(self, what: str) -> int:
        return self.unpack("I", what)[0]

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


# --- The record and section 0 ---------------------------------------------------------------------------


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
    cursor = _Cursor(zero.body, 0)
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


# --- Section 1: patient header ---------------------------------------------------------------------------


@dataclass
class PatientHeader:
    age: int | None = None
    sex: str = "U"
    acquired_at: datetime | None = None
    identifiers: dict[str, str] = field(default_factory=dict)


def section1_header(section: Section) -> PatientHeader:
    """Tag (1 byte), length (2 bytes), value; tag 255 ends the list."""
    cursor, header = _Cursor(section.body, 1), PatientHeader()
    date = time = None
    while cursor.left:
        tag = cursor.u8("a tag")
        if tag == 255:
            break
        size = cursor.u16(f"the length of tag {tag}")
        value = cursor.take(size, f"tag {tag}")
        if tag in IDENTIFYING_TAGS:
            text = _date_text(value) if tag == 5 else _text(value) if tag in _TEXT_TAGS else value.hex()
            if text:
                header.identifiers[IDENTIFYING_TAGS[tag]] = text
        elif tag == 4 and size >= 3:
            age, unit = struct.unpack_from("<HB", value)
            header.age = age if unit == 1 and 0 < age <= 130 else 0 if unit in (2, 3, 4, 5) else None
        elif tag == 8 and size >= 1:
            header.sex = {1: "M", 2: "F"}.get(value[0], "U")
        elif tag == 25 and size >= 4:
            date = struct.unpack_from("<HBB", value)
        elif tag == 26 and size >= 3:
            time = struct.unpack_from("<BBB", value)
    if date:
        try:
            header.acquired_at = datetime(*date, *(time or (0, 0, 0)))
        except ValueError:
            header.acquired_at = None
    return header


def _date_text(value: bytes) -> str:
    if len(value) < 4:
        return ""
    year, month, day = struct.unpack_from("<HBB", value)
    return f"{year:04d}-{month:02d}-{day:02d}" if year else ""


# --- Section 2: Huffman tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    prefix_bits: int
    total_bits: int
    mode: int  # 1: a value; 0: switch to the table numbered `value`
    value: int
    code: int  # the prefix, first bit as the most significant one


HuffmanTables = list[list[Code]]


def _code(prefix_bits: int, total_bits: int, value: int, natural: int) -> Code:
    return Code(prefix_bits, total_bits, 1, value, natural)


# Annex C: 0, +-1 ... +-8 with prefixes of 1, 3, 4, ... 10 bits, then an 8-bit and a 16-bit escape.
DEFAULT_TABLE: list[Code] = [_code(1, 1, 0, 0b0)] + [
    _code(bits, bits, sign * magnitude, ((1 << (bits - 2)) - 1) << 2 | (0 if sign > 0 else 1))
    for magnitude, bits in zip(range(1, 9), range(3, 11), strict=True)
    for sign in (1, -1)
]
DEFAULT_TABLE += [_code(10, 18, 0, 0b1111111110), _code(10, 26, 0, 0b1111111111)]


def _reverse_bits(value: int, width: int) -> int:
    return int(f"{value:0{width}b}"[::-1], 2) if width else 0


def section2_huffman(section: Section | None) -> HuffmanTables | None:
    """None: no section 2, samples are plain 16-bit integers; else the tables (19999: Annex C's).

    Each code structure is 9 bytes: prefix bits, total bits, mode switch, base value (int16), base code
    (uint32, stored with its first bit in the least significant position).
    """
    if section is None:
        return None
    cursor = _Cursor(section.body, 2)
    count = cursor.u16("the number of Huffman tables")
    if count == DEFAULT_TABLE_MARK:
        return [DEFAULT_TABLE]
    if count == 0:
        raise FormatError("SCP-ECG section 2: declares 0 Huffman tables")
    tables: HuffmanTables = []
    for number in range(1, count + 1):
        size = cursor.u16(f"the size of Huffman table {number}")
        table = []
        for _ in range(size):
            prefix, total, mode, value, stored = cursor.unpack("BBBhI", f"a code of Huffman table {number}")
            if not 1 <= prefix <= 32 or total < prefix or total - prefix > 32 or mode not in (0, 1):
                raise FormatError(
                    f"SCP-ECG section 2: Huffman table {number} has a code of {prefix}/{total} bits, "
                    f"mode {mode}, which the standard does not allow"
                )
            table.append(Code(prefix, total, mode, value, _reverse_bits(stored, prefix)))
        tables.append(table)
    for number, table in enumerate(tables, 1):
        for code in table:
            if code.mode == 0 and not 1 <= code.value <= len(tables):
                raise FormatError(
                    f"SCP-ECG section 2: Huffman table {number} switches to table {code.value}, "
                    f"which does not exist"
                )
    return tables


class _Lookup:
    """A prefix-code lookup table over the next `width` bits."""

    def __init__(self, table: list[Code], number: int) -> None:
        self.width = max(code.prefix_bits for code in table)
        if self.width > 20:
            raise FormatError(f"SCP-ECG section 2: Huffman table {number} has prefixes over 20 bits")
        self.entries: list[Code | None] = [None] * (1 << self.width)
        for code in table:
            shift = self.width - code.prefix_bits
            first = code.code << shift
            for slot in range(first, first + (1 << shift)):
                if self.entries[slot] is not None:
                    raise FormatError(f"SCP-ECG section 2: Huffman table {number} is not a prefix code")
                self.entries[slot] = code


class _Bits:
    """Reads n bits (most significant first) at any bit position of a byte string."""

    def __init__(self, data: bytes) -> None:
        padded = np.frombuffer(bytes(data) + b"\x00" * 8, dtype=np.uint8)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 8)[: len(data)]
        self.words = (
            (windows.astype(np.uint64) << np.arange(56, -8, -8, dtype=np.uint64)).sum(axis=1).tolist()
        )
        self.size = len(data) * 8

    def read(self, pos: int, n: int) -> int:
        return ((self.words[pos >> 3] << (pos & 7)) & 0xFFFFFFFFFFFFFFFF) >> (64 - n)


def huffman_decode(data: bytes, tables: HuffmanTables, count: int, where: str) -> np.ndarray:
    """`count` values from one lead's bit stream; starts in table 1, follows the mode switches."""
    lookups = [_Lookup(table, number) for number, table in enumerate(tables, 1)]
    bits, out, pos = _Bits(data), [], 0
    lookup = lookups[0]
    while len(out) < count:
        if pos >= bits.size:
            raise FormatError(f"SCP-ECG {where}: the Huffman data end after {len(out)} of {count} samples")
        code = lookup.entries[bits.read(pos, lookup.width)]
        if code is None:
            raise FormatError(f"SCP-ECG {where}: bits at {pos} match no Huffman code")
        extra = code.total_bits - code.prefix_bits
        if pos + code.total_bits > bits.size:
            raise FormatError(f"SCP-ECG {where}: the Huffman data end inside a code")
        if code.mode == 0:
            lookup = lookups[code.value - 1]
            pos += code.prefix_bits
            continue
        if extra:
            raw = bits.read(pos + code.prefix_bits, extra)
            out.append(raw - (1 << extra) if raw >> (extra - 1) else raw)
        else:
            out.append(code.value)
        pos += code.total_bits
    return np.asarray(out, dtype=np.int64)


def undo_differences(values: np.ndarray, order: int, where: str) -> np.ndarray:
    """Difference order 0 (none), 1 (x[n] - x[n-1]) or 2 (x[n] - 2x[n-1] + x[n-2]); first samples as is."""
    if order == 0:
        return values
    if order == 1:
        return np.cumsum(values)
    if order == 2:
        out = values.copy()
        for n in range(2, len(out)):
            out[n] = values[n] + 2 * out[n - 1] - out[n - 2]
        return out
    raise FormatError(f"SCP-ECG {where}: difference data code {order} is not 0, 1 or 2")


# --- Section 3: leads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leads:
    names: list[str]
    start: int  # 1-based first sample, shared by every lead
    end: int  # 1-based last sample (inclusive)
    reference_beat_subtracted: bool

    @property
    def samples(self) -> int:
        return self.end - self.start + 1


def section3_leads(section: Section | None) -> Leads:
    """Number of leads, flags (bit 0: reference beat subtracted), then id and sample span per lead."""
    if section is None:
        raise FormatError("SCP-ECG: section 3 (lead definitions) is missing")
    cursor = _Cursor(section.body, 3)
    count, flags = cursor.u8("the number of leads"), cursor.u8("the lead flags")
    if count == 0:
        raise FormatError("SCP-ECG section 3: declares no leads")
    spans, names = set(), []
    for _ in range(count):
        start, end, lead_id = cursor.unpack("IIB", "a lead definition")
        if not 1 <= start <= end:
            raise FormatError(f"SCP-ECG section 3: lead {lead_id} spans samples {start} to {end}")
        spans.add((start, end))
        names.append(LEAD_NAMES.get(lead_id, f"SCP lead {lead_id}"))
    if len(spans) != 1:
        raise FormatError(
            "SCP-ECG section 3: leads recorded over different sample spans (not simultaneously) are not "
            "supported"
        )
    if len(set(names)) != len(names):
        raise FormatError(f"SCP-ECG section 3: a lead is defined twice ({', '.join(names)})")
    ((start, end),) = spans
    return Leads(names, start, end, bool(flags & 1))


# --- Section 4: QRS locations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Beat:
    type: int
    subtraction_start: int  # SB, 1-based
    fiducial: int  # fc
    subtraction_end: int  # SE
    protected_start: int | None = None  # QB (bimodal compression)
    protected_end: int | None = None  # QE


@dataclass(frozen=True)
class QrsLocations:
    reference_length_ms: int
    reference_fiducial: int  # fcM, 1-based sample of the reference beat
    beats: list[Beat]


def section4_qrs(section: Section | None) -> QrsLocations | None:
    """Reference beat length and fiducial, then per QRS: type, SB, fc, SE; then per QRS: QB, QE."""
    if section is None:
        return None
    cursor = _Cursor(section.body, 4)
    length_ms, fiducial, count = cursor.unpack("HHH", "the QRS location header")
    zones = [cursor.unpack("HIII", f"QRS {n + 1}'s subtraction zone") for n in range(count)]
    protected = (
        [cursor.unpack("II", f"QRS {n + 1}'s protected zone") for n in range(count)] if cursor.left else []
    )
    beats = [
        Beat(kind, sb, fc, se, *(protected[n] if protected else (None, None)))
        for n, (kind, sb, fc, se) in enumerate(zones)
    ]
    return QrsLocations(length_ms, fiducial, beats)


# --- Sections 5 and 6: reference beat and rhythm ---------------------------------------------------------


@dataclass(frozen=True)
class Encoded:
    multiplier_nv: int
    interval_us: int
    differences: int
    bimodal: bool
    per_lead: list[bytes]


def _encoded(section: Section, n_leads: int, *, rhythm: bool) -> Encoded:
    cursor = _Cursor(section.body, section.number)
    multiplier, interval, differences, flag = cursor.unpack("HHBB", "the data header")
    if multiplier == 0:
        raise FormatError(f"SCP-ECG section {section.number}: the amplitude multiplier is 0 nV")
    if interval == 0:
        raise FormatError(f"SCP-ECG section {section.number}: the sample interval is 0 µs")
    if differences not in (0, 1, 2):
        raise FormatError(f"SCP-ECG section {section.number}: difference data code {differences} is unknown")
    sizes = [cursor.u16(f"the byte count of lead {n + 1}") for n in range(n_leads)]
    per_lead = [cursor.take(size, f"lead {n + 1}'s data ({size} bytes)") for n, size in enumerate(sizes)]
    bimodal = rhythm and flag == 1
    if rhythm and flag not in (0, 1):
        raise FormatError(f"SCP-ECG section 6: bimodal compression flag {flag} is neither 0 nor 1")
    return Encoded(multiplier, interval, differences, bimodal, per_lead)


def _decode_lead(raw: bytes, tables: HuffmanTables | None, count: int, order: int, where: str) -> np.ndarray:
    if tables is None:
        if len(raw) < 2 * count:
            raise FormatError(f"SCP-ECG {where}: {len(raw)} bytes for {count} 16-bit samples")
        values = np.frombuffer(raw[: 2 * count], dtype="<i2").astype(np.int64)
    else:
        values = huffman_decode(raw, tables, count, where)
    return undo_differences(values, order, where)


def section5_reference_beat(
    section: Section | None, leads: Leads, qrs: QrsLocations | None, tables: HuffmanTables | None
) -> tuple[Encoded, np.ndarray] | None:
    """The reference beat, one row per lead, as many samples as section 4's length at its own rate."""
    if section is None:
        return None
    encoded = _encoded(section, len(leads.names), rhythm=False)
    if qrs is None:
        raise FormatError("SCP-ECG section 5: a reference beat without section 4 (QRS locations)")
    count = round(qrs.reference_length_ms * 1000 / encoded.interval_us)
    rows = [
        _decode_lead(raw, tables, count, encoded.differences, f"section 5 lead {leads.names[n]}")
        for n, raw in enumerate(encoded.per_lead)
    ]
    return encoded, np.stack(rows)


def _protected_mask(qrs: QrsLocations | None, leads: Leads) -> np.ndarray:
    mask = np.zeros(leads.samples, dtype=bool)
    for number, beat in enumerate(qrs.beats if qrs else [], 1):
        if beat.protected_start is None:
            raise FormatError("SCP-ECG section 4: bimodal compression needs protected zones (QB, QE) per QRS")
        first, last = beat.protected_start - leads.start, beat.protected_end - leads.start
        if not 0 <= first <= last < leads.samples:
            raise FormatError(f"SCP-ECG section 4: QRS {number}'s protected zone lies outside the rhythm")
        mask[first : last + 1] = True
    return mask


def _stored_positions(mask: np.ndarray, factor: int) -> np.ndarray:
    """Sample positions a bimodal encoder keeps: every one inside protected zones, every `factor`-th of
    each unprotected run (counted from the run's start) outside them."""
    positions, n = [], 0
    while n < len(mask):
        if mask[n]:
            positions.append(n)
            n += 1
            continue
        run_end = n
        while run_end < len(mask) and not mask[run_end]:
            run_end += 1
        positions.extend(range(n, run_end, factor))
        n = run_end
    return np.asarray(positions, dtype=np.int64)


def section6_rhythm(
    section: Section,
    leads: Leads,
    qrs: QrsLocations | None,
    reference: tuple[Encoded, np.ndarray] | None,
    tables: HuffmanTables | None,
) -> tuple[np.ndarray, float, float]:
    """(samples as integers, leads x samples; microvolts per step; sampling rate in Hz)."""
    encoded = _encoded(section, len(leads.names), rhythm=True)
    interval = encoded.interval_us
    positions = None
    if encoded.bimodal:
        if reference is None:
            raise FormatError("SCP-ECG section 6: bimodal compression without a reference beat (section 5)")
        full = reference[0].interval_us
        if encoded.interval_us % full:
            raise FormatError(
                f"SCP-ECG section 6: bimodal compression with a decimated interval of "
                f"{encoded.interval_us} µs that is no multiple of the full-rate {full} µs is not implemented"
            )
        positions = _stored_positions(_protected_mask(qrs, leads), encoded.interval_us // full)
        interval = full
    count = leads.samples if positions is None else len(positions)
    rows = []
    for n, raw in enumerate(encoded.per_lead):
        values = _decode_lead(raw, tables, count, encoded.differences, f"section 6 lead {leads.names[n]}")
        if positions is not None:
            values = np.rint(np.interp(np.arange(leads.samples), positions, values)).astype(np.int64)
        rows.append(values)
    signals = np.stack(rows)
    if leads.reference_beat_subtracted:
        signals = _add_reference_beat(signals, encoded, leads, qrs, reference)
    return signals, encoded.multiplier_nv / 1000, 1e6 / interval


def _add_reference_beat(
    signals: np.ndarray,
    encoded: Encoded,
    leads: Leads,
    qrs: QrsLocations | None,
    reference: tuple[Encoded, np.ndarray] | None,
) -> np.ndarray:
    """Reference-beat subtraction undone: beat type 0's reference added in each type-0 subtraction zone."""
    if reference is None or qrs is None:
        raise FormatError("SCP-ECG section 3: reference beat subtraction without sections 4 and 5")
    ref_encoded, beat = reference
    if ref_encoded.multiplier_nv != encoded.multiplier_nv:
        raise FormatError(
            "SCP-ECG: reference beat subtraction with different amplitude multipliers in sections 5 and 6 "
            "is not implemented"
        )
    if not encoded.bimodal and ref_encoded.interval_us != encoded.interval_us:
        raise FormatError(
            "SCP-ECG: reference beat subtraction with different sample intervals in sections 5 and 6 is not "
            "implemented"
        )
    out = signals.copy()
    for number, item in enumerate(qrs.beats, 1):
        if item.type != 0:
            continue
        first, last = item.subtraction_start - leads.start, item.subtraction_end - leads.start
        offset = qrs.reference_fiducial - item.fiducial  # reference index = rhythm index + offset
        if not 0 <= first <= last < leads.samples or first + offset < 0 or last + offset >= beat.shape[1]:
            raise FormatError(
                f"SCP-ECG section 4: QRS {number}'s subtraction zone does not fit the rhythm or the "
                "reference beat"
            )
        out[:, first : last + 1] += beat[:, first + offset : last + offset + 1]
    return out


# --- Section 7: global measurements ----------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalMeasurements:
    rr_ms: int | None
    pp_ms: int | None
    # per reference beat type: P onset/offset, QRS onset/offset, T offset (ms), P/QRS/T axes (degrees)
    beats: list[dict[str, int | None]]


_BEAT_FIELDS = ("p_onset", "p_offset", "qrs_onset", "qrs_offset", "t_offset", "p_axis", "qrs_axis", "t_axis")


def section7_measurements(section: Section | None) -> GlobalMeasurements | None:
    if section is None:
        return None
    cursor = _Cursor(section.body, 7)
    n_beats, _spikes = cursor.u8("the number of measurement blocks"), cursor.u8("the number of spikes")
    rr, pp = cursor.unpack("HH", "the RR and PP intervals")
    beats = []
    for n in range(n_beats):
        values = cursor.unpack("HHHHHhhh", f"measurement block {n + 1}")
        beats.append(
            {
                key: (None if value in (NOT_COMPUTED, -(65536 - NOT_COMPUTED)) else value)
                for key, value in zip(_BEAT_FIELDS, values, strict=True)
            }
        )
    return GlobalMeasurements(None if rr == NOT_COMPUTED else rr, None if pp == NOT_COMPUTED else pp, beats)


# --- Sections 8 and 11: statements -----------------------------------------------------------------------


def _statement_header(cursor: _Cursor) -> int:
    cursor.unpack("BHBBBBB", "the statement header (confirmation, date, time)")
    return cursor.u8("the number of statements")


def section8_statements(section: Section | None) -> list[str]:
    """Confirmation flag, date, time, count; then per statement: sequence, length, NUL-ended text."""
    if section is None:
        return []
    cursor = _Cursor(section.body, 8)
    texts = []
    for n in range(_statement_header(cursor)):
        cursor.u8(f"statement {n + 1}'s sequence number")
        size = cursor.u16(f"statement {n + 1}'s length")
        texts.append(_text(cursor.take(size, f"statement {n + 1}")))
    return [text for text in texts if text]


def section11_statements(section: Section | None) -> list[tuple[str, str]]:
    """Like section 8, each statement with a type byte: 1 coded (code, then text), 2 free text, 3 logic."""
    if section is None:
        return []
    cursor = _Cursor(section.body, 11)
    labels = []
    for n in range(_statement_header(cursor)):
        cursor.u8(f"statement {n + 1}'s sequence number")
        size = cursor.u16(f"statement {n + 1}'s length")
        body = cursor.take(size, f"statement {n + 1}")
        if not body:
            continue
        fields = [_text(part) for part in body[1:].split(b"\x00")]
        fields = [part for part in fields if part]
        if body[0] == 1 and fields:
            labels.append(("scp", fields[0]))
        elif body[0] == 2 and fields:
            labels.append(("statement", " ".join(fields)))
    return labels


# --- Section 10: per-lead measurements -------------------------------------------------------------------


def section10_lead_measurements(section: Section | None) -> dict[str, list[int]]:
    """Number of leads, 2 reserved bytes; per lead: id, byte count, then 16-bit measurements."""
    if section is None:
        return {}
    cursor = _Cursor(section.body, 10)
    count = cursor.u16("the number of leads")
    cursor.u16("the reserved field")
    out = {}
    for n in range(count):
        lead_id, size = cursor.unpack("HH", f"lead block {n + 1}'s header")
        raw = cursor.take(size, f"lead block {n + 1}")
        out[LEAD_NAMES.get(lead_id, f"SCP lead {lead_id}")] = list(
            np.frombuffer(raw[: size - size % 2], dtype="<i2").tolist()
        )
    return out


# --- The record as a whole ---------------------------------------------------------------------------------


@dataclass
class ScpRecord:
    signals: np.ndarray
    gain_uv: float
    sampling_rate: float
    lead_names: list[str]
    header: PatientHeader
    statements: list[str]
    universal: list[tuple[str, str]]
    measurements: GlobalMeasurements | None
    lead_measurements: dict[str, list[int]]


def parse(data: bytes, options: ReadOptions | None = None) -> ScpRecord:
    """Every section checked and decoded; raises FormatError naming the section at the first problem."""
    options = options or ReadOptions()
    check_record(data)
    sections = section0_pointers(data)
    # Section 9 (manufacturer interpretation) and sections 12 and above are CRC-checked above, not read.
    header = section1_header(sections[1])
    tables = section2_huffman(sections.get(2))
    leads = section3_leads(sections.get(3))
    check_shape("SCP-ECG section 3", len(leads.names), leads.samples, options.limits)
    qrs = section4_qrs(sections.get(4))
    # The reference beat is decoded only when the rhythm needs it (subtraction, or bimodal compression's
    # full-rate interval); a cart's reference beat is otherwise not imported.
    bimodal = len(sections[6].body) > 5 and sections[6].body[5] == 1
    needed = leads.reference_beat_subtracted or bimodal
    reference = section5_reference_beat(sections.get(5), leads, qrs, tables) if needed else None
    signals, gain, rate = section6_rhythm(sections[6], leads, qrs, reference, tables)
    return ScpRecord(
        signals=signals,
        gain_uv=gain,
        sampling_rate=rate,
        lead_names=leads.names,
        header=header,
        statements=section8_statements(sections.get(8)),
        universal=section11_statements(sections.get(11)),
        measurements=section7_measurements(sections.get(7)),
        lead_measurements=section10_lead_measurements(sections.get(10)),
    )


def count(path: Path, options: ReadOptions) -> int:
    return 1


def read(path: Path, options: ReadOptions) -> Iterator[Record | RecordError]:
    scp = parse(path.read_bytes(), options)
    # Whole lines: the import service judges each (names, dates...) before cutting it to a label code.
    labels = [("statement", text) for text in scp.statements] + list(scp.universal)
    yield Record(
        external_id=path.stem,
        signals=scp.signals,
        gain_uv=scp.gain_uv,
        sampling_rate=scp.sampling_rate,
        lead_names=scp.lead_names,
        age=scp.header.age,
        sex=scp.header.sex,
        acquired_at=scp.header.acquired_at,
        labels=list(dict.fromkeys(labels)),
        identifiers=scp.header.identifiers,
        source_record=path.name,
    )
