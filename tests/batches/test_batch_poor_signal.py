"""An exam graded poor at import (an EDF whose chest leads are constant: no electrodes on V1-V6) reaches
no reader unless the coordinator ticks "poor": the designer, its API preview and "add exams" leave it out
by default and say how many and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from annotations.models import Assignment, BatchExam, Exam
from annotations.services.imports.exams import exams_import
from tests.importing import SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db
EDF_LABELS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_edf(path: Path, leads_mv: np.ndarray) -> Path:
    """The real CPSC record A1986 as an EDF file in uV at 500 Hz, as a cart's EDF export writes it."""
    from edfio import Edf, EdfSignal

    signals = [
        EdfSignal(
            leads_mv[i, :5000] * 1000, 500, label=label, physical_dimension="uV", physical_range=(-8000, 8000)
        )
        for i, label in enumerate(EDF_LABELS)
    ]
    Edf(signals).write(path)
    return path


@pytest.fixture
def exams(settings, tmp_path, eager_worker, django_capture_on_commit_callbacks) -> dict[str, Exam]:
    """Two real records as EDF: one as recorded, one with V1-V6 stuck at a constant (unplugged)."""
    use_private_storage(settings, tmp_path)
    data = scipy.io.loadmat(SAMPLE_FILES["A1986"])["ECG"][0, 0]["data"]  # mV, as CPSC stores it
    unplugged = data.copy()
    unplugged[6:12] = 0.37  # a constant offset, as an open input reads
    files = [write_edf(tmp_path / "CLEAN.edf", data), write_edf(tmp_path / "UNPLUGGED.edf", unplugged)]
    with django_capture_on_commit_callbacks(execute=True):
        report = exams_import(files, dataset="ward")
    assert report.files_failed == 0, [f.error for f in report.files]
    return {exam.external_id: exam for exam in Exam.objects.all()}


def spec(tnmg, readers, **criteria) -> dict:
    return {
        "name": "Ward",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["ward"], **criteria},
    }


def test_the_unplugged_chest_leads_grade_the_exam_poor(exams):
    unplugged = exams["UNPLUGGED"]
    assert unplugged.quality_grade == "poor"
    assert unplugged.quality_report["flagged_leads"] == ["V1", "V2", "V3", "V4", "V5", "V6"]
    assert exams["CLEAN"].quality_grade in ("good", "acceptable")


