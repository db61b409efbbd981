"""Decompression bombs, one per format that decompresses: small files that declare or decode to far more
than they hold. Made at test time (and by bench/decoder_bombs.py) from the real samples in tests/data,
so each is a genuine file of its format apart from the one part that explodes."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1]
PHILIPS = DATA / "philips-xml" / "129DYPRG_v1.03_heartstartMRx.XML"
DICOM = DATA / "dicom" / "waveform_ecg.dcm"
MUSE = DATA / "muse-xml" / "musePHI_muse_ecg1_MAC55_simulator.xml"


def lzw_codes_bytes(codes: list[int], bits: int = 10) -> bytes:
    """Codes packed most significant bit first, as XLI's LZW stores them."""
    stream = np.array([(code >> (bits - 1 - i)) & 1 for code in codes for i in range(bits)], dtype=np.uint8)
    return np.packbits(stream).tobytes()


def xli_expanding_chunk(size: int) -> bytes:
    """An XLI lead of about `size` bytes whose LZW codes each stand for ever longer runs of zeros: the
    dictionary fills with runs of 2 to 768 bytes, then the longest is repeated. ~100 MB per 159 kB."""
    codes = [0, *range(256, 1023)]
    codes += [1022] * max(0, size * 8 // 10 - len(codes))
    data = lzw_codes_bytes(codes)
    header = len(data).to_bytes(4, "little") + b"\0\0" + b"\0\0"
    return header + data


def philips_bomb(path: Path, size: int = 159_000) -> Path:
    """A real Philips 1.03 file whose first lead is replaced by an expanding XLI chunk."""
    text = PHILIPS.read_text(encoding="utf-8")
    match = re.search(r"(<parsedwaveforms[^>]*>)(.*?)(</parsedwaveforms>)", text, re.S)
    assert match is not None
    data = base64.b64decode("".join(match.group(2).split()))
    offset = 8 + int.from_bytes(data[0:4], "little")  # the rest: leads 2..12 as the cart wrote them
    bomb = base64.b64encode(xli_expanding_chunk(size) + data[offset:]).decode()
    path.write_text(text[: match.start(2)] + bomb + text[match.end(2) :], encoding="utf-8")
    return path


def dicom_bomb(path: Path, inflated_mb: int = 300) -> Path:
    """The real DICOM ECG, deflated (transfer syntax 1.2.840.10008.1.2.1.99), followed in the deflated
    stream by a private OB element of `inflated_mb` MB of zeros: ~0.3 MB on disk."""
    import pydicom
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    dataset = pydicom.dcmread(DICOM)
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta, body = DicomBytesIO(), DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    body.is_little_endian, body.is_implicit_VR = True, False
    write_file_meta_info(meta, dataset.file_meta)
    write_dataset(body, dataset)
    size = inflated_mb * 1024 * 1024
    element = (0x7FE1).to_bytes(2, "little") + (0x1010).to_bytes(2, "little") + b"OB\0\0"
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    with path.open("wb") as handle:
        handle.write(b"\0" * 128 + b"DICM" + meta.getvalue())
        handle.write(deflater.compress(body.getvalue() + element + size.to_bytes(4, "little")))
        block = b"\0" * (1024 * 1024)
        for _ in range(inflated_mb):
            handle.write(deflater.compress(block))
        handle.write(deflater.flush())
    return path


def _mat_element(kind: int, data: bytes) -> bytes:
    return struct.pack("<II", kind, len(data)) + data + b"\0" * (-len(data) % 8)


def cpsc_bomb(path: Path, inflated_mb: int = 400) -> Path:
    """A MATLAB v5 file holding the CPSC-2018 struct ECG{data} with data 12 x N zeros in one compressed
    variable: ~0.4 MB on disk for `inflated_mb` MB, which loadmat would inflate whole."""
    samples = inflated_mb * 1024 * 1024 // (12 * 8)
    real = 12 * samples * 8
    field = (
        _mat_element(6, struct.pack("<II", 6, 0))  # array flags: mxDOUBLE_CLASS
        + _mat_element(5, struct.pack("<ii", 12, samples))
        + _mat_element(1, b"")  # no name: a struct field
    )
    field_header = struct.pack("<II", 14, len(field) + 8 + real) + field + struct.pack("<II", 9, real)
    names = b"data".ljust(32, b"\0")
    struct_body = (
        _mat_element(6, struct.pack("<II", 2, 0))  # mxSTRUCT_CLASS
        + _mat_element(5, struct.pack("<ii", 1, 1))
        + _mat_element(1, b"ECG")
        + struct.pack("<HHi", 5, 4, 32)  # small element: field name length 32
        + _mat_element(1, names)
    )
    matrix_header = struct.pack("<II", 14, len(struct_body) + len(field_header) + real) + struct_body
    header = b"MATLAB 5.0 MAT-file, made by tests/data/hostile/bombs.py".ljust(116, b" ")
    header += b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    compressor = zlib.compressobj(9)
    pieces = [compressor.compress(matrix_header + field_header)]
    block = b"\0" * (1024 * 1024)
    for _ in range(real // len(block)):
        pieces.append(compressor.compress(block))
    pieces.append(compressor.compress(b"\0" * (real % len(block))) + compressor.flush())
    stream = b"".join(pieces)
    path.write_bytes(header + struct.pack("<II", 15, len(stream)) + stream)
    return path


def scp_bomb(path: Path, declared: int = 1_500_000) -> Path:
    """An SCP-ECG record built to the standard whose section 3 declares `declared` samples per lead (within
    the import limit) while section 6 holds Huffman data for 2,500: the count the decoder would loop
    over and allocate comes from the header, not from the data."""
    from tests import scp_encoder as enc

    leads = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    signal = np.zeros((len(leads), 2500), dtype=np.int64)
    bodies = {
        1: enc.section1_body(),
        2: enc.section2_body(None),
        3: enc.section3_body(leads, declared),
        6: enc.data_body(signal, multiplier_nv=5000, interval_us=2000, order=1, tables=None),
    }
    path.write_bytes(enc.build(bodies).data)
    return path


def muse_bomb(path: Path, declared: int = 2_000_000_000) -> Path:
    """The real MUSE file with every lead declaring two billion samples (LeadSampleCountTotal): base64
    shrinks what it holds, so the danger is a reader that sizes its arrays by the declaration."""
    text = MUSE.read_text(encoding="utf-8", errors="replace")
    path.write_text(
        re.sub(
            r"<LeadSampleCountTotal>\d+</LeadSampleCountTotal>",
            f"<LeadSampleCountTotal>{declared}</LeadSampleCountTotal>",
            text,
        ),
        encoding="utf-8",
    )
    return path


def edf_bomb(path: Path, records: int = 99_999_999) -> Path:
    """An EDF file whose header declares 99,999,999 data records of 12 leads (about 1.2 TB of samples at
    500 Hz) where it holds one second: edfio would map the declared records."""
    from edfio import Edf, EdfSignal

    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    Edf(
        [
            EdfSignal(np.zeros(500), 500, label=lead, physical_dimension="uV", physical_range=(-1, 1))
            for lead in leads
        ]
    ).write(path)
    raw = bytearray(path.read_bytes())
    raw[236:244] = f"{records:<8}".encode()
    path.write_bytes(bytes(raw))
    return path


BOMBS: dict[str, Callable[[Path], Path]] = {
    "muse": muse_bomb,
    "edf": edf_bomb,
    "philips": philips_bomb,
    "dicom": dicom_bomb,
    "cpsc2018": cpsc_bomb,
    "scp": scp_bomb,
}
