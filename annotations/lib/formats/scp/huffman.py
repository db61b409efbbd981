"""Section 2 (Huffman tables, the default one of Annex C), bit-stream decoding and differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotations.lib.formats.base import FormatError
from annotations.lib.formats.scp.container import Cursor, Section

DEFAULT_TABLE_MARK = 19999  # section 2: "the default Huffman table of Annex C is used"


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
    cursor = Cursor(section.body, 2)
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
        self.words: list[int] = (
            (windows.astype(np.uint64) << np.arange(56, -8, -8, dtype=np.uint64)).sum(axis=1).tolist()
        )
        self.size = len(data) * 8

    def read(self, pos: int, n: int) -> int:
        return ((self.words[pos >> 3] << (pos & 7)) & 0xFFFFFFFFFFFFFFFF) >> (64 - n)


def _check_capacity(data: bytes, tables: HuffmanTables, count: int, where: str) -> None:
    """Refuse a declared sample count the bit stream cannot hold even in its shortest codes, before any
    bit is decoded: the count is what the decoder allocates and loops over."""
    shortest = min((code.total_bits for table in tables for code in table if code.mode != 0), default=0)
    if shortest == 0:
        raise FormatError(f"SCP-ECG {where}: the Huffman tables hold no code for a value")
    if count * shortest > len(data) * 8:
        raise FormatError(
            f"SCP-ECG {where}: {count:,} samples are declared but {len(data):,} bytes of Huffman data "
            f"hold at most {len(data) * 8 // shortest:,}"
        )


def huffman_decode(data: bytes, tables: HuffmanTables, count: int, where: str) -> np.ndarray:
    """`count` values from one lead's bit stream; starts in table 1, follows the mode switches."""
    _check_capacity(data, tables, count, where)
    lookups = [_Lookup(table, number) for number, table in enumerate(tables, 1)]
    bits, out, pos, n = _Bits(data), np.empty(count, dtype=np.int64), 0, 0
    lookup = lookups[0]
    while n < count:
        if pos >= bits.size:
            raise FormatError(f"SCP-ECG {where}: the Huffman data end after {n} of {count} samples")
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
            out[n] = raw - (1 << extra) if raw >> (extra - 1) else raw
        else:
            out[n] = code.value
        n += 1
        pos += code.total_bits
    return out


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
