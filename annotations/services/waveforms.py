"""Waveform blobs in the configured storage, addressed by the SHA-256 of their bytes."""

from __future__ import annotations

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from annotations.ecg import waveform


def _storage():
    return storages["waveforms"]


def waveform_key(sha: str) -> str:
    return f"{sha[:2]}/{sha[2:4]}/{sha}.npy"


def waveform_store(samples: np.ndarray) -> tuple[str, str, bool]:
    """Store int16 samples; return (key, sha256, newly_written). The same samples give the same key."""
    blob = waveform.encode(samples)
    sha = waveform.sha256(blob)
    key = waveform_key(sha)
    storage = _storage()
    if storage.exists(key):
        return key, sha, False
    saved = storage.save(key, ContentFile(blob))
    if saved != key:  # a storage that renames on collision would break content addressing
        raise RuntimeError(f"waveform storage saved {key!r} as {saved!r}")
    return key, sha, True


def waveform_delete(key: str) -> None:
    _storage().delete(key)


def waveform_load(key: str) -> np.ndarray:
    with _storage().open(key, "rb") as handle:
        return waveform.decode(handle.read())
