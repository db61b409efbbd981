"""A Portuguese submitter reads why a file was refused in Portuguese, through the API and on the page;
an English one reads the same refusal as before. Every refusal the file check can give has its pt_BR
entry."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from annotations.lib import benchmark_file
from annotations.models import BenchmarkSubmission
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, made_benchmark, npy_bytes, submitter

pytestmark = pytest.mark.django_db
N = 8
PORTUGUESE = {"HTTP_ACCEPT_LANGUAGE": "pt-BR,pt;q=0.9"}
HEADER = "exam_id," + ",".join(CODES)


@pytest.fixture
def open_benchmark(tmp_path, diego, code15, client):  # noqa: F811
    release = code_test_release(tmp_path, diego, n_exams=N)
    client.force_login(diego)
    return made_benchmark(client, release.pk)["id"]


def form(data: bytes, name: str) -> dict:
    return {
        "file": SimpleUploadedFile(name, data),
        "model_name": "net",
        "model_version": "1",
        "thresholds": ",".join(map(str, THRESHOLDS)),
    }


FORMULA = f"{HEADER}\n0,=1+1,0,0,0,0,0\n".encode()
MISSING = "\n".join([HEADER, *(f"{i},0,0,0,0,0,0" for i in range(1, N))]).encode()
NAN = np.full((N, 6), 0.5)
NAN[2, 1] = np.nan

CASES = [
    (FORMULA, "p.csv", "linha 2, coluna 1dAVb: '=1+1' não é uma pontuação em [0, 1]", "is not a score"),
    (MISSING, "p.csv", "1 exame não tem linha: '0'", "1 exam has no row: '0'"),
    (
        npy_bytes(NAN),
        "p.npy",
        "linha 2, coluna 1 (RBBB) não é um número (NaN ou infinito)",
        "is not a number",
    ),
]


@pytest.mark.parametrize(("data", "name", "portuguese", "english"), CASES, ids=["formula", "missing", "nan"])
def test_a_portuguese_submitter_reads_the_refusal_in_portuguese_through_the_api(
    open_benchmark, data, name, portuguese, english
):
    sofia = Client()
    sofia.force_login(submitter())
    url = f"/api/v1/benchmarks/{open_benchmark}/submissions/"
    answer = sofia.post(url, form(data, name), **PORTUGUESE)
    assert answer.status_code == 400, answer.content
    assert portuguese in answer.json()["detail"], answer.json()
    assert english in sofia.post(url, form(data, name)).json()["detail"]
    assert not BenchmarkSubmission.objects.exists()


def test_a_portuguese_submitter_reads_the_refusal_in_portuguese_on_the_page(open_benchmark):
    sofia = Client()
    sofia.force_login(submitter())
    sofia.post("/i18n/setlang/", {"language": "pt-br", "next": "/"})
    page = sofia.post(f"/benchmarks/{open_benchmark}/submit/", form(FORMULA, "p.csv"))
    assert page.status_code == 400
    text = page.content.decode()
    assert "linha 2, coluna 1dAVb: &#x27;=1+1&#x27; não é uma pontuação em [0, 1]" in text, text
    assert "is not a score" not in text
    assert not BenchmarkSubmission.objects.exists()


def test_every_refusal_of_the_file_check_has_a_portuguese_entry():
    with translation.override("pt-br"):
        untranslated = [m for m in benchmark_file.REFUSALS if translation.gettext(m) == m]
    assert len(benchmark_file.REFUSALS) >= 20 and untranslated == []
