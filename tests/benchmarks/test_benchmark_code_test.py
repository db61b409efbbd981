"""The published reader study as the check: CODE-test made a benchmark through the API, the study
network's dnn_scores.npy submitted at the paper's thresholds, and per class the F1, sensitivity and
specificity the API gives for the network and for each reader equal scikit-learn's from the shared files,
to 1e-9."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from sklearn.metrics import confusion_matrix, f1_score

from annotations.models import AuditEvent
from tests.agreement.test_code_test import CODES, code15, labels  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import (
    READERS,
    THRESHOLDS,
    code_test_release,
    dnn_scores,
    made_benchmark,
    npy_bytes,
    submitter,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def expected(truth: np.ndarray, calls: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for k, code in enumerate(CODES):
        tn, fp, fn, tp = confusion_matrix(truth[:, k], calls[:, k], labels=[0, 1]).ravel()
        out[code] = {
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "f1": f1_score(truth[:, k], calls[:, k]),
        }
    return out


def assert_same(figures: dict, wanted: dict, who: str) -> None:
    for code, metrics in wanted.items():
        for metric, value in metrics.items():
            assert figures[code][metric]["value"] == pytest.approx(value, abs=1e-9), (who, code, metric)


@pytest.fixture
def benchmark(tmp_path, diego, code15, client):  # noqa: F811
    release = code_test_release(tmp_path, diego)
    client.force_login(diego)
    return made_benchmark(client, release.pk, private_fraction=0.0, name="CODE-test")


def test_the_network_and_every_reader_equal_scikit_learn_on_all_827_exams(
    benchmark, django_capture_on_commit_callbacks, eager_worker
):
    gold = labels("gold_standard")
    sofia = Client()
    sofia.force_login(submitter())
    detail = sofia.get(f"/api/v1/benchmarks/{benchmark['id']}/").json()
    assert detail["exam_ids"] == [str(i) for i in range(827)] and detail["classes"] == CODES

    tracings = sofia.get(f"/api/v1/benchmarks/{benchmark['id']}/tracings.hdf5")
    assert tracings.status_code == 200
    with h5py.File(io.BytesIO(b"".join(tracings.streaming_content)), "r") as handle:
        assert handle["tracings"].shape == (827, 4096, 12)
        assert [x.decode() for x in handle["exam_id"][:3]] == ["0", "1", "2"]
        assert set(handle) == {"tracings", "exam_id"}

    upload = SimpleUploadedFile("dnn_scores.npy", npy_bytes(dnn_scores()))
    with django_capture_on_commit_callbacks(execute=True):
        response = sofia.post(
            f"/api/v1/benchmarks/{benchmark['id']}/submissions/",
            {
                "file": upload,
                "model_name": "Ribeiro et al. DNN",
                "model_version": "2020",
                "thresholds": ",".join(map(str, THRESHOLDS)),
            },
        )
    assert response.status_code == 201, response.content
    result = sofia.get(f"/api/v1/submissions/{response.json()['id']}/").json()
    assert result["status"] == "done"
    network = (dnn_scores() >= np.array(THRESHOLDS)).astype(int)
    assert_same(result["results"]["public"]["figures"], expected(gold, network), "dnn")
    assert set(result["results"]) == {"public"}  # an open benchmark holds the private split back

    readers = {
        entry["reader"]: entry
        for entry in sofia.get(f"/api/v1/benchmarks/{benchmark['id']}/").json()["readers"]
    }
    assert "name" not in next(iter(readers.values()))  # pseudonyms only, for a submitter
    assert len(readers) == len(READERS)
    assert (
        sum(AuditEvent.objects.filter(action=a).count() for a in ("benchmark.download", "benchmark.submit"))
        == 2
    )


def test_each_reader_equals_scikit_learn_as_the_coordinator_sees_them(benchmark, client):
    gold = labels("gold_standard")
    readers = client.get(f"/api/v1/benchmarks/{benchmark['id']}/").json()["readers"]
    by_name = {entry["name"]: entry for entry in readers}
    assert set(by_name) == set(READERS)
    for name in READERS:
        assert by_name[name]["n"] == 827
        assert_same(by_name[name]["public"]["figures"], expected(gold, labels(name)), name)


def test_the_pages_show_the_same_figures_as_the_api(
    benchmark, client, django_capture_on_commit_callbacks, eager_worker
):
    """The coordinator's benchmark page and the submitter's results page carry each figure's full value
    (data-value): per class the network's and each reader's F1, sensitivity and specificity equal
    scikit-learn's to 1e-9."""
    import re

    gold = labels("gold_standard")
    sofia = Client()
    sofia.force_login(submitter())
    page = sofia.get(f"/benchmarks/{benchmark['id']}/")
    assert page.status_code == 200 and b"submission-form" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = sofia.post(
            f"/benchmarks/{benchmark['id']}/submit/",
            {
                "file": SimpleUploadedFile("dnn_scores.npy", npy_bytes(dnn_scores())),
                "model_name": "DNN",
                "model_version": "2020",
                "thresholds": ",".join(map(str, THRESHOLDS)),
                "threshold_rule": "submitted",
            },
        )
    assert response.status_code == 302, response.content
    html = sofia.get(response["Location"]).content.decode()
    columns = {"sensitivity": 2, "specificity": 3, "f1": 5}

    def figures_of(who: str) -> dict:
        out = {}
        for code in CODES:
            row = re.search(rf'<tr data-class="{code}" data-who="{re.escape(who)}">(.*?)</tr>', html)
            cells = re.findall(r"<td(?: data-value=\"([^\"]+)\")?>", row.group(1))[2:]
            out[code] = {m: {"value": float(cells[i])} for m, i in columns.items()}
        return out

    network = (dnn_scores() >= np.array(THRESHOLDS)).astype(int)
    assert_same(figures_of("DNN 2020"), expected(gold, network), "dnn page")
    readers = {
        e["name"]: e["reader"] for e in client.get(f"/api/v1/benchmarks/{benchmark['id']}/").json()["readers"]
    }
    for name in READERS:
        assert_same(figures_of(readers[name]), expected(gold, labels(name)), name)
    refused = sofia.post(
        f"/benchmarks/{benchmark['id']}/submit/",
        {
            "file": SimpleUploadedFile("x.csv", b"exam_id,1dAVb\n0,0.5\n"),
            "model_name": "x",
            "model_version": "1",
        },
    )
    assert refused.status_code == 400 and "no column for" in refused.content.decode()
