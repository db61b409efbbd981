"""The release pages and API: coordinators only, for every persona; files come back as checksummed."""

import hashlib

import pytest
from django.conf import settings
from django.urls import reverse

from annotations.models import AuditEvent, Release
from annotations.services.releases.builds import release_build
from tests.exporting import labelled_study
from tests.factories import UserFactory, release_of

pytestmark = pytest.mark.django_db
OUTSIDERS = ["ana", "bruno", "carla", "eve"]


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


@pytest.fixture
def study(ana, bruno, carol, carla, diego, tnmg):
    return labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)


@pytest.fixture
def release(study, diego):
    return release_of(actor=diego, batches=[study.batch])


def urls(release):
    return [
        reverse("releases"),
        reverse("release-detail", args=[release.pk]),
        reverse("release-progress", args=[release.pk]),
        reverse("release-file", args=[release.pk, "consensus.csv"]),
        reverse("api-release-list"),
        reverse("api-release-detail", args=[release.pk]),
        reverse("api-release-file", args=[release.pk, "consensus.csv"]),
    ]


@pytest.mark.parametrize("persona", OUTSIDERS)
def test_readers_adjudicators_and_outsiders_get_403_everywhere(release, persona, request, client_for):
    client = client_for(request.getfixturevalue(persona))
    for url in urls(release):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(
            reverse("api-release-list"), {"batches": [1]}, content_type="application/json"
        ).status_code
        == 403
    )
    assert not AuditEvent.objects.filter(action="release.download").exists()


def test_anonymous_visitors_are_sent_to_log_in_or_refused(release, client):
    for url in urls(release):
        assert client.get(url).status_code in (302, 403), url


def test_the_coordinator_sees_the_list_the_detail_and_every_checksum(release, diego, client_for):
    client = client_for(diego)
    assert release.name in client.get(reverse("releases")).content.decode()
    page = client.get(reverse("release-detail", args=[release.pk])).content.decode()
    for entry in release.files:
        assert entry["sha256"] in page and entry["name"] in page
    assert "<script>" not in page  # CSP: no inline script
    progress = client.get(reverse("release-progress", args=[release.pk])).json()
    assert progress["status"] == "done" and progress["finished"]


def test_the_release_page_shows_the_dataset_card_as_its_file_says_it(release, diego, client_for):
    """A walk found the card only as a download: the page now shows it, the same text, escaped, and
    showing it is no download (nothing audited as one)."""
    from html import unescape

    from annotations.models import AuditEvent

    client = client_for(diego)
    downloads = AuditEvent.objects.filter(action="release.download").count()
    page = client.get(reverse("release-detail", args=[release.pk])).content.decode()
    shown = unescape(page.split('<pre class="dataset-card">', 1)[1].split("</pre>", 1)[0])
    download = client.get(reverse("release-file", args=[release.pk, "dataset_card.md"]))
    card = b"".join(download.streaming_content)
    assert shown == card.decode("utf-8") and shown.startswith("# ")
    assert AuditEvent.objects.filter(action="release.download").count() == downloads + 1  # the file, only


