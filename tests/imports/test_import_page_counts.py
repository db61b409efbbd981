"""What the import pages count: the job's progress is in records read, where a refused file counts as
one (it was not an exam), and the list says how many files were refused in a sentence that agrees with
its number."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import ImportJob
from annotations.tasks import imports_run
from tests.importing import SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db
HOSTILE = SAMPLE_FILES["A1986"].parents[1] / "hostile"


def test_refused_files_are_counted_as_files_not_as_exams(
    client_for, diego, settings, tmp_path, django_capture_on_commit_callbacks
):
    use_private_storage(settings, tmp_path)
    paths = [SAMPLE_FILES["A1986"], HOSTILE / "cpsc_nan.mat", HOSTILE / "aecg_billion_laughs.xml"]
    client = client_for(diego)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/imports/",
            {
                "files": [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths],
                "dataset": "mixed",
                "amplitude_scale": "1",
            },
        )
    assert response.status_code == 302
    job = ImportJob.objects.latest("id")
    imports_run.apply(args=(job.pk,)).get()
    job.refresh_from_db()
    assert (job.created, job.files_failed) == (1, 2)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "3 / 3</span> records read (a refused file counts as one)" in page
    listed = client.get("/imports/").content.decode()
    assert "(2 files refused)" in listed
