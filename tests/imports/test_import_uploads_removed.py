"""The copies of uploaded files go once their import has finished: the exams' samples are in waveform
storage by then, and a hospital network uploading every day would otherwise keep every file twice, for
ever, under IMPORT_ROOT/uploads. A folder the coordinator imported from the import root is theirs and
stays; a run that stopped part-way keeps the uploads it will need when it is run again."""

from __future__ import annotations

import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Exam, ImportJob
from annotations.tasks import imports_run
from tests.importing import DATA, SAMPLE_FILES, api_import, use_private_storage

pytestmark = pytest.mark.django_db


def _upload(client, capture, *paths) -> ImportJob:
    files = [SimpleUploadedFile(p.name, p.read_bytes(), "application/octet-stream") for p in paths]
    with capture() as callbacks:
        response = client.post("/api/v1/imports/", {"files": files, "dataset": "uploaded"})
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    return ImportJob.objects.get(pk=response.json()["id"])


def test_an_uploads_copies_are_removed_once_its_import_is_done(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    job = _upload(client_for(diego), django_capture_on_commit_callbacks, SAMPLE_FILES["dicom"])
    (folder,) = job.paths
    assert (settings.IMPORT_ROOT / folder).is_dir()
    imports_run.apply(args=(job.pk,)).get()
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 1)
    assert not (settings.IMPORT_ROOT / folder).exists()
    assert Exam.objects.get(dataset__name="uploaded").waveform_key  # the samples are kept where they belong
    assert client_for(diego).get(f"/imports/{job.pk}/").status_code == 200


def test_an_upload_refused_as_a_whole_is_removed_too(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    job = _upload(
        client_for(diego), django_capture_on_commit_callbacks, DATA / "hostile" / "aecg_billion_laughs.xml"
    )
    (folder,) = job.paths
    imports_run.apply(args=(job.pk,)).get()
    job.refresh_from_db()
    assert job.status in ("done", "failed")
    assert not (settings.IMPORT_ROOT / folder).exists()


def test_a_folder_under_the_import_root_is_left_as_it_was(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    folder = settings.IMPORT_ROOT / "hospital-share"
    folder.mkdir()
    shutil.copy(SAMPLE_FILES["dicom"], folder / "ecg.dcm")
    api_import(client_for(diego), django_capture_on_commit_callbacks, "shared", ["hospital-share"])
    assert (folder / "ecg.dcm").is_file()
