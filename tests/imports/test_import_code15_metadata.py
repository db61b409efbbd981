"""CODE-15% keeps each exam's age, sex, patient and labels in exams.csv beside its HDF5 parts. A coordinator
uploads the two together (or names a folder holding both): the table is read as the parts' metadata, and
the report says for how many records. Uploaded later, it fills in what the exams stored without it, and
never overwrites what they hold."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import AuditEvent, Exam, ImportJob
from annotations.tasks import imports_run
from tests.importing import api_import, use_private_storage, write_code15, write_exams_csv

pytestmark = pytest.mark.django_db

ROWS = [
    {"exam_id": 501, "age": 71, "is_male": "True", "1dAVb": "True", "AF": "1", "patient_id": "77.0"},
    {"exam_id": 502, "age": 30, "is_male": "False", "normal_ecg": "True", "patient_id": "78"},
]


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


@pytest.fixture
def part(tmp_path):
    folder = tmp_path / "code15"
    folder.mkdir()
    path, _ = write_code15(folder, exams=[(501, 4096), (502, 4000), (503, 3900)])
    return path


def _upload(path, name=None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def _post(client, files, callbacks_fixture) -> dict:
    with callbacks_fixture() as callbacks:
        response = client.post("/imports/", {"files": files, "dataset": "code15", "amplitude_scale": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert len(callbacks) == 1
    job = ImportJob.objects.latest("id")
    imports_run.apply(args=(job.pk,)).get()
    return client.get(f"/imports/{job.pk}/progress/").json()


def _exam(external_id: str) -> Exam:
    return Exam.objects.get(dataset__name="code15", external_id=external_id)


def _labels(external_id: str) -> set[str]:
    return set(_exam(external_id).reference_labels.values_list("code", flat=True))


def test_exams_csv_uploaded_with_its_part_gives_each_exam_its_age_sex_patient_and_labels(
    blobs, part, tmp_path, client_for, diego, django_capture_on_commit_callbacks
):
    table = write_exams_csv(tmp_path / "exams.csv", ROWS)
    progress = _post(client_for(diego), [_upload(part), _upload(table)], django_capture_on_commit_callbacks)
    assert progress["created"] == 3
    first = _exam("501")
    assert (first.age, first.sex, first.patient_pseudo_id) == (71, "M", "77")
    assert _labels("501") == {"1dAVb", "AF"} and _labels("502") == {"normal_ecg"} and _labels("503") == set()
    rows = {row["outcome"]: row for row in progress["outcomes"]}
    assert "ignored" not in rows  # the table is no stray file
    assert rows["metadata"]["file"] == "exams.csv"
    assert rows["metadata"]["message"] == (
        "read as the metadata of exams_part0.hdf5: age, sex, patient and labels for 2 of its 3 records"
    )


def test_the_api_reads_exams_csv_from_the_folder_it_is_given(
    blobs, part, client_for, diego, settings, django_capture_on_commit_callbacks
):
    folder = settings.IMPORT_ROOT / "code15"
    folder.mkdir()
    part.rename(folder / part.name)
    write_exams_csv(folder / "exams.csv", ROWS)
    client = client_for(diego)
    job_id = api_import(client, django_capture_on_commit_callbacks, "code15", ["code15"])
    data = client.get(f"/api/v1/imports/{job_id}/").json()
    assert data["created"] == 3 and _exam("502").age == 30 and _labels("501") == {"1dAVb", "AF"}
    assert [row["file"] for row in data["outcomes"] if row["outcome"] == "metadata"] == ["code15/exams.csv"]


def test_exams_csv_uploaded_later_fills_in_what_the_exams_lack_and_keeps_what_they_hold(
    blobs, part, tmp_path, client_for, diego, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    _post(client, [_upload(part)], django_capture_on_commit_callbacks)
    Exam.objects.filter(external_id="502").update(age=31)  # set by hand meanwhile: never overwritten
    assert _exam("501").age is None and _labels("501") == set()
    table = write_exams_csv(tmp_path / "exams.csv", ROWS)
    progress = _post(client, [_upload(part), _upload(table)], django_capture_on_commit_callbacks)
    assert (progress["created"], progress["unchanged"]) == (0, 3)
    first, second = _exam("501"), _exam("502")
    assert (first.age, first.sex, first.patient_pseudo_id) == (71, "M", "77")
    assert first.reference_codes == "\ncode15:1dAVb\ncode15:AF\n"
    assert (second.age, second.sex) == (31, "F")
    assert _labels("501") == {"1dAVb", "AF"} and _labels("502") == {"normal_ecg"}
    # What each row filled in, present or absent, is kept as read: the rest of CODE's columns stay unknown.
    assert (first.reference_coverage, second.reference_coverage) == (
        ",code15:1dAVb,code15:AF,",
        ",code15:normal_ecg,",
    )
    said = {row["record"]: row["message"] for row in progress["outcomes"] if row["outcome"] == "unchanged"}
    assert said == {
        "501": "filled in: age, sex, patient, 2 reference labels",
        "502": "filled in: sex, patient, 1 reference label; kept the stored age 31 (the file says 30)",
        "503": "",
    }
    audit = AuditEvent.objects.filter(action="exams.import").latest("pk")
    assert audit.after["filled_in"] == 2
    # The same table a third time: nothing left to fill in, nothing said.
    progress = _post(client, [_upload(part), _upload(table)], django_capture_on_commit_callbacks)
    said = {row["record"]: row["message"] for row in progress["outcomes"] if row["outcome"] == "unchanged"}
    assert said == {"501": "", "502": "kept the stored age 31 (the file says 30)", "503": ""}
    assert _exam("501").reference_labels.count() == 2


def test_a_table_with_no_row_for_the_part_says_so(
    blobs, part, tmp_path, client_for, diego, django_capture_on_commit_callbacks
):
    table = write_exams_csv(tmp_path / "exams.csv", [{**ROWS[0], "trace_file": "exams_part9.hdf5"}])
    progress = _post(client_for(diego), [_upload(part), _upload(table)], django_capture_on_commit_callbacks)
    row = next(row for row in progress["outcomes"] if row["outcome"] == "metadata")
    assert row["message"] == (
        "read as the metadata of exams_part0.hdf5: age, sex, patient and labels for 0 of its 3 records"
    )
    assert _exam("501").age is None


def test_exams_csv_without_an_hdf5_part_beside_it_is_still_listed_as_ignored(
    blobs, tmp_path, client_for, diego, django_capture_on_commit_callbacks
):
    from tests.importing import SAMPLE_FILES

    table = write_exams_csv(tmp_path / "exams.csv", ROWS)
    progress = _post(
        client_for(diego),
        [_upload(SAMPLE_FILES["dicom"]), _upload(table)],
        django_capture_on_commit_callbacks,
    )
    assert [row["file"] for row in progress["outcomes"] if row["outcome"] == "ignored"] == ["exams.csv"]
