"""CODE-test as a benchmark, built through the real commands and services: the tracings' stand-ins with
the gold standard as their reference labels, the cardiologists and the resident and student groups as
readers, a release of that batch, and a benchmark of it made through the API by a coordinator."""

from __future__ import annotations

import csv
import io

import numpy as np
from django.core.management import call_command

from annotations.models import ReviewBatch
from annotations.roles import Role
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.builds import release_build, release_create
from tests.agreement.test_code_test import CODES, DATA, GROUPS, labels, reads_args, write_code_test_hdf5
from tests.factories import UserFactory

READERS = ["cardiologist1", "cardiologist2", *GROUPS]
# Ribeiro et al. 2020, the thresholds at which the paper reports the network (1dAVb ... ST).
THRESHOLDS = [0.124, 0.07, 0.05, 0.278, 0.390, 0.174]


def code_test_release(tmp_path, diego, n_exams: int = 827):
    hdf5 = write_code_test_hdf5(tmp_path / "ecg_tracings.hdf5", n_exams, n_samples=64)
    with open(tmp_path / "exams.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["exam_id", *CODES])
        writer.writerows([i, *row] for i, row in enumerate(labels("gold_standard")[:n_exams]))
    call_command("import_exams", str(hdf5), "--dataset", "code-test", "--no-progress", stdout=io.StringIO())
    args = reads_args(diego)
    for name in READERS:
        path = tmp_path / f"{name}.csv"
        np.savetxt(path, labels(name)[:n_exams], fmt="%d", delimiter=",", header=",".join(CODES), comments="")
        args += ["--reader", f"{name}={path}"]
    call_command("import_reads", *args, stdout=io.StringIO())
    batch = ReviewBatch.objects.get(name="CODE-test")
    batch_agreement_compute(batch.pk)
    return release_build(release_create(actor=diego, batches=[batch], hdf5=False).pk)


def submitter(name: str = "sofia"):
    return UserFactory(username=name, roles=[Role.SUBMITTER])


def dnn_scores() -> np.ndarray:
    return np.load(DATA / "dnn_scores.npy")


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def made_benchmark(client, release_id: int, **body) -> dict:
    """A benchmark made through the API by a coordinator's client, then prepared as its worker would
    after the commit (a test's transaction never commits): its tracings written, open to submissions."""
    from annotations.services.benchmarks.create import benchmark_prepare

    response = client.post(
        f"/api/v1/releases/{release_id}/benchmark/",
        {"label_source": "reference", **body},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "preparing"
    benchmark_prepare(response.json()["id"])
    return client.get(f"/api/v1/benchmarks/{response.json()['id']}/").json()
