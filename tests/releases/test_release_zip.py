"""A release downloads under the names its SHA256SUMS lists, and whole as one zip that verifies with
`unzip` and `sha256sum -c SHA256SUMS`."""

import io
import shutil
import subprocess
import zipfile

import pytest
from django.urls import reverse

from annotations.models import AuditEvent
from annotations.services.releases.builds import release_create
from tests.exporting import labelled_study
from tests.factories import UserFactory, release_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


@pytest.fixture
def release(ana, bruno, carol, carla, diego, tnmg):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    return release_of(actor=diego, batches=[study.batch])


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("route", ["release-file", "api-release-file"])
def test_each_file_downloads_under_the_name_sha256sums_gives_it(release, diego, client_for, route):
    client = client_for(diego)
    for entry in release.files:
        response = client.get(reverse(route, args=[release.pk, entry["name"]]))
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{entry["name"]}"'


@pytest.mark.parametrize("route", ["release-zip", "api-release-zip"])
def test_the_whole_release_is_one_zip_that_sha256sum_verifies(release, diego, client_for, route, tmp_path):
    response = client_for(diego).get(reverse(route, args=[release.pk]))
    assert response.status_code == 200
    folder = f"release-{release.pk}"
    assert response["Content-Disposition"] == f'attachment; filename="{folder}.zip"'
    assert response["Content-Type"] == "application/zip"
    data = body(response)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(f"{folder}/{f['name']}" for f in release.files)
    (tmp_path / "download.zip").write_bytes(data)
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-q", "download.zip"], cwd=tmp_path, check=True)
    else:
        zipfile.ZipFile(tmp_path / "download.zip").extractall(tmp_path)
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / folder, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(release.files) - 1  # every file but SHA256SUMS itself
    event = AuditEvent.objects.get(action="release.download", actor=diego)
    assert event.after["file"] == f"{folder}.zip"


def test_the_zip_is_the_same_bytes_every_time(release, diego, client_for):
    client = client_for(diego)
    first, second = (body(client.get(reverse("release-zip", args=[release.pk]))) for _ in range(2))
    assert first == second


def test_the_release_page_offers_the_zip(release, diego, client_for):
    page = client_for(diego).get(reverse("release-detail", args=[release.pk])).content.decode()
    assert reverse("release-zip", args=[release.pk]) in page


@pytest.mark.parametrize("persona", ["ana", "carla", "eve"])
def test_nobody_but_a_coordinator_downloads_the_zip(release, persona, request, client_for):
    client = client_for(request.getfixturevalue(persona))
    for route in ("release-zip", "api-release-zip"):
        assert client.get(reverse(route, args=[release.pk])).status_code == 403


def test_an_unfinished_release_has_no_zip(ana, bruno, carol, carla, diego, tnmg, client_for):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    queued = release_create(actor=diego, batches=[study.batch], hdf5=False)
    assert client_for(diego).get(reverse("api-release-zip", args=[queued.pk])).status_code == 404
