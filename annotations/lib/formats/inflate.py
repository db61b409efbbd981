"""Counting what a deflate stream inflates to without holding it: the bound a reader checks before it
hands a compressed file to a library that inflates it whole, in memory (pydicom for a deflated
dataset, scipy for MATLAB's compressed variables)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from annotations.lib.formats.base import FormatError, Limits

CHUNK = 1024 * 1024
MAT_HEADER_BYTES = 128
MAT_COMPRESSED = 15  # miCOMPRESSED


def inflated_bytes(path: Path, offset: int, length: int | None, limit: int, *, raw: bool) -> int:
    """Bytes the deflate stream at `offset` (`length` bytes, or to the end) inflates to, 1 MB at a time;
    counting stops once past `limit`. raw: headerless deflate (DICOM), else zlib (MATLAB)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    left = length
    total = 0
    with path.open("rb") as handle:
        handle.seek(offset)
        while total <= limit and (left is None or left > 0):
            chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            while chunk and total <= limit:
                total += len(inflater.decompress(chunk, CHUNK))
                chunk = inflater.unconsumed_tail
    return total


def refuse_over(what: str, inflated: int, limits: Limits) -> None:
    if inflated > limits.max_inflated_bytes:
        raise FormatError(
            f"{what} inflate to more than {limits.max_inflated_bytes // (1024 * 1024)} MB "
            "(IMPORT_MAX_INFLATED_MB); refused before reading"
        )


def check_mat_v5(path: Path, limits: Limits) -> None:
    """Refuse a MATLAB v5 file whose compressed variables inflate past the limit. Walks the top-level
    data elements (an 8-byte tag: type and size, then the data padded to 8 bytes) and counts each
    miCOMPRESSED one; other files (v4, v7.3) are left to the reader, which refuses what it cannot read."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(MAT_HEADER_BYTES)
        if len(header) < MAT_HEADER_BYTES or header[126:128] not in (b"IM", b"MI"):
            return
        order = "<" if header[126:128] == b"IM" else ">"
        offset, total = MAT_HEADER_BYTES, 0
        while offset + 8 <= size:
            handle.seek(offset)
            kind, length = struct.unpack(order + "II", handle.read(8))
            if kind >> 16:  # a small data element: tag and data share 8 bytes
                offset += 8
                continue
            if kind == MAT_COMPRESSED:
                try:
                    total += inflated_bytes(
                        path, offset + 8, length, limits.max_inflated_bytes - total, raw=False
                    )
                except zlib.error as error:
                    raise FormatError(f"MATLAB compressed variable cannot be inflated ({error})") from None
                refuse_over("MATLAB compressed variables", total, limits)
            offset += 8 + length + (-length % 8 if kind != MAT_COMPRESSED else 0)
