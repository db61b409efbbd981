"""Bad predictions are refused through the API with a clear message and nothing stored: wrong shape, NaN,
out of range, duplicate exam ids, extra classes, formula cells, a 200 MB file, a pickled array, the
wrong number of thresholds; and past the daily quota."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import AuditEvent, BenchmarkSubmission
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, made_benchmark, npy_bytes, submitter

pytestmark = pytest.mark.django_db
N = 20
HEADER = "exam_id," + ",".join(CODES)


@pytest.fixture
def small(tmp_path, diego, code15, client):  # noqa: F811
    release = code_test_release(tmp_path, diego, n_exams=N)
    client.force_login(diego)
    made = made_benchmark(client, release.pk, daily_quota=2)
    sofia = Client()
    sofia.force_login(submitter())
    return made["id"], sofia


def csv_file(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def good_csv() -> list[str]:
    return [HEADER, *(f"{i},0.1,0.2,0.3,0.4,0.5,0.6" for i in range(N))]


def post(client, benchmark_id, data: bytes, name: str = "p.csv", thresholds=None, **extra):
    return client.post(
        f"/api/v1/benchmarks/{benchmark_id}/submissions/",
        {
            "file": SimpleUploadedFile(name, data),
            "model_name": "m",
            "model_version": "1",
            "thresholds": ",".join(map(str, thresholds if thresholds is not None else THRESHOLDS)),
            **extra,
        },
    )


def pickled() -> bytes:
    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}] * N, dtype=object), allow_pickle=True)
    return out.getvalue()


def with_nan() -> bytes:
    array = np.full((N, 6), 0.5)
    array[3, 2] = np.nan
    return npy_bytes(array)


BAD = [
    ("wrong shape", npy_bytes(np.full((N, 5), 0.5)), "shape is (20, 5); this benchmark needs (20, 6)"),
    ("transposed", npy_bytes(np.full((6, N), 0.5)), "shape is (6, 20)"),
    ("NaN", with_nan(), "row 3, column 2 (LBBB) is not a number"),
    ("above one", npy_bytes(np.full((N, 6), 1.5)), "outside [0, 1]"),
    ("pickled objects", pickled(), "not a readable NPY array"),
    ("duplicate exam id", csv_file([*good_csv(), "3,0,0,0,0,0,0"]), "exam '3' again (first on line 5)"),
    (
        "extra class",
        csv_file([HEADER + ",NORM", *(f"{i},0,0,0,0,0,0,0" for i in range(N))]),
        "unknown classes 'NORM'",
    ),
    ("missing exam", csv_file(good_csv()[:-1]), "1 exam has no row: '19'"),
    ("unknown exam", csv_file([*good_csv(), "900,0,0,0,0,0,0"]), "exam '900' is not in this benchmark"),
    ("formula cell", csv_file([HEADER, "0,=1+1,0,0,0,0,0", *good_csv()[2:]]), "line 2, column 1dAVb: '=1+1'"),
    ("negative", csv_file([HEADER, "0,-0.1,0,0,0,0,0", *good_csv()[2:]]), "'-0.1' is not a score"),
    ("text", csv_file([HEADER, "0,high,0,0,0,0,0", *good_csv()[2:]]), "'high' is not a score"),
]


@pytest.mark.parametrize(("case", "data", "message"), BAD, ids=[case for case, _, _ in BAD])
def test_a_bad_file_is_refused_with_its_reason_and_nothing_stored(small, case, data, message):
    benchmark_id, sofia = small
    response = post(sofia, benchmark_id, data, name="p.npy" if data[:6] == b"\x93NUMPY" else "p.csv")
    assert response.status_code == 400, (case, response.content)
    assert message in response.json()["detail"], response.json()
    assert not BenchmarkSubmission.objects.exists()
    assert not AuditEvent.objects.filter(action="benchmark.submit").exists()


def test_wrong_thresholds_are_refused(small):
    benchmark_id, sofia = small
    response = post(sofia, benchmark_id, csv_file(good_csv()), thresholds=[0.5, 0.5])
    assert response.status_code == 400 and "2 thresholds for 6 classes" in response.json()["detail"]
    response = post(sofia, benchmark_id, csv_file(good_csv()), thresholds=[0.5] * 5 + [2])
    assert (
        response.status_code == 400 and "threshold of ST: 2.0 is outside [0, 1]" in response.json()["detail"]
    )
    assert not BenchmarkSubmission.objects.exists()


def test_a_200_mb_file_is_refused_unread(small):
    benchmark_id, sofia = small
    body = b"\0" * (200 * 1024 * 1024)
    response = sofia.generic(
        "POST",
        f"/api/v1/benchmarks/{benchmark_id}/submissions/",
        body,
        content_type="multipart/form-data; boundary=x",
    )
    del body
    assert response.status_code == 413, response.content
    assert "too large" in response.json()["detail"]
    assert not BenchmarkSubmission.objects.exists()


def test_the_daily_quota_holds_and_a_refusal_stores_nothing(small, django_capture_on_commit_callbacks):
    benchmark_id, sofia = small
    for _ in range(2):
        assert post(sofia, benchmark_id, csv_file(good_csv())).status_code == 201
    response = post(sofia, benchmark_id, csv_file(good_csv()))
    assert response.status_code == 429 and "quota" in response.json()["detail"]
    assert BenchmarkSubmission.objects.count() == 2
    assert sofia.get(f"/api/v1/benchmarks/{benchmark_id}/submissions/").json()["quota_left"] == 0


def test_only_submitters_submit(small, client):
    benchmark_id, _ = small
    response = post(client, benchmark_id, csv_file(good_csv()))  # diego, a coordinator
    assert response.status_code == 403
    assert not BenchmarkSubmission.objects.exists()
