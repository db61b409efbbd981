"""The tracings a submitter downloads: CODE-15%'s HDF5 layout and WFDB records, each with the exam ids,
holding the exams' stored signals and no label."""

from __future__ import annotations

import io
import zipfile

import h5py
import numpy as np
import pytest
import wfdb
from django.test import Client

from annotations.models import AuditEvent, Exam
from annotations.services.exams.waveforms import waveform_load
from tests.agreement.test_code_test import code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import code_test_release, made_benchmark, submitter

pytestmark = pytest.mark.django_db
N = 12


def test_hdf5_and_wfdb_hold_the_stored_signals_and_the_exam_ids(tmp_path, diego, code15, client):  # noqa: F811
    release = code_test_release(tmp_path, diego, n_exams=N)
    client.force_login(diego)
    benchmark = made_benchmark(client, release.pk)
    sofia = Client()
    sofia.force_login(submitter())
    base = f"/api/v1/benchmarks/{benchmark['id']}"
    hdf5 = b"".join(sofia.get(f"{base}/tracings.hdf5").streaming_content)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(sofia.get(f"{base}/tracings-wfdb.zip").streaming_content)))
    ids = [str(i) for i in range(N)]  # numeric ids in numeric order: row i is exam i
    with h5py.File(io.BytesIO(hdf5), "r") as handle:
        assert [x.decode() for x in handle["exam_id"]] == ids
    index = archive.read("exam_ids.csv").decode().splitlines()
    assert index == ["record,exam_id", *(f"{i:06d},{i}" for i in range(N))]
    assert archive.read("RECORDS").decode().split() == [f"{i:06d}" for i in range(N)]
    archive.extractall(tmp_path / "wfdb")
    for row in (0, 7):
        record = wfdb.rdrecord(str(tmp_path / "wfdb" / f"{row:06d}"))
        exam = Exam.objects.get(dataset__name="code-test", external_id=str(row))
        stored = waveform_load(exam.waveform_key)
        assert record.comments == [f"exam_id: {row}"] and record.fs == exam.sampling_rate
        np.testing.assert_allclose(record.p_signal, stored.T * exam.gain_uv / 1000.0, atol=1e-9)
    names = set(archive.namelist())
    assert not any("label" in name or (name.endswith(".csv") and name != "exam_ids.csv") for name in names)
    downloads = AuditEvent.objects.filter(action="benchmark.download").values_list("after", flat=True)
    assert sorted(d["file"] for d in downloads) == ["tracings-wfdb.zip", "tracings.hdf5"]
