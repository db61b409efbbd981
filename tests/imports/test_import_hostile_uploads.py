"""Hostile files uploaded by diego through the real import API: each is refused with a message naming the
file and the reason, nothing is stored (no exam, no blob, no outcome beyond the error), and the server
answers the next request as usual. Bombs are made at test time in tmp_path, never committed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import Exam, ImportJob, ReferenceLabel
from annotations.tasks import imports_run
from tests.data.hostile.make_hostile import gzip_bomb, nested_archive, quadratic_blowup, zip_bomb
from tests.importing import HOSTILE, blob_files, use_private_storage

pytestmark = pytest.mark.django_db
API = "/api/v1/imports/"


@pytest.fixture
def blobs(settings, tmp_path):
    return use_private_storage(settings, tmp_path)


@pytest.fixture
def diegos_client(diego) -> Client:
    client = Client()
    client.force_login(diego)
    return client


def multipart(files: list[tuple[str, bytes]], **fields: str) -> tuple[bytes, str]:
    """The request body a browser would send, written by hand: the test client's own encoder keeps only
    the base name of each file, and these tests need the names exactly as a hostile client sends them."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"dataset": "hostile", "amplitude_scale": "1", **fields}.items()
    ]
    for name, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode("utf-8", "surrogateescape") + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(client: Client, files: list[tuple[str, bytes]], capture, **fields: str):
    body, content_type = multipart(files, **fields)
    with capture() as callbacks:
        response = client.post(API, body, content_type=content_type)
    if response.status_code == 201:  # play the worker, as the queue would
        assert len(callbacks) == 1
        imports_run.apply(args=(response.json()["id"],)).get()
    return response


def nothing_stored(blobs: Path) -> None:
    assert Exam.objects.count() == 0 and ReferenceLabel.objects.count() == 0
    assert blob_files(blobs) == []


def still_serving(client: Client) -> None:
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/imports/").status_code == 200


def refused_at_upload(response, name: str, reason: str) -> None:
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert name in detail and reason in detail, detail
    assert not ImportJob.objects.exists()


def refused_by_the_job(response, name: str, reason: str) -> None:
    assert response.status_code == 201, response.content
    job = ImportJob.objects.get(pk=response.json()["id"])
    # Nothing was stored: the job failed, saying every file was refused.
    assert (job.status, job.files_failed, job.created, job.unchanged) == ("failed", 1, 0, 0)
    assert "Every file was refused" in job.error
    [outcome] = job.outcomes  # the error, and no record outcome besides
    assert outcome["outcome"] == "error" and outcome["file"] == name, outcome
    assert reason in outcome["message"], outcome["message"]
    assert "/uploads/" not in outcome["message"]


# --- Archives: never opened, so neither bombs nor nesting can hurt --------------------------------------
ARCHIVES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "bomb.zip": (zip_bomb, "is a zip archive; archives are not imported"),
    "nested.zip": (nested_archive, "is a zip archive; archives are not imported"),
    "tracings.h5.gz": (gzip_bomb, "is a gzip archive; archives are not imported"),
    # The content decides, not the name: a zip called .h5 is still a zip.
    "disguised.h5": (nested_archive, "is a zip archive; archives are not imported"),
}


@pytest.mark.parametrize("name", ARCHIVES)
def test_an_uploaded_archive_is_refused_unopened(
    name, blobs, diegos_client, django_capture_on_commit_callbacks, tmp_path, settings
):
    make, reason = ARCHIVES[name]
    content = make(tmp_path / "archive").read_bytes()
    assert len(content) < 4 * 1024 * 1024  # a bomb is small on the wire; the danger is inside
    response = upload(diegos_client, [(name, content)], django_capture_on_commit_callbacks)
    refused_at_upload(response, name, reason)
    nothing_stored(blobs)
    assert list((settings.IMPORT_ROOT / "uploads").iterdir()) == []  # the upload itself is gone too
    still_serving(diegos_client)


# --- Content the importer opens, refused per file by the job ------------------------------------------
def corpus(*names: str) -> list[tuple[str, bytes]]:
    return [(name, (HOSTILE / name).read_bytes()) for name in names]


