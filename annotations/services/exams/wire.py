"""The waveform as it travels to the browser: raw int16 little-endian, gzip-compressed once.

Compressing 120 kB costs milliseconds, so it is done the first time an exam is asked for and the
compressed bytes are kept in waveform storage beside the blob (content-addressed like it: the same
samples always give the same file). Requests then only read bytes.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from annotations.models import Exam
from annotations.services.exams.waveforms import waveform_load

_GZIP_LEVEL = 9


@dataclass(frozen=True)
class WirePayload:
    sha256: str
    gzipped: bytes

    def raw(self) -> bytes:
        return gzip.decompress(self.gzipped)


def _wire_key(exam: Exam) -> str:
    return f"{exam.waveform_key.removesuffix('.npy')}.i16le.gz"


def waveform_wire(exam: Exam) -> WirePayload:
    """The exam's samples as int16 little-endian, row by row (12 standard leads first), gzipped."""
    storage = storages["waveforms"]
    key = _wire_key(exam)
    try:
        with storage.open(key, "rb") as handle:
            return WirePayload(sha256=exam.waveform_sha256, gzipped=handle.read())
    except FileNotFoundError:
        pass
    samples = np.ascontiguousarray(waveform_load(exam.waveform_key), dtype="<i2")
    # mtime=0: the same samples give byte-identical files, whoever compresses them first.
    gzipped = gzip.compress(samples.tobytes(), compresslevel=_GZIP_LEVEL, mtime=0)
    saved = storage.save(key, ContentFile(gzipped))
    if saved != key:
        raise RuntimeError(f"waveform storage saved {key!r} as {saved!r}")
    return WirePayload(sha256=exam.waveform_sha256, gzipped=gzipped)
