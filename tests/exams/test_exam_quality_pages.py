"""The quality report stored at import, as a coordinator meets it: the Exams list's grade column and
filters, the exam page (readers 404), the batch designer's quality criterion, and the backfill command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from django.core.management import call_command

from annotations.models import Exam
from annotations.services.imports.exams import exams_import
from tests.factories import batch_for
from tests.importing import SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db
V6 = 11


def write_cpsc(path: Path, data: np.ndarray) -> Path:
    """A CPSC-2018 MATLAB struct like the challenge's own files (ECG{sex, age, data})."""
    struct = np.zeros((1, 1), dtype=[("sex", "O"), ("age", "O"), ("data", "O")])
    struct[0, 0] = (np.array(["Female"]), np.array([[53]]), data)
    scipy.io.savemat(path, {"ECG": struct})
    return path


@pytest.fixture
def imported(settings, tmp_path, eager_worker, django_capture_on_commit_callbacks) -> dict[str, Exam]:
    """The real CPSC record as recorded, the same record with a 10 mV spike in V6, and with the
    limb leads' rows scrambled (III stored where V3 belongs)."""
    use_private_storage(settings, tmp_path)
    data = scipy.io.loadmat(SAMPLE_FILES["A1986"])["ECG"][0, 0]["data"]
    spiked = data.copy()
    spiked[V6, 10_000:10_003] += 10.0
    scrambled = data.copy()
    scrambled[[2, 8]] = scrambled[[8, 2]]
    files = [
        write_cpsc(tmp_path / "A1986.mat", data),
        write_cpsc(tmp_path / "SPIKE.mat", spiked),
        write_cpsc(tmp_path / "SCRAMBLED.mat", scrambled),
    ]
    with django_capture_on_commit_callbacks(execute=True) as queued:
        exams_import(files, dataset="cpsc")
    assert len(queued) == 3  # one message per file's insert batch, none per exam
    return {exam.external_id: exam for exam in Exam.objects.all()}


def test_import_stores_each_exams_quality_report(imported):
    assert imported["A1986"].quality_grade == "good"
    assert imported["SPIKE"].quality_grade == "acceptable"
    assert imported["SPIKE"].quality_report["leads"]["V6"]["flags"] == ["artefact"]
    assert imported["SCRAMBLED"].quality_grade == "poor"
    assert "limb_leads_inconsistent" in imported["SCRAMBLED"].quality_report["flags"]


def test_the_exam_list_shows_the_grade_and_filters_by_grade_and_flag(imported, client_for, diego):
    client = client_for(diego)
    page = client.get("/exams/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "large artefact" in html and "poor" in html
    listed = client.get("/exams/?quality=good").context["page"].object_list
    assert [exam.external_id for exam in listed] == ["A1986"]
    listed = client.get("/exams/?flag=artefact").context["page"].object_list
    assert [exam.external_id for exam in listed] == ["SPIKE"]
    listed = client.get("/exams/?quality=none").context["page"].object_list
    assert list(listed) == []


def test_the_exam_page_shows_the_report_and_batches_to_coordinators_only(
    imported, client_for, diego, ana, tnmg
):
    spiked = imported["SPIKE"]
    batch_for(tnmg, diego, [ana], [spiked], name="Spiky")
    page = client_for(diego).get(f"/exams/{spiked.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="quality-grade"' in html and "acceptable" in html
    assert 'data-lead="V6"' in html and "large artefact" in html and "Spiky" in html
    assert client_for(ana).get(f"/exams/{spiked.pk}/").status_code == 404
    assert client_for(diego).get("/exams/999999/").status_code == 404


def test_the_designer_preview_keeps_only_the_grades_asked_for(imported, client_for, diego, ana, tnmg):
    spec = {
        "name": "Clean only",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["cpsc"], "quality_grades": ["good", "acceptable"]},
    }
    client = client_for(diego)
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["matching"] == 2
    spec["criteria"] = {"datasets": ["cpsc"], "quality_without": ["artefact", "limb_leads_inconsistent"]}
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json")
    assert preview.json()["matching"] == 1
    spec["criteria"] = {"quality_grades": ["excellent"]}
    refused = client.post("/api/v1/batches/preview/", spec, content_type="application/json")
    assert refused.status_code == 400 and "quality_grades" in refused.content.decode()


def test_the_designer_page_filters_by_quality(imported, client_for, diego, ana, tnmg):
    form = {
        "name": "Page",
        "taxonomy": tnmg.pk,
        "readers": [ana.pk],
        "readers_per_exam": 1,
        "suggestion_mode": "hidden",
        "datasets": ["cpsc"],
        "quality_grades": ["poor"],
        "strata": 4,
        "gold_fraction": 0,
        "retest_fraction": 0,
        "min_pair_overlap": 0,
        "seed": 0,
        "action": "preview",
    }
    response = client_for(diego).post("/batches/new/", form)
    assert response.status_code == 200
    assert response.context["plan"].matching == 1


def test_the_backfill_command_reports_exams_imported_before_reports_existed(imported):
    Exam.objects.update(quality_grade="", quality_flags="", quality_report={})
    call_command("quality_report", "--missing")
    grades = dict(Exam.objects.values_list("external_id", "quality_grade"))
    assert grades == {"A1986": "good", "SPIKE": "acceptable", "SCRAMBLED": "poor"}


def test_without_a_broker_the_background_thread_fills_the_reports_after_the_import(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    from ecgreview.inprocess import background

    use_private_storage(settings, tmp_path)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        exams_import([SAMPLE_FILES["A1986"]], dataset="embedded")
    exam = Exam.objects.get()
    assert exam.quality_grade == ""  # not inside the import
    background.drain()
    exam.refresh_from_db()
    assert exam.quality_grade == "good"