JOB_REFUSALS: dict[str, tuple[Callable[[], list[tuple[str, bytes]]], str, str]] = {
    "xml billion laughs": (lambda: corpus("aecg_billion_laughs.xml"), "", "entity expansion is refused"),
    "xml quadratic blowup": (
        lambda: [("aecg_quadratic.xml", quadratic_blowup().encode())],
        "",
        "entity expansion is refused",
    ),
    "xml external DTD": (lambda: corpus("aecg_external_dtd.xml"), "", "names its DTD by URL"),
    "xml external entity": (lambda: corpus("muse_external_entity.xml"), "", "entity expansion is refused"),
    "xml parameter entity": (lambda: corpus("muse_parameter_entity.xml"), "", "entity expansion is refused"),
    "hdf5 external link": (lambda: corpus("hdf5_external_link.h5"), "", "external link"),
    "hdf5 10^12 samples": (lambda: corpus("hdf5_trillion_samples.h5"), "", "expanding over 100x is refused"),
    "hdf5 2 million records": (lambda: corpus("hdf5_too_many_records.h5"), "", "more than the limit"),
    "hdf5 NaN and inf": (lambda: corpus("hdf5_nan_and_inf.h5"), "", "NaN or infinite samples"),
    "mat NaN": (lambda: corpus("cpsc_nan.mat"), "", "NaN or infinite samples"),
    "mat inf": (lambda: corpus("cpsc_inf.mat"), "", "NaN or infinite samples"),
    "wfdb header shorter than its data": (
        lambda: corpus("wfdb_long_data.hea", "wfdb_long_data.dat"),
        "wfdb_long_data.hea",
        "the sample count does not match the data",
    ),
    "wfdb header longer than its data": (
        lambda: corpus("wfdb_short_data.hea", "wfdb_short_data.dat"),
        "wfdb_short_data.hea",
        "the sample count does not match the data",
    ),
    "wfdb header naming ../escape.dat": (lambda: corpus("wfdb_escape.hea"), "", "points outside its folder"),
    "wfdb header declaring 10^10 samples": (lambda: corpus("wfdb_huge.hea"), "", "10000000000 samples"),
    "ptb-xl csv escaping the folder": (
        lambda: [("ptbxl_database.csv", (HOSTILE / "ptbxl_escape/ptbxl_database.csv").read_bytes())],
        "",
        "points outside its folder",
    ),
    "ptb-xl csv naming an absolute path": (
        lambda: [("ptbxl_database.csv", (HOSTILE / "ptbxl_absolute/ptbxl_database.csv").read_bytes())],
        "",
        "points outside its folder",
    ),
}


@pytest.mark.parametrize("case", JOB_REFUSALS)
def test_a_hostile_file_is_refused_naming_the_file_and_the_reason(
    case, blobs, diegos_client, django_capture_on_commit_callbacks
):
    make, shown_as, reason = JOB_REFUSALS[case]
    files = make()
    response = upload(diegos_client, files, django_capture_on_commit_callbacks)
    # A PTB-XL upload is its folder, shown by its database file; a WFDB record by its header.
    expected = shown_as or files[0][0]
    refused_by_the_job(response, expected, reason)
    nothing_stored(blobs)
    still_serving(diegos_client)


# --- Names: the browser's file name is never a path on the server --------------------------------------
@pytest.mark.parametrize(
    "name",
    ["../../../../tmp/evil.xml", "/etc/cron.d/evil.xml", "..\\..\\windows\\evil.xml", "evil\x00.xml"],
)
def test_an_upload_name_cannot_place_a_file_outside_the_upload_folder(
    name, blobs, diegos_client, django_capture_on_commit_callbacks, settings, tmp_path
):
    content = (HOSTILE / "aecg_billion_laughs.xml").read_bytes()
    response = upload(diegos_client, [(name, content)], django_capture_on_commit_callbacks)
    refused_by_the_job(response, "evil.xml", "entity expansion is refused")
    # The job read it as evil.xml in its own upload folder, which went once the job was done: nothing
    # was written anywhere else under the import root either.
    assert not [p for p in settings.IMPORT_ROOT.rglob("*") if p.is_file()]
    assert not (tmp_path / "tmp").exists() and not Path("/etc/cron.d/evil.xml").exists()
    nothing_stored(blobs)
    still_serving(diegos_client)


@pytest.mark.parametrize("name", ["..", ".", "/"])
def test_an_upload_whose_name_is_only_dots_or_slashes_is_no_file_at_all(
    name, blobs, diegos_client, django_capture_on_commit_callbacks
):
    response = upload(diegos_client, [(name, b"<x/>")], django_capture_on_commit_callbacks)
    refused_at_upload(response, "", "choose at least one file")
    nothing_stored(blobs)
    still_serving(diegos_client)


