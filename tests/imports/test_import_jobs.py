"""Imports from the upload page, the API and the command line; coordinators only."""

import json
import warnings

import pytest
from django.core.cache import CacheKeyWarning, cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotations.models import AuditEvent, Exam, ImportJob
from annotations.tasks import imports_run
from tests.importing import DATA, SAMPLE_FILES, api_import, blob_files, use_private_storage, write_code15

pytestmark = pytest.mark.django_db


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


def upload(path):
    return SimpleUploadedFile(path.name, path.read_bytes())


def upload_one_record(client, capture_on_commit) -> None:
    """Upload one CPSC record into dataset "c" on the Imports page, and run the job as a worker would."""
    with capture_on_commit() as callbacks:
        client.post(
            "/imports/", {"files": [upload(SAMPLE_FILES["A1986"])], "dataset": "c", "amplitude_scale": "1"}
        )
    run_queued(callbacks)


def run_queued(callbacks) -> None:
    """Play the worker: the job was queued on commit; run its task as a worker would."""
    assert len(callbacks) == 1
    job = ImportJob.objects.latest("id")
    imports_run.apply(args=(job.pk,)).get()


def test_a_coordinator_uploads_a_wfdb_record_and_follows_it_to_the_end(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    assert client.get("/imports/").status_code == 200
    files = [upload(DATA / "wfdb/cinc2021/HR06000.hea"), upload(DATA / "wfdb/cinc2021/HR06000.mat")]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/imports/", {"files": files, "dataset": "cinc", "format": "", "amplitude_scale": "1"}
        )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == f"/imports/{job.pk}/"
    assert client.get(f"/imports/{job.pk}/progress/").json()["status"] == "queued"
    run_queued(callbacks)
    progress = client.get(f"/imports/{job.pk}/progress/").json()
    assert (progress["status"], progress["total"], progress["done"], progress["created"]) == ("done", 1, 1, 1)
    exam = Exam.objects.get()
    assert progress["outcomes"] == [
        {"file": "HR06000.hea", "record": "HR06000", "outcome": "created", "message": "", "exam": exam.pk}
    ]
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert (
        f'<a href="/exams/{exam.pk}/">HR06000</a>' in page
        and 'src="/static/js/pages/imports.js"' in page
        and "<script>" not in page
    )
    assert Exam.objects.get().external_id == "HR06000"
    assert (job.coordinator, AuditEvent.objects.filter(action="import_job.done").count()) == (diego, 1)


