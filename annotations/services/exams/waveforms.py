"""Waveform blobs in the configured storage, addressed by the SHA-256 of their bytes."""

from __future__ import annotations

import os
import threading

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from annotations.lib.ecg import waveform


def _storage() -> Storage:
    return storages["waveforms"]


def waveform_key(sha: str) -> str:
    # One level of 256 folders: a second level (65,536 folders) made nearly every new blob also create
    # its folder, a third of the cost of a bulk import; 256 folders hold millions of files fine.
    return f"{sha[:2]}/{sha}.npy"


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


def waveform_store_blob(blob: bytes, sha: str | None = None) -> tuple[str, str, bool]:
    """Store already encoded .npy bytes (see waveform.encode_fast); same contract as waveform_store.

    Thread-safe: the importer calls it from a small thread pool.
    """
    sha = sha or waveform.sha256(blob)
    key = waveform_key(sha)
    storage = _storage()
    if isinstance(storage, FileSystemStorage):
        return key, sha, _write_local(storage, key, blob)
    if storage.exists(key):
        return key, sha, False
    saved = storage.save(key, ContentFile(blob))
    if saved != key:
        raise RuntimeError(f"waveform storage saved {key!r} as {saved!r}")
    return key, sha, True


_KNOWN_DIRS: set[str] = set()


def _write_local(storage: FileSystemStorage, key: str, blob: bytes) -> bool:
    """Local blobs without FileSystemStorage.save's per-call overhead (name checks, locks, a makedirs per
    file), which dominated bulk imports; written to a temporary name and renamed into place, so a crash
    never leaves a truncated blob under its content address."""
    path = storage.path(key)
    if os.path.exists(path):
        return False
    folder = os.path.dirname(path)
    if folder not in _KNOWN_DIRS:
        os.makedirs(folder, exist_ok=True)
        _KNOWN_DIRS.add(folder)
    temporary = f"{folder}/.{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(blob)
    if storage.file_permissions_mode is not None:
        os.chmod(temporary, storage.file_permissions_mode)
    os.replace(temporary, path)
    return True
