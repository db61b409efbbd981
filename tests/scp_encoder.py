"""An SCP-ECG writer for tests, written from the standard independently of the reader, so that the cases
the real files do not cover (second differences, custom Huffman tables with table switches, bimodal
compression, reference-beat subtraction, corrupted records) can be built and read back exactly.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field

import numpy as np

LEAD_IDS = {"I": 1, "II": 2, "V1": 3, "V2": 4, "V3": 5, "V4": 6, "V5": 7, "V6": 8, "III": 61}


def crc(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


# --- Huffman ------------------------------------------------------------------------------------------------
# A code: (prefix bits, total bits, mode, base value, prefix as a string of '0'/'1', first bit first).
Code = tuple[int, int, int, int, str]


def default_table() -> list[Code]:
    """Annex C, written out: 0 -> '0'; +-n (n = 1..8) -> n+1 ones-prefixed codes; 8- and 16-bit escapes."""
    codes: list[Code] = [(1, 1, 1, 0, "0")]
    for n in range(1, 9):
        stem = "1" * n + "0"
        codes += [(n + 2, n + 2, 1, n, stem + "0"), (n + 2, n + 2, 1, -n, stem + "1")]
    codes += [(10, 18, 1, 0, "1" * 9 + "0"), (10, 26, 1, 0, "1" * 10)]
    return codes


def differences(samples: np.ndarray, order: int) -> np.ndarray:
    x = np.asarray(samples, dtype=np.int64)
    if order == 0:
        return x
    d = x.copy()
    if order == 1:
        d[1:] = x[1:] - x[:-1]
    else:
        d[2:] = x[2:] - 2 * x[1:-1] + x[:-2]
    return d


def _value_bits(value: int, width: int) -> str:
    return format(value & ((1 << width) - 1), f"0{width}b")


def huffman_encode(values, tables: list[list[Code]], switches: dict[int, int] | None = None) -> bytes:
    """Values as bits, MSB first, starting in table 1; `switches` {value index: table number} emits a
    mode-0 code before that value to change tables."""
    bits, table = [], tables[0]
    for index, value in enumerate(int(v) for v in values):
        if switches and index in switches:
            target = switches[index]
            [switch] = [c for c in table if c[2] == 0 and c[3] == target]
            bits.append(switch[4])
            table = tables[target - 1]
        exact = [c for c in table if c[2] == 1 and c[0] == c[1] and c[3] == value]
        if exact:
            bits.append(exact[0][4])
            continue
        for prefix, total, mode, _, code in sorted((c for c in table if c[1] > c[0]), key=lambda c: c[1]):
            width = total - prefix
            if mode == 1 and -(1 << (width - 1)) <= value < (1 << (width - 1)):
                bits.append(code + _value_bits(value, width))
                break
        else:
            raise ValueError(f"{value} cannot be coded by this table")
    stream = "".join(bits)
    stream += "0" * (-len(stream) % 8)
    return int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""


def section2_body(tables: list[list[Code]] | None) -> bytes:
    """None: the default table (19999); otherwise each table with its codes, base code bit-reversed."""
    if tables is None:
        return struct.pack("<H", 19999)
    out = struct.pack("<H", len(tables))
    for table in tables:
        out += struct.pack("<H", len(table))
        for prefix, total, mode, value, code in table:
            out += struct.pack("<BBBhI", prefix, total, mode, value, int(code[::-1], 2))
    return out


# --- Sections -----------------------------------------------------------------------------------------------
def tag(number: int, value: bytes) -> bytes:
    return struct.pack("<BH", number, len(value)) + value


def section1_body(
    *, last_name="Doe", patient_id="P-0042", age=57, sex=2, date=(2024, 5, 17), time=(9, 30, 5)
) -> bytes:
    return (
        tag(0, last_name.encode() + b"\x00")
        + tag(2, patient_id.encode() + b"\x00")
        + tag(4, struct.pack("<HB", age, 1))
        + tag(5, struct.pack("<HBB", 1967, 1, 2))
        + tag(8, bytes([sex]))
        + tag(25, struct.pack("<HBB", *date))
        + tag(26, struct.pack("<BBB", *time))
        + tag(21, b"Dr Confirming Person\x00")
        + struct.pack("<BH", 255, 0)
    )


def section3_body(leads: list[str], samples: int, *, subtracted: bool = False) -> bytes:
    flags = (1 if subtracted else 0) | 4 | (len(leads) << 3)
    out = struct.pack("<BB", len(leads), flags & 0xFF)
    for name in leads:
        out += struct.pack("<IIB", 1, samples, LEAD_IDS[name])
    return out


@dataclass
class Qrs:
    fiducial: int  # 1-based
    start: int  # SB
    end: int  # SE
    protected: tuple[int, int] | None = None  # QB, QE
    kind: int = 0


def section4_body(reference_ms: int, reference_fiducial: int, beats: list[Qrs]) -> bytes:
    out = struct.pack("<HHH", reference_ms, reference_fiducial, len(beats))
    for beat in beats:
        out += struct.pack("<HIII", beat.kind, beat.start, beat.fiducial, beat.end)
    if any(beat.protected for beat in beats):
        for beat in beats:
            out += struct.pack("<II", *beat.protected)
    return out


def data_body(
    rows, *, multiplier_nv: int, interval_us: int, order: int, tables, flag: int = 0, switches=None
) -> bytes:
    """Sections 5 and 6: multiplier, interval, difference order, flag (bimodal in 6), lengths, data."""
    encoded = []
    for row in rows:
        d = differences(row, order)
        if tables == "raw":
            encoded.append(np.asarray(d, dtype="<i2").tobytes())
        else:
            encoded.append(huffman_encode(d, tables or [default_table()], switches))
    head = struct.pack("<HHBB", multiplier_nv, interval_us, order, flag)
    return head + b"".join(struct.pack("<H", len(e)) for e in encoded) + b"".join(encoded)


def statements_body(texts: list[str], *, universal: bool = False) -> bytes:
    out = struct.pack("<BHBBBBB", 0, 2024, 5, 17, 9, 30, 5) + bytes([len(texts)])
    for number, text in enumerate(texts, 1):
        payload = (b"\x02" if universal else b"") + text.encode("latin-1") + b"\x00"
        out += struct.pack("<BH", number, len(payload)) + payload
    return out


@dataclass
class Built:
    data: bytes
    starts: dict[int, int] = field(default_factory=dict)  # section -> 0-based offset in data


def build(bodies: dict[int, bytes], *, protocol: int = 20) -> Built:
    """A whole record: section 0 pointing at 1..11 (absent ones as zero-length pointers), CRCs computed."""
    numbers = sorted(set(range(12)) | set(bodies))
    pointer_count = len(numbers)
    zero_length = 16 + 10 * pointer_count
    position = 6 + zero_length  # 0-based start of section 1
    layout = {}
    chunks = []
    for number in numbers:
        if number == 0 or number not in bodies:
            continue
        section = _section(number, bodies[number], protocol)
        layout[number] = (len(section), position + 1)
        chunks.append(section)
        position += len(section)
    pointers = b"".join(
        struct.pack("<HII", n, *(layout.get(n, (0, 0)) if n else (zero_length, 7))) for n in numbers
    )
    zero = _section(0, pointers, protocol, ident=b"SCPECG")
    body = zero + b"".join(chunks)
    record = struct.pack("<I", 6 + len(body)) + body
    starts = {0: 6, **{n: index - 1 for n, (_, index) in layout.items()}}
    return Built(struct.pack("<H", crc(record)) + record, starts)


def _section(number: int, body: bytes, protocol: int, ident: bytes = b"\x00" * 6) -> bytes:
    rest = struct.pack("<HIBB", number, 16 + len(body), 20, protocol) + ident + body
    return struct.pack("<H", crc(rest)) + rest


def recrc(data: bytes, section_start: int | None = None) -> bytes:
    """CRCs made right again after an edit: one section's (0-based start), then the record's."""
    out = bytearray(data)
    if section_start is not None:
        length = struct.unpack_from("<I", out, section_start + 4)[0]
        struct.pack_into(
            "<H", out, section_start, crc(bytes(out[section_start + 2 : section_start + length]))
        )
    struct.pack_into("<H", out, 0, crc(bytes(out[2:])))
    return bytes(out)