def test_the_api_preview_leaves_poor_exams_out_unless_asked_and_says_why(exams, client_for, diego, ana, tnmg):
    client = client_for(diego)
    preview = client.post("/api/v1/batches/preview/", spec(tnmg, [ana]), content_type="application/json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert (body["matching"], body["exams"]) == (1, 1)
    assert body["poor_left_out"] == {"exams": 1, "flags": {"flat": 1}}
    assert any("graded poor" in warning for warning in body["warnings"])
    asked = spec(tnmg, [ana], quality_grades=["good", "acceptable", "poor"])
    preview = client.post("/api/v1/batches/preview/", asked, content_type="application/json")
    assert (preview.json()["matching"], preview.json()["poor_left_out"]) == (2, {"exams": 0, "flags": {}})


def test_a_batch_created_without_asking_never_hands_the_poor_exam_to_a_reader(
    exams, client_for, diego, ana, tnmg
):
    created = client_for(diego).post("/api/v1/batches/", spec(tnmg, [ana]), content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["poor_left_out"]["exams"] == 1
    held = set(BatchExam.objects.filter(batch_id=created.json()["id"]).values_list("exam_id", flat=True))
    assert held == {exams["CLEAN"].pk}
    handed = Assignment.objects.filter(batch_id=created.json()["id"], reader=ana)
    assert list(handed.values_list("exam_id", flat=True)) == [exams["CLEAN"].pk]
    assert client_for(ana).get("/api/v1/reading/next/").status_code == 200


def test_only_poor_exams_matching_is_refused_in_words(exams, client_for, diego, ana, tnmg):
    Exam.objects.filter(pk=exams["CLEAN"].pk).delete()
    refused = client_for(diego).post(
        "/api/v1/batches/preview/", spec(tnmg, [ana]), content_type="application/json"
    )
    assert refused.status_code == 400
    said = refused.content.decode()
    assert "graded poor" in said and "flat lead" in said


def test_adding_exams_to_a_running_batch_leaves_poor_exams_out_unless_asked(
    exams, client_for, diego, ana, tnmg
):
    client = client_for(diego)
    created = client.post("/api/v1/batches/", spec(tnmg, [ana]), content_type="application/json")
    batch_id = created.json()["id"]
    again = client.post(
        f"/api/v1/batches/{batch_id}/exams/",
        {"criteria": {"datasets": ["ward"]}},
        content_type="application/json",
    )
    assert again.status_code == 400
    assert "graded poor" in again.content.decode()
    asked = client.post(
        f"/api/v1/batches/{batch_id}/exams/",
        {"criteria": {"datasets": ["ward"], "quality_grades": ["poor"]}},
        content_type="application/json",
    )
    assert asked.status_code == 201, asked.content
    assert (asked.json()["added"], asked.json()["poor_left_out"]["exams"]) == (1, 0)


def test_the_designer_page_says_how_many_poor_exams_are_out_and_why(exams, client_for, diego, ana, tnmg):
    form = {
        "name": "Page",
        "taxonomy": tnmg.pk,
        "readers": [ana.pk],
        "readers_per_exam": 1,
        "suggestion_mode": "hidden",
        "datasets": ["ward"],
        "strata": 4,
        "gold_fraction": 0,
        "retest_fraction": 0,
        "min_pair_overlap": 0,
        "seed": 0,
        "action": "preview",
    }
    page = client_for(diego).post("/batches/new/", form)
    assert page.status_code == 200
    assert page.context["plan"].matching == 1
    html = page.content.decode()
    assert 'id="poor-left-out"' in html
    assert "1 exam graded poor is left out" in html and "flat lead (no signal) 1" in html
    form["quality_grades"] = ["good", "acceptable", "poor"]
    page = client_for(diego).post("/batches/new/", form)
    assert page.context["plan"].matching == 2 and 'id="poor-left-out"' not in page.content.decode()


def test_the_commands_leave_poor_exams_out_unless_a_grade_is_asked_for(exams, diego, ana, tnmg, capsys):
    from django.core.management import call_command

    base = ["--name", "Cmd", "--coordinator", "diego", "--readers", "ana", "--k", "1", "--dataset", "ward"]
    call_command("create_batch", *base, "--preview")
    said = capsys.readouterr().out
    assert (
        "1 of 1 matching exams" in said and "1 exam graded poor is left out (flat lead (no signal) 1)" in said
    )
    call_command(
        "create_batch",
        *base,
        "--quality",
        "good",
        "--quality",
        "acceptable",
        "--quality",
        "poor",
        "--preview",
    )
    said = capsys.readouterr().out
    assert "2 of 2 matching exams" in said and "graded poor" not in said


def test_the_batch_pages_add_exams_form_says_why_poor_exams_stayed_out(exams, client_for, diego, ana, tnmg):
    client = client_for(diego)
    only_clean = spec(tnmg, [ana], quality_grades=["good", "acceptable"])
    batch_id = client.post("/api/v1/batches/", only_clean, content_type="application/json").json()["id"]
    page = client.post(f"/batches/{batch_id}/add-exams/", {"datasets": ["ward"], "seed": 0}, follow=True)
    assert page.status_code == 200
    said = page.content.decode()
    assert "every exam matching these criteria is in the batch already" in said
    assert "1 exam graded poor is left out (flat lead (no signal) 1)" in said
    page = client.post(
        f"/batches/{batch_id}/add-exams/",
        {"datasets": ["ward"], "quality_grades": ["poor"], "seed": 0},
        follow=True,
    )
    assert "1 exams added to the batch." in page.content.decode()
