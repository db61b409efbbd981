"""A reference label set is complete per exam: a class its system speaks for and the exam's row does not
mark is absent. An exam whose reference row marks nothing (a normal ECG of CODE-test, which has no
normal column) is as much a gold exam as one with a finding, and counts in gold accuracy."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotations.models import Assignment, BatchExam, ImportJob
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_submit
from annotations.services.taxonomy import SHIPPED_DIR, taxonomy_load, taxonomy_read_file
from annotations.tasks import imports_run
from tests.importing import use_private_storage, write_code15, write_exams_csv

pytestmark = pytest.mark.django_db
FINDINGS = {1: "RBBB", 2: "RBBB"}  # exams 3-6 mark no class: normal


@pytest.fixture
def imported(settings, tmp_path, client_for, diego, tnmg, django_capture_on_commit_callbacks):
    """CODE's six classes loaded (their labels map onto TNMG through it), and six exams with exams.csv:
    two with RBBB, four marking nothing; no normal column, as in CODE-test."""
    taxonomy_load(taxonomy_read_file(SHIPPED_DIR / "code15.json"))
    use_private_storage(settings, tmp_path)
    path, _ = write_code15(tmp_path, exams=[(i, 4096) for i in range(1, 7)])
    rows = [
        {
            "exam_id": i,
            "age": 60,
            "is_male": "True",
            **{c: "0" for c in ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")},
        }
        | ({FINDINGS[i]: "1"} if i in FINDINGS else {})
        for i in range(1, 7)
    ]
    metadata = write_exams_csv(tmp_path / "exams.csv", rows)
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in (path, metadata)]
    with django_capture_on_commit_callbacks():
        response = client_for(diego).post("/api/v1/imports/", {"dataset": "codetest", "files": files})
    assert response.status_code == 201, response.content
    imports_run.apply(args=(ImportJob.objects.get().pk,)).get()


def design(tnmg, ana) -> dict:
    return {
        "name": "Gold",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "gold_fraction": 0.5,
        "seed": 1,
        "criteria": {"datasets": ["codetest"]},
    }


def test_exams_whose_reference_marks_nothing_can_be_gold(imported, client_for, diego, ana, tnmg):
    preview = client_for(diego).post(
        "/api/v1/batches/preview/", design(tnmg, ana), content_type="application/json"
    )
    assert preview.status_code == 200, preview.content
    assert preview.json()["gold_exams"] == 3


def test_gold_accuracy_counts_every_gold_exam_normal_ones_too(imported, client_for, diego, ana, tnmg):
    client = client_for(diego)
    created = client.post("/api/v1/batches/", design(tnmg, ana), content_type="application/json")
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    gold = set(
        BatchExam.objects.filter(batch_id=batch_id, is_gold=True).values_list("exam__external_id", flat=True)
    )
    for slot in Assignment.objects.filter(batch_id=batch_id).select_related("exam"):
        found = FINDINGS.get(int(slot.exam.external_id))
        codes = [found] if found else ["SR", "NORM"]
        annotation_submit(actor=ana, assignment=slot, labels=[LabelInput(c) for c in codes], revision=0)
    batch_agreement_compute(batch_id)
    table = client.get(reverse("batch-agreement-csv", args=[batch_id]), {"table": "readers"})
    [row] = list(csv.DictReader(io.StringIO(table.content.decode())))
    normal_gold = [exam for exam in gold if int(exam) not in FINDINGS]
    assert normal_gold, "the seeded draw must hold a normal gold exam for this test to say anything"
    assert row["gold_exams"] == "3"
    assert float(row["gold_exam_accuracy"]) == 1.0