def test_a_refused_upload_shows_the_file_and_the_reason(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    hostile = DATA / "hostile/aecg_billion_laughs.xml"
    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/imports/", {"files": [upload(hostile)], "dataset": "x", "amplitude_scale": "1"})
    run_queued(callbacks)
    job = ImportJob.objects.get()
    assert job.files_failed == 1
    [outcome] = job.outcomes
    assert outcome["file"] == "aecg_billion_laughs.xml"
    assert "entity expansion is refused" in outcome["message"]
    assert "/uploads/" not in outcome["message"]  # the server's folders are not shown
    assert Exam.objects.count() == 0 and blob_files(blobs) == []


def test_an_uploaded_file_that_is_no_ecg_is_listed_as_ignored_with_its_reason(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    client = client_for(diego)
    notes = SimpleUploadedFile("notes.txt", b"exported from the cart on Monday\n")
    dicom = SimpleUploadedFile("IM0001", (DATA / "dicom/waveform_ecg.dcm").read_bytes())  # no extension
    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/imports/", {"files": [notes, dicom], "dataset": "d", "amplitude_scale": "1"})
    run_queued(callbacks)
    job = ImportJob.objects.get()
    assert (job.created, job.files_failed) == (1, 0)
    ignored = [o for o in job.outcomes if o["outcome"] == "ignored"]
    assert ignored == [
        {
            "file": "notes.txt",
            "record": "",
            "outcome": "ignored",
            "message": "notes.txt is not in a format ECG Review reads "
            "(HDF5, WFDB, aECG, MUSE, Philips XML, SCP-ECG, DICOM, EDF, CPSC .mat)",
        }
    ]
    assert Exam.objects.get().source_format == "dicom"


def test_a_big_job_lists_every_problem_first_and_only_so_many_created_records(
    blobs, client_for, diego, django_capture_on_commit_callbacks, monkeypatch
):
    from annotations.services.imports import jobs as imports

    monkeypatch.setattr(imports, "OUTCOMES_LISTED", 2)
    client = client_for(diego)
    records = sorted((DATA / "wfdb/cinc2021").iterdir())  # four records, a .hea and a .mat each
    notes = SimpleUploadedFile("notes.txt", b"not an ECG\n")
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(
            "/imports/",
            {"files": [*map(upload, records), notes], "dataset": "big", "amplitude_scale": "1"},
        )
    run_queued(callbacks)
    job = ImportJob.objects.get()
    assert job.created == 4 and Exam.objects.count() == 4
    assert [o["outcome"] for o in job.outcomes] == ["ignored", "created", "created"]
    progress = client.get(f"/imports/{job.pk}/progress/").json()
    assert progress["not_listed"] == 2
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert '<span data-count="not_listed">2</span>' in page and 'id="job-not-listed" class="muted">' in page


def test_an_upload_over_the_size_limit_is_refused_before_a_job_exists(blobs, client_for, diego, settings):
    settings.IMPORT_MAX_FILE_MB = 1
    big = SimpleUploadedFile("big.h5", b"\0" * (1024 * 1024 + 1))
    response = client_for(diego).post("/imports/", {"files": [big], "dataset": "x", "amplitude_scale": "1"})
    assert response.status_code == 200
    assert "over the upload limit of 1 MB" in response.content.decode()
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("persona", ["ana", "carla", "eve"])
def test_only_coordinators_can_open_the_import_pages_or_api(persona, request, client_for, blobs, diego):
    user = request.getfixturevalue(persona)
    job = ImportJob.objects.create(coordinator=diego, dataset_name="x")
    client = client_for(user)
    assert client.get("/imports/").status_code == 403
    assert client.get(f"/imports/{job.pk}/progress/").status_code == 403
    assert client.post("/api/v1/imports/", {"dataset": "x"}).status_code == 403
    assert client.get(f"/api/v1/imports/{job.pk}/").status_code == 403


def test_the_api_imports_a_folder_under_the_import_root_and_reports_each_record(
    blobs, client_for, diego, settings, django_capture_on_commit_callbacks
):
    import shutil

    shutil.copytree(DATA / "ptbxl", settings.IMPORT_ROOT / "ptbxl")
    client = client_for(diego)
    job_id = api_import(client, django_capture_on_commit_callbacks, "ptbxl", ["ptbxl"])
    data = client.get(f"/api/v1/imports/{job_id}/").json()
    assert (data["status"], data["created"], data["finished"]) == ("done", 1, True)
    assert data["outcomes"][0]["record"] == "1"


def test_the_api_refuses_paths_outside_the_import_root(blobs, client_for, diego):
    response = client_for(diego).post(
        "/api/v1/imports/",
        data=json.dumps({"dataset": "x", "paths": ["../../../etc"]}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "outside the import root" in response.json()["detail"]
    assert ImportJob.objects.count() == 0


def test_the_api_accepts_multipart_uploads(blobs, client_for, diego, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post(
            "/api/v1/imports/", {"dataset": "dicom", "files": [upload(SAMPLE_FILES["dicom"])]}
        )
    assert response.status_code == 201, response.content
    run_queued(callbacks)
    assert Exam.objects.get().source_format == "dicom"


def test_running_a_job_twice_changes_nothing_the_second_time(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    upload_one_record(client_for(diego), django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    finished = job.finished_at
    imports_run.apply(args=(job.pk,)).get()  # a redelivered message
    job.refresh_from_db()
    assert (job.finished_at, job.created, Exam.objects.count()) == (finished, 1, 1)


def test_the_command_prints_progress_and_a_summary(blobs, capsys):
    call_command("import_exams", str(DATA / "wfdb/cinc2021"), dataset="cli")
    out, err = capsys.readouterr()
    assert "4 file(s), 0 failed, 0 ignored; exams: 4 created, 0 unchanged, 0 skipped, 0 invalid" in out
    assert "4/4 exams" in err and "exam/s" in err
    call_command("import_exams", str(DATA / "wfdb/cinc2021"), dataset="cli", no_progress=True)
    assert "0 created, 4 unchanged" in capsys.readouterr().out


def _code15_upload(tmp_path, n: int, name: str = "exams_part0.hdf5"):
    path, _ = write_code15(tmp_path, exams=[(i, 4096) for i in range(1, n + 1)], name=name)
    return upload(path)


def test_an_import_of_many_exams_queues_their_quality_reports_under_a_key_every_cache_accepts(
    blobs, client_for, diego, django_capture_on_commit_callbacks, tmp_path
):
    """The worker's "queued" marker of a task named its list of exam ids, spaces and all: hundreds of
    characters, which Django warns about on every import (and memcached would refuse)."""
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(diego).post(
            "/api/v1/imports/", {"dataset": "code15", "files": [_code15_upload(tmp_path, 120)]}
        )
    assert response.status_code == 201, response.content
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with django_capture_on_commit_callbacks(execute=True) as queued:
            run_queued(callbacks)
    assert Exam.objects.count() == 120 and len(queued) == 1  # the quality reports' task
    assert [str(w.message)[:60] for w in warned if issubclass(w.category, CacheKeyWarning)] == []


def test_an_import_run_again_after_its_worker_died_reports_the_exams_it_had_created(
    blobs, client_for, diego, django_capture_on_commit_callbacks, monkeypatch, tmp_path
):
    """The worker died once every file was in but before the job was finished: the broker delivers the
    job again, which finds each exam stored. Those are the job's own: created, not unchanged."""
    from annotations.services.imports import jobs

    client = client_for(diego)
    files = [_code15_upload(tmp_path, 30)]
    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/imports/", {"files": files, "dataset": "code15", "amplitude_scale": "1"})
    job = ImportJob.objects.get()

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(jobs, "_job_finish", killed)
    with pytest.raises(SystemExit):
        jobs.import_job_run(job.pk)
    monkeypatch.undo()
    assert (ImportJob.objects.get().status, Exam.objects.count()) == ("running", 30)
    cache.delete(jobs.alive_key(job.pk))  # the dead worker's heartbeat has run out
    run_queued(callbacks)  # the message delivered again
    progress = client.get(f"/imports/{job.pk}/progress/").json()
    assert (progress["status"], progress["created"], progress["unchanged"]) == ("done", 30, 0)
    assert {o["outcome"] for o in progress["outcomes"]} == {"created"}
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert '<span data-count="created">30</span>' in page
    assert '<span data-count="unchanged">0</span>' in page
    exam_page = client.get(f"/exams/{Exam.objects.first().pk}/").content.decode()
    assert f'<a href="/imports/{job.pk}/">import job {job.pk}</a>' in exam_page

    # Another job bringing the same file finds exams some other import created: unchanged.
    with django_capture_on_commit_callbacks() as again:
        form = {"files": [_code15_upload(tmp_path, 30)], "dataset": "code15", "amplitude_scale": "1"}
        client.post("/imports/", form)
    run_queued(again)
    second = client.get(f"/imports/{ImportJob.objects.latest('id').pk}/progress/").json()
    assert (second["created"], second["unchanged"]) == (0, 30)


def test_the_same_file_twice_in_one_upload_counts_its_exams_created_once(
    blobs, client_for, diego, django_capture_on_commit_callbacks, tmp_path
):
    """The second copy finds the exams the first copy made in this very run: unchanged, not created
    again, whether the run is the job's first or one delivered again after its worker died."""
    from annotations.services.imports import jobs

    client = client_for(diego)
    files = [_code15_upload(tmp_path, 5, name="a.hdf5"), _code15_upload(tmp_path, 5, name="b.hdf5")]
    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/imports/", {"files": files, "dataset": "code15", "amplitude_scale": "1"})
    job = ImportJob.objects.get()
    run_queued(callbacks)
    progress = client.get(f"/imports/{job.pk}/progress/").json()
    assert (progress["created"], progress["unchanged"], Exam.objects.count()) == (5, 5, 5)

    ImportJob.objects.filter(pk=job.pk).update(status="running")  # as if its worker had died at the end
    cache.delete(jobs.alive_key(job.pk))
    jobs.import_job_run(job.pk)
    progress = client.get(f"/imports/{job.pk}/progress/").json()
    assert (progress["created"], progress["unchanged"], Exam.objects.count()) == (5, 5, 5)


def test_more_files_than_one_upload_takes_are_refused_saying_how_many_it_takes(
    blobs, client_for, diego, settings
):
    """Django's own refusal was a bare 400 page, on the API too, and the form never said the number."""
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = settings.IMPORT_MAX_FILES = 2
    client = client_for(diego)
    files = [upload(DATA / f"wfdb/cinc2021/{name}") for name in ("HR06000.hea", "HR06000.mat", "E07500.hea")]
    page = client.post("/imports/", {"files": files, "dataset": "cinc", "amplitude_scale": "1"})
    text = page.content.decode()
    assert page.status_code == 400 and "More files were chosen than one upload takes: at most 2" in text
    assert "server&#x27;s import folder" in text or "server's import folder" in text
    assert "up to 2 files an upload" in client.get("/imports/").content.decode()  # said beforehand
    files = [upload(DATA / f"wfdb/cinc2021/{name}") for name in ("HR06000.hea", "HR06000.mat", "E07500.hea")]
    response = client.post("/api/v1/imports/", {"files": files, "dataset": "cinc"})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert "one upload takes: at most 2" in response.json()["files"][0]
    assert ImportJob.objects.count() == 0


def test_the_outcomes_of_a_job_read_in_portuguese(
    blobs, client_for, diego, django_capture_on_commit_callbacks
):
    from django.conf import settings

    upload_one_record(client_for(diego), django_capture_on_commit_callbacks)
    client = client_for(diego)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    page = client.get(f"/imports/{ImportJob.objects.get().pk}/").content.decode()
    assert '<span class="tag" data-outcome="created">criado</span>' in page
    assert '<span data-outcome="duplicate">duplicado</span>' in page  # for the script's own rows


def test_a_reader_library_failing_inside_says_so_in_words_not_its_exception(
    blobs, client_for, diego, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    """A bug inside a format library (an UnboundLocalError in its parser, as a tester met) is no refusal
    of ours to pass on raw: the coordinator reads what failed and where the details are."""
    from annotations.lib.formats import dicom

    def broken(path, options):
        raise UnboundLocalError("cannot access local variable 'tag' where it is not associated with a value")
        yield  # a generator, like every reader

    monkeypatch.setattr(dicom, "read", broken)
    client = client_for(diego)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/api/v1/imports/", {"dataset": "dicom", "files": [upload(SAMPLE_FILES["dicom"])]})
    run_queued(callbacks)
    job = ImportJob.objects.get()
    [outcome] = client.get(f"/imports/{job.pk}/progress/").json()["outcomes"]
    assert outcome["outcome"] == "error"
    assert "UnboundLocalError" not in outcome["message"] and "local variable" not in outcome["message"]
    assert "DICOM waveform reader failed on this file" in outcome["message"]
    assert "server log" in outcome["message"]
    assert "UnboundLocalError" in caplog.text  # the operator's log keeps the whole traceback