# --- Sizes ---------------------------------------------------------------------------------------------
def test_an_upload_over_import_max_file_mb_is_refused_before_a_job_exists(
    blobs, diegos_client, django_capture_on_commit_callbacks, settings
):
    settings.IMPORT_MAX_FILE_MB = 1
    # 3 MB: over FILE_UPLOAD_MAX_MEMORY_SIZE too, so Django spools it to a temporary file first.
    content = (HOSTILE / "hdf5_nan_and_inf.h5").read_bytes().ljust(3 * 1024 * 1024, b"\0")
    response = upload(diegos_client, [("big.h5", content)], django_capture_on_commit_callbacks)
    refused_at_upload(response, "big.h5", "over the upload limit of 1 MB (IMPORT_MAX_FILE_MB)")
    assert list((settings.IMPORT_ROOT / "uploads").iterdir()) == []
    nothing_stored(blobs)
    still_serving(diegos_client)


def test_form_fields_over_data_upload_max_memory_size_are_refused(
    blobs, diegos_client, django_capture_on_commit_callbacks, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    files = corpus("cpsc_inf.mat")
    response = upload(diegos_client, files, django_capture_on_commit_callbacks, dataset="x" * (128 * 1024))
    assert response.status_code == 400
    assert not ImportJob.objects.exists()
    nothing_stored(blobs)
    still_serving(diegos_client)


def test_more_files_than_data_upload_max_number_files_are_refused(
    blobs, diegos_client, django_capture_on_commit_callbacks, settings
):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    files = [(f"exam{i}.xml", b"<RestingECG/>") for i in range(4)]
    response = upload(diegos_client, files, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert not ImportJob.objects.exists()
    nothing_stored(blobs)
    still_serving(diegos_client)


def test_an_xml_upload_over_import_max_xml_mb_is_refused_before_a_job_exists(
    blobs, diegos_client, django_capture_on_commit_callbacks, settings
):
    settings.IMPORT_MAX_XML_MB = 1
    real = (HOSTILE.parent / "hl7-aecg" / "Example_aECG.xml").read_bytes()  # 0.5 MB: a real 10 s aECG
    # The content decides, not the name: XML called .dat is held to the XML limit too.
    padded = real + b"\n" + b" " * (2 * 1024 * 1024)
    for name in ("long_aecg.xml", "long_aecg.dat"):
        response = upload(diegos_client, [(name, padded)], django_capture_on_commit_callbacks)
        refused_at_upload(response, name, "over the XML upload limit of 1 MB (IMPORT_MAX_XML_MB)")
        assert list((settings.IMPORT_ROOT / "uploads").iterdir()) == []
    nothing_stored(blobs)
    # A real file under the limit imports.
    accepted = upload(diegos_client, [("Example_aECG.xml", real)], django_capture_on_commit_callbacks)
    assert accepted.status_code == 201 and Exam.objects.count() == 1


def test_an_empty_file_among_several_is_refused_by_its_name(
    blobs, diegos_client, django_capture_on_commit_callbacks
):
    """One empty file in an upload of several: the whole upload is refused, as before, and the answer (the
    API's detail, the page's message) names the file, not its place in the list."""
    from tests.importing import SAMPLE_FILES

    good = SAMPLE_FILES["A1986"]
    files = [(path.name, path.read_bytes()) for path in sorted(good.parent.glob(f"{good.stem}.*"))]
    response = upload(diegos_client, [*files, ("empty-record.dat", b"")], django_capture_on_commit_callbacks)
    refused_at_upload(response, "empty-record.dat", "is empty")
    nothing_stored(blobs)
    body, content_type = multipart([*files, ("empty-record.dat", b"")])
    page = diegos_client.post("/imports/", body, content_type=content_type)
    assert "empty-record.dat" in page.content.decode() and "is empty" in page.content.decode()
    assert not ImportJob.objects.exists()


# --- Names longer than a file system keeps ------------------------------------------------------------
def test_an_upload_named_in_more_than_255_bytes_is_refused_by_its_name(blobs, diegos_client, settings):
    name = "é" * 200 + ".xml"  # 200 characters, 404 bytes in UTF-8
    response = diegos_client.post(API, {"dataset": "hostile", "files": [SimpleUploadedFile(name, b"<x/>")]})
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "404 bytes" in detail and "255" in detail, detail
    assert not ImportJob.objects.exists()
    assert list((settings.IMPORT_ROOT / "uploads").iterdir()) == []
    nothing_stored(blobs)
    still_serving(diegos_client)


@pytest.mark.parametrize("path", ["a" * 300, "wfdb/" + "é" * 150 + ".hea"])
def test_an_import_path_too_long_for_the_file_system_is_refused_by_the_api(
    path, blobs, diegos_client, settings
):
    response = diegos_client.post(
        API, {"dataset": "hostile", "paths": [path]}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "too long" in response.json()["detail"], response.json()
    assert not ImportJob.objects.exists()
    nothing_stored(blobs)
    still_serving(diegos_client)
