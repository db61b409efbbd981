"""The same waveform imported twice (another dataset, another external id) goes in, as a dataset may hold
a copy, but the import report warns naming the earlier exam, and each exam's page links the other."""

from __future__ import annotations

import io
import shutil

import pytest
import scipy.io
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotations.models import Exam, ImportJob
from annotations.services.imports.exams import exams_import
from annotations.services.imports.outcomes import ImportOptions
from annotations.tasks import imports_run
from tests.importing import SAMPLE_FILES, use_private_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def upload_job(client, path, dataset: str, callbacks_fixture) -> ImportJob:
    with callbacks_fixture() as callbacks:
        response = client.post(
            "/imports/",
            {
                "files": [SimpleUploadedFile(path.name, path.read_bytes())],
                "dataset": dataset,
                "amplitude_scale": "1",
            },
        )
    assert response.status_code == 302 and len(callbacks) == 1
    job = ImportJob.objects.latest("id")
    imports_run.apply(args=(job.pk,)).get()
    job.refresh_from_db()
    return job


def first_duplicates(client, job: ImportJob) -> int:
    return client.get(f"/api/v1/imports/{job.pk}/").json()["duplicates"]


def test_a_second_import_under_another_dataset_warns_and_names_the_first_exam(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    first = upload_job(client, SAMPLE_FILES["A1986"], "cpsc", django_capture_on_commit_callbacks)
    assert [o["outcome"] for o in first.outcomes] == ["created"]
    assert first.outcomes[0]["exam"] == Exam.objects.get().pk  # each record's row links its exam
    second = upload_job(client, SAMPLE_FILES["A1986"], "copy", django_capture_on_commit_callbacks)
    earlier = Exam.objects.get(dataset__name="cpsc")
    later = Exam.objects.get(dataset__name="copy")
    assert second.created == 1  # not refused
    warning = next(o for o in second.outcomes if o["outcome"] == "duplicate")
    assert warning["record"] == "A1986" and warning["same_as"] == [earlier.pk]
    assert "cpsc/A1986" in warning["message"]
    data = client.get(f"/api/v1/imports/{second.pk}/").json()
    assert any(o["outcome"] == "duplicate" and o["same_as"] == [earlier.pk] for o in data["outcomes"])
    assert warning["exam"] == later.pk
    assert data["duplicates"] == 1 and first_duplicates(client, first) == 0
    report = client.get(f"/imports/{second.pk}/").content.decode()
    assert "cpsc/A1986" in report
    # The report links both exams: the record just imported and the earlier one with its waveform.
    rows = report.split('id="job-outcomes"')[1]
    assert f'href="/exams/{later.pk}/"' in rows and f'href="/exams/{earlier.pk}/"' in rows
    assert '<span data-count="duplicates">1</span>' in report
    later_page = client.get(f"/exams/{later.pk}/").content.decode()
    assert 'id="same-waveform"' in later_page and f'href="/exams/{earlier.pk}/"' in later_page
    earlier_page = client.get(f"/exams/{earlier.pk}/").content.decode()
    assert f'href="/exams/{later.pk}/"' in earlier_page


def test_another_external_id_in_the_same_dataset_is_a_duplicate_too_but_a_reimport_is_not(blobs, tmp_path):
    exams_import([SAMPLE_FILES["A1986"]], dataset="cpsc")
    again = exams_import([SAMPLE_FILES["A1986"]], dataset="cpsc")
    assert [r.outcome for f in again.files for r in f.records] == ["unchanged"]
    copy = tmp_path / "COPY.mat"
    shutil.copy(SAMPLE_FILES["A1986"], copy)
    report = exams_import([copy], dataset="cpsc")
    outcomes = {r.outcome: r for f in report.files for r in f.records}
    assert set(outcomes) == {"created", "duplicate"}
    assert outcomes["duplicate"].same_as == [Exam.objects.get(external_id="A1986").pk]
    assert Exam.objects.count() == 2


def test_readers_never_see_the_links(blobs, client_for, ana, diego):
    exams_import([SAMPLE_FILES["A1986"]], dataset="one")
    exams_import([SAMPLE_FILES["A1986"]], dataset="two")
    for exam in Exam.objects.all():
        assert client_for(ana).get(f"/exams/{exam.pk}/").status_code == 404


def test_the_command_line_names_the_duplicate_and_counts_it(blobs):
    call_command(
        "import_exams", str(SAMPLE_FILES["A1986"]), "--dataset", "cpsc", "--no-progress", stdout=io.StringIO()
    )
    earlier = Exam.objects.get()
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_exams",
        str(SAMPLE_FILES["A1986"]),
        "--dataset",
        "copy",
        "--no-progress",
        stdout=out,
        stderr=err,
    )
    assert (
        f"DUPLICATE {SAMPLE_FILES['A1986']} record A1986: same waveform as cpsc/A1986 (exam {earlier.pk}); "
        "imported anyway" in (err.getvalue())
    )
    assert "1 created, 0 unchanged, 0 skipped, 0 invalid, 1 duplicate(s)" in out.getvalue()


def test_a_reimport_links_the_unchanged_exam_and_a_clash_links_the_exam_it_clashes_with(blobs, tmp_path):
    exams_import([SAMPLE_FILES["A1986"]], dataset="cpsc")
    stored = Exam.objects.get()
    again = exams_import([SAMPLE_FILES["A1986"]], dataset="cpsc")
    assert [(r.outcome, r.exam) for f in again.files for r in f.records] == [("unchanged", stored.pk)]
    other = tmp_path / "A1986.mat"  # another waveform under the same exam id
    content = scipy.io.loadmat(str(SAMPLE_FILES["A1986"]))
    content["ECG"]["data"][0, 0][:, :100] += 7
    scipy.io.savemat(str(other), {"ECG": content["ECG"]})
    clash = exams_import([other], dataset="cpsc", options=ImportOptions(skip_invalid=True))
    [record] = [r for f in clash.files for r in f.records]
    assert (record.outcome, record.exam) == ("error", stored.pk), record