def test_the_coordinator_downloads_files_with_the_recorded_checksum(release, diego, client_for):
    client = client_for(diego)
    for url in (
        reverse("release-file", args=[release.pk, "consensus.csv"]),
        reverse("api-release-file", args=[release.pk, "consensus.csv"]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        data = b"".join(response.streaming_content)
        expected = next(f["sha256"] for f in release.files if f["name"] == "consensus.csv")
        assert hashlib.sha256(data).hexdigest() == expected
    assert AuditEvent.objects.filter(action="release.download", actor=diego).count() == 2


def test_unknown_files_and_releases_are_404_for_the_coordinator(release, diego, client_for):
    client = client_for(diego)
    assert client.get(reverse("release-file", args=[release.pk, "secrets.txt"])).status_code == 404
    assert client.get(reverse("release-file", args=[release.pk, "tracings.hdf5"])).status_code == 404
    assert client.get(reverse("release-detail", args=[release.pk + 1000])).status_code == 404
    assert client.get(reverse("api-release-detail", args=[release.pk + 1000])).status_code == 404


def test_the_coordinator_creates_a_release_from_the_page(study, diego, client_for):
    client = client_for(diego)
    response = client.post(
        reverse("releases"), {"batches": [study.batch.pk], "target": "code15", "hdf5": "on", "name": "v1"}
    )
    release = Release.objects.get(name="v1")
    assert response.status_code == 302 and response["Location"] == reverse(
        "release-detail", args=[release.pk]
    )
    assert (release.target, release.options) == (
        "code15",
        {"hdf5": True, "native_rate": False, "shard_exams": settings.RELEASE_SHARD_EXAMS},
    )


def test_the_coordinator_creates_and_reads_a_release_through_the_api(study, diego, client_for):
    client = client_for(diego)
    response = client.post(
        reverse("api-release-list"),
        {"batches": [study.batch.pk], "target": "ptbxl-scp", "hdf5": False},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["target"], body["batches"]) == ("queued", "ptbxl-scp", [study.batch.pk])
    release_build(body["id"])
    detail = client.get(reverse("api-release-detail", args=[body["id"]])).json()
    assert detail["status"] == "done" and detail["exam_count"] == 4
    assert {f["name"] for f in detail["files"]} >= {"consensus.csv", "SHA256SUMS", "dataset_card.json"}
    assert [r["id"] for r in client.get(reverse("api-release-list")).json()] == [body["id"]]


def test_the_api_refuses_batches_that_do_not_exist(diego, client_for):
    response = client_for(diego).post(
        reverse("api-release-list"), {"batches": [424242]}, content_type="application/json"
    )
    assert response.status_code == 400


def test_the_coordinator_sees_who_each_pseudonym_of_the_release_is_on_its_page_and_in_the_api(
    release, diego, client_for, ana, bruno, carol, carla
):
    """The files name readers R01.. and adjudicators A01.., never the account; the coordinator, who may
    know, reads the key on the release's page and in its API answer, which only they can open. The key
    is the one the files were written with, whatever happens to the batches afterwards."""
    client = client_for(diego)
    files = {
        name: client.get(reverse("api-release-file", args=[release.pk, name])).getvalue().decode()
        for name in ("reads.csv", "adjudications.csv")
    }
    in_files = {line.split(",")[0] for text in files.values() for line in text.splitlines()[1:]}
    readers = sorted([ana, bruno, carol], key=lambda user: user.pk)
    # The key names the person as their account does now; the files never do.
    ana.first_name, ana.last_name = "Ana", "Souza"
    ana.save()
    expected = [{"pseudonym": "A01", "username": "carla", "name": carla.get_full_name()}] + [
        {"pseudonym": f"R{i + 1:02d}", "username": user.username, "name": user.get_full_name()}
        for i, user in enumerate(readers)
    ]
    detail = client.get(reverse("api-release-detail", args=[release.pk])).json()
    assert [
        {k: row[k] for k in ("pseudonym", "username", "name")} for row in detail["pseudonym_key"]
    ] == expected
    assert in_files == {row["pseudonym"] for row in expected}
    assert not any(user.username in text for text in files.values() for user in (ana, bruno, carol, carla))
    assert not any("Souza" in text for text in files.values())
    page = client.get(reverse("release-detail", args=[release.pk])).content.decode()
    assert 'id="pseudonym-key"' in page
    for row in expected:
        assert (
            f"<td>{row['pseudonym']}</td><td>{row['username']}</td><td>{row['name'] or '—'}</td><td>" in page
        )
    assert "Ana Souza" in page
    # Kept as built: a reader who joins the batch later does not shift R01...
    Release.objects.filter(pk=release.pk).update(pseudonym_key={"R01": bruno.pk})
    (kept,) = client.get(reverse("api-release-detail", args=[release.pk])).json()["pseudonym_key"]
    assert (kept["pseudonym"], kept["username"], kept["name"]) == ("R01", "bruno", bruno.get_full_name())


def test_the_key_says_which_reader_letter_of_the_adjudication_pages_each_release_pseudonym_is(
    release, study, diego, client_for, ana, bruno, carol
):
    """The adjudication pages and the agreement tables of a batch call its readers Reader A, B… in an
    order drawn per batch; the release calls them R01, R02… A coordinator checking one against the other
    mixed them up (R01 was Reader B): the key gives both names side by side."""
    from annotations.selectors.blinding import batch_pseudonyms

    letters = batch_pseudonyms(study.batch)
    client = client_for(diego)
    rows = {
        row["username"]: row
        for row in client.get(reverse("api-release-detail", args=[release.pk])).json()["pseudonym_key"]
    }
    for reader in (ana, bruno, carol):
        assert rows[reader.username]["batch_letters"] == [
            {"batch": study.batch.pk, "letter": letters[reader.pk]}
        ]
    page = client.get(reverse("release-detail", args=[release.pk])).content.decode()
    key = page.split('id="pseudonym-key"', 1)[1].split("</table>", 1)[0]
    for reader in (ana, bruno, carol):
        row = key.split(f"<td>{reader.username}</td>", 1)[1].split("</tr>", 1)[0]
        assert f"#{study.batch.pk}: {letters[reader.pk]}" in row, row
    # In Portuguese, as the agreement and adjudication pages say them: "Leitor A", not "Reader A".
    client.cookies["django_language"] = "pt-br"
    page = client.get(reverse("release-detail", args=[release.pk])).content.decode()
    key = page.split('id="pseudonym-key"', 1)[1].split("</table>", 1)[0]
    assert "Reader " not in key
    for reader in (ana, bruno, carol):
        letter = letters[reader.pk].removeprefix("Reader ")
        assert f"#{study.batch.pk}: Leitor {letter}" in key, key
