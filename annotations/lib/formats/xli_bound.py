"""How many bytes Philips XLI data would decode to, counted without decoding it.

`sierraecg` decodes XLI (10-bit LZW per lead, then second differences) byte by byte in Python with no
bound: LZW codes can each stand for up to ~1,000 bytes, so a 159 kB file asked for 780 MB and 105 s of a
worker before failing. This module walks the same codes and only adds up the lengths of the strings
they stand for (one integer per dictionary entry, never the strings), so the file's declared size can be
enforced before `sierraecg` is called. It follows sierraecg's decoder rule for rule (code width, reserved
top code, dictionary growth, what ends a lead), since a bound on another reading would bound nothing.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

CODE_BITS = 10
MAX_CODE = (1 << CODE_BITS) - 2  # the decoder's last usable code; 1023 and short tails end a lead
FIRST_FREE_CODE = 256
HEADER_BYTES = 8


class XliBoundError(ValueError):
    """The data would decode to more than it declares, or is not XLI the decoder can read."""


def _codes(chunk: bytes) -> np.ndarray:
    """The chunk's 10-bit codes, most significant bit first, as the decoder reads them."""
    usable = len(chunk) * 8 // CODE_BITS
    bits = np.unpackbits(np.frombuffer(chunk, dtype=np.uint8))[: usable * CODE_BITS]
    weights = 1 << np.arange(CODE_BITS - 1, -1, -1)
    return bits.reshape(usable, CODE_BITS).astype(np.int64) @ weights


def lead_decoded_bytes(chunk: bytes, limit: int) -> int:
    """Bytes one lead's LZW chunk decodes to; counting stops as soon as it passes `limit`."""
    lengths: dict[int, int] = {}
    previous = 0
    next_code = FIRST_FREE_CODE
    total = 0
    for code in _codes(chunk).tolist():
        if code > MAX_CODE:
            break
        if code < FIRST_FREE_CODE:
            length = 1
        elif code in lengths:
            length = lengths[code]
        elif previous == 0:
            raise XliBoundError("its first code refers to a string not yet defined")
        else:
            length = lengths[code] = previous + 1
        if previous and next_code <= MAX_CODE:
            lengths[next_code] = previous + 1
            next_code += 1
        previous = length
        total += length
        if total > limit:
            break
    return total


def xli_chunks(data: bytes) -> list[bytes]:
    """The per-lead chunks: an 8-byte header (little-endian size, then the first sample), then the data."""
    chunks: list[bytes] = []
    offset = 0
    while offset < len(data):
        header = data[offset : offset + HEADER_BYTES]
        size = int.from_bytes(header[0:4], byteorder="little", signed=True)
        if len(header) < HEADER_BYTES or size < 0 or offset + HEADER_BYTES + size > len(data):
            raise XliBoundError(f"lead {len(chunks) + 1}: its header declares {size} bytes the data lacks")
        chunks.append(data[offset + HEADER_BYTES : offset + HEADER_BYTES + size])
        offset += HEADER_BYTES + size
    return chunks


def check_xli(text: str, leads: int, samples: int, max_chunks: int) -> None:
    """Refuse base64 XLI text holding fewer than `leads` chunks or more than `max_chunks`, or a chunk that
    would decode to more than `samples` 16-bit samples. Carts store more chunks than leads (16 for 12:
    the decoder decodes them all and keeps the first `leads`), so every chunk is bounded. Costs one pass
    over the codes, never the decoded bytes."""
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise XliBoundError("the waveform data is not valid base64") from None
    chunks = xli_chunks(data)
    if not leads <= len(chunks) <= max_chunks:
        raise XliBoundError(
            f"the waveform data holds {len(chunks)} leads; {leads} are declared and at most "
            f"{max_chunks} are read"
        )
    limit = 2 * samples + 1  # the decoder pads an odd byte count with one zero byte
    for number, chunk in enumerate(chunks, start=1):
        decoded = lead_decoded_bytes(chunk, limit)
        if decoded > limit:
            raise XliBoundError(
                f"lead {number} would decode to more than {decoded:,} bytes, but {samples:,} samples "
                f"of 16 bits take {2 * samples:,}"
            )
