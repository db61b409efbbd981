"""The benchmark's WFDB zip writes, record by record, the same bytes as wfdb's own ``wrsamp`` for
stored integers, also when exams of different layouts (lead count, rate, gain) follow each other."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np
import wfdb

from annotations.lib.release_files.wfdb_files import record_name, write_wfdb_zip

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def exams() -> list[tuple[str, np.ndarray, float, float, list[str]]]:
    rng = np.random.default_rng(7)
    out = []
    for k, (signals, rate, gain) in enumerate(
        [(12, 400.0, 4.88), (12, 400.0, 4.88), (8, 500.0, 5.0), (12, 500.0, 1.0), (8, 500.0, 5.0)]
    ):
        samples = rng.integers(-3000, 3000, size=(signals, 300)).astype(np.int16)
        out.append((f"exam-{k}", samples, rate, gain, LEADS[:signals]))
    return out


def reference(folder: str, row: int, exam) -> dict[str, bytes]:
    exam_id, samples, rate, gain_uv, leads = exam
    name = record_name(row)
    wfdb.wrsamp(
        name,
        fs=rate,
        units=["mV"] * samples.shape[0],
        sig_name=leads,
        d_signal=samples.T.astype(np.int64),
        fmt=["16"] * samples.shape[0],
        adc_gain=[1000.0 / gain_uv] * samples.shape[0],
        baseline=[0] * samples.shape[0],
        comments=[f"exam_id: {exam_id}"],
        write_dir=folder,
    )
    return {name + s: (Path(folder) / (name + s)).read_bytes() for s in (".hea", ".dat")}


def test_every_record_is_the_bytes_wfdb_writes_and_reads_back(tmp_path):
    given = exams()
    path = tmp_path / "tracings.zip"
    assert write_wfdb_zip(path, given) == len(given)
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
        archive.extractall(tmp_path / "out")
        for row, exam in enumerate(given):
            for name, data in reference(folder, row, exam).items():
                assert archive.read(name) == data, name
            back = wfdb.rdrecord(str(tmp_path / "out" / record_name(row)), physical=False)
            assert np.array_equal(back.d_signal.T, exam[1]) and back.fs == exam[2]
            assert back.sig_name == exam[4] and back.comments == [f"exam_id: {exam[0]}"]
