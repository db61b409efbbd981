"""Helpers for the sharded release tests: a study of N read exams, and a build run the way one worker
would run it, one task after the other, in this process."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import h5py
import numpy as np

from annotations.models import Release, ReviewBatch
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.releases.builds import release_build, release_file_key, release_storage
from annotations.services.releases.shards import release_shard_build, release_shards_finish
from tests.exporting import read
from tests.factories import batch_for, make_exam


def read_study(n: int, *, reader, coordinator, taxonomy, dataset: str = "shard-study") -> ReviewBatch:
    """N exams, each read once (NORM) by one reader."""
    dataset_row = dataset_get_or_create(name=dataset)
    exams = [make_exam(dataset_row, f"S{i:03d}", seed=i, age=30 + i, sex="MF"[i % 2]) for i in range(n)]
    batch = batch_for(taxonomy, coordinator, [reader], exams, name=f"{dataset} batch", seed=1)
    for exam in exams:
        read(reader, batch, exam, ["NORM"])
    return batch


def shard_names(release: Release) -> list[str]:
    return sorted(f["name"] for f in release.files if f["name"].startswith("tracings-0"))


def build_serially(release_id: int, order: Iterable[int] | None = None) -> Release:
    """The labels pass, every shard (in `order`, by default first to last), then the assembly."""
    release_build(release_id)
    release = Release.objects.get(pk=release_id)
    for index in order if order is not None else range(len(shard_names(release))):
        release_shard_build(release_id, index)
    release_shards_finish(release_id)
    return Release.objects.get(pk=release_id)


def stored_bytes(release: Release, name: str) -> bytes:
    with release_storage().open(release_file_key(release, name), "rb") as handle:
        return handle.read()


def checksums(release: Release) -> dict[str, str]:
    """Every file's SHA-256 as recorded, after checking the stored bytes against it."""
    sums = {f["name"]: f["sha256"] for f in release.files}
    for name, sha in sums.items():
        assert hashlib.sha256(stored_bytes(release, name)).hexdigest() == sha, name
    return sums


def hdf5_arrays(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as handle:
        return {name: handle[name][:] for name in ("tracings", "exam_id", "dataset")}
