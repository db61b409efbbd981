"""An import that stored nothing because every file was refused, or found no ECG file at all, is failed,
with why; one that stored some exams and refused some files is done, and counts the refused files.

A script polling an import's status read "done" for an upload whose only file was refused (and for an
upload of a README alone), and went on as if the exams were there."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import ImportJob
from annotations.tasks import imports_run
from tests.importing import SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db


def _run(client, capture, files: list[tuple[str, bytes]]) -> dict:
    uploads = [SimpleUploadedFile(name, body, "application/octet-stream") for name, body in files]
    with capture():
        response = client.post("/api/v1/imports/", {"files": uploads, "dataset": "uploaded"})
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    imports_run.apply(args=(job_id,)).get()
    return client.get(f"/api/v1/imports/{job_id}/").json()


def _truncated_dicom() -> tuple[str, bytes]:
    return "cut.dcm", SAMPLE_FILES["dicom"].read_bytes()[:400]


def test_an_upload_whose_every_file_is_refused_is_failed_and_says_why(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    job = _run(client_for(diego), django_capture_on_commit_callbacks, [_truncated_dicom()])
    assert (job["status"], job["created"], job["files_failed"]) == ("failed", 0, 1)
    assert "refused" in job["error"].lower()
    page = client_for(diego).get(f"/imports/{job['id']}/").content.decode()
    assert job["error"] in page and "cut.dcm" in page  # the reason, and the file's own row


def test_an_upload_with_no_ecg_file_is_failed_and_says_so(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    job = _run(client_for(diego), django_capture_on_commit_callbacks, [("README.md", b"# notes\n")])
    assert (job["status"], job["created"]) == ("failed", 0)
    assert "no ecg" in job["error"].lower() and "README.md" in job["error"]


def test_an_upload_that_stored_some_exams_is_done_and_counts_the_refused_files(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    good = (SAMPLE_FILES["dicom"].name, SAMPLE_FILES["dicom"].read_bytes())
    job = _run(client_for(diego), django_capture_on_commit_callbacks, [good, _truncated_dicom()])
    assert (job["status"], job["created"], job["files_failed"], job["error"]) == ("done", 1, 1, "")
    assert ImportJob.objects.get(pk=job["id"]).status == ImportJob.Status.DONE
