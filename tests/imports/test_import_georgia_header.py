"""The Georgia 12-lead set (PhysioNet/CinC 2020) writes its record line as `E00015.mat 12 500 5000`. It was
refused with advice to rename the header to E00015.mat.hea, which wfdb cannot read either: it is now read
as record E00015, and the import report says how."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Exam
from annotations.tasks import imports_run
from tests.importing import DATA, use_private_storage

pytestmark = pytest.mark.django_db
SOURCE = DATA / "wfdb" / "cinc2021" / "E07500"  # CinC 2021's copy of a Georgia record, record line fixed


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def georgia_files() -> list[SimpleUploadedFile]:
    header = SOURCE.with_suffix(".hea").read_text()
    assert header.startswith("E07500 12 500 5000")
    header = header.replace("E07500 12 500 5000", "E07500.mat 12 500 5000", 1)  # as Georgia wrote it
    return [
        SimpleUploadedFile("E07500.hea", header.encode(), "text/plain"),
        SimpleUploadedFile("E07500.mat", SOURCE.with_suffix(".mat").read_bytes(), "application/octet-stream"),
    ]


def test_a_georgia_header_naming_its_record_with_mat_is_imported_through_the_api(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post(
            "/api/v1/imports/", {"files": georgia_files(), "dataset": "georgia"}
        )
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    imports_run.apply(args=(response.json()["id"],)).get()
    job = client_for(diego).get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (job["status"], job["created"], job["files_failed"]) == ("done", 1, 0), job["outcomes"]
    exam = Exam.objects.get(dataset__name="georgia")
    assert exam.external_id == "E07500" and exam.n_samples == 5000
    [created] = [row for row in job["outcomes"] if row["outcome"] == "created"]
    assert "names E07500.mat (as the Georgia set's headers do); read as record E07500" in created["message"]
