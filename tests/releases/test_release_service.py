"""Releases through the services: created by coordinators only, built once, immutable, audited."""

import hashlib
import json

import pytest

from annotations.models import AuditEvent, Release
from annotations.selectors.releases.plan import ExportRefused
from annotations.services.releases.builds import (
    release_build,
    release_create,
    release_file_key,
    release_file_open,
    release_storage,
)
from tests.exporting import labelled_study
from tests.factories import UserFactory, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


@pytest.fixture
def study(ana, bruno, carol, carla, diego, tnmg):
    return labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)


def stored_bytes(release, name):
    with release_storage().open(release_file_key(release, name), "rb") as handle:
        return handle.read()


def test_a_coordinator_creates_a_release_which_is_queued_and_audited(study, diego):
    release = release_create(actor=diego, batches=[study.batch], target="code15")
    assert release.status == Release.Status.QUEUED
    assert list(release.batches.all()) == [study.batch]
    event = AuditEvent.objects.get(action="release.create", target_id=str(release.pk))
    assert event.actor == diego
    assert event.after["batches"] == [study.batch.pk] and event.after["target"] == "code15"


@pytest.mark.parametrize("persona", ["ana", "bruno", "carla", "eve"])
def test_nobody_but_a_coordinator_creates_a_release(study, persona, request):
    with pytest.raises(PermissionError):
        release_create(actor=request.getfixturevalue(persona), batches=[study.batch])
    assert not Release.objects.exists()


def test_an_unknown_mapping_is_refused(study, diego):
    with pytest.raises(ExportRefused, match="unknown mapping"):
        release_create(actor=diego, batches=[study.batch], target="snomed")


def test_building_a_release_stores_every_file_with_its_checksum(study, diego):
    release = release_build(release_create(actor=diego, batches=[study.batch]).pk)
    assert release.status == Release.Status.DONE and release.exam_count == 4
    names = [f["name"] for f in release.files]
    assert names == sorted(
        [
            "SHA256SUMS",
            "adjudications.csv",
            "consensus.csv",
            "consensus.jsonl",
            "dataset_card.json",
            "dataset_card.md",
            "read_history.csv",
            "reader_accuracy.csv",
            "reads.csv",
            "suggestions.csv",
            "tracings.hdf5",
        ]
    )
    for entry in release.files:
        data = stored_bytes(release, entry["name"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    card = json.loads(stored_bytes(release, "dataset_card.json"))
    assert card["release_date"].startswith(release.created_at.strftime("%Y-%m-%d"))
    assert card["counts"]["exams"] == 4
    event = AuditEvent.objects.get(action="release.build", target_id=str(release.pk))
    assert event.after["files"] == {f["name"]: f["sha256"] for f in release.files}


def test_a_finished_release_is_never_rebuilt(study, diego):
    release = release_build(release_create(actor=diego, batches=[study.batch]).pk)
    finished_at, files = release.finished_at, release.files
    again = release_build(release.pk)
    assert (again.finished_at, again.files) == (finished_at, files)
    assert AuditEvent.objects.filter(action="release.build", target_id=str(release.pk)).count() == 1


def test_an_interrupted_release_rebuilds_to_the_same_bytes(study, diego):
    release = release_build(release_create(actor=diego, batches=[study.batch], target="code15").pk)
    first = release.files
    # A worker that died after writing its files but before marking the release done.
    Release.objects.filter(pk=release.pk).update(status=Release.Status.RUNNING, files=[])
    assert release_build(release.pk).files == first


def test_two_releases_of_the_same_state_have_identical_data_files(study, diego):
    one = release_build(release_create(actor=diego, batches=[study.batch]).pk)
    two = release_build(release_create(actor=diego, batches=[study.batch]).pk)
    data = {
        "adjudications.csv",
        "consensus.csv",
        "consensus.jsonl",
        "read_history.csv",
        "reader_accuracy.csv",
        "reads.csv",
        "suggestions.csv",
        "tracings.hdf5",
    }
    assert {f["name"]: f["sha256"] for f in one.files if f["name"] in data} == {
        f["name"]: f["sha256"] for f in two.files if f["name"] in data
    }


def test_a_release_that_cannot_be_built_is_marked_failed_with_the_reason(study, diego, tnmg, ana):
    from annotations.models import Exam
    from tests.exporting import read
    from tests.factories import make_exam

    slow = make_exam(external_id="slow")
    other = batch_for(tnmg, diego, [ana], [slow], name="250 Hz")
    Exam.objects.filter(pk=slow.pk).update(sampling_rate=250.0)  # a second recorded rate
    read(ana, other, slow, ["NORM"])
    release = release_build(release_create(actor=diego, batches=[study.batch, other], native_rate=True).pk)
    assert release.status == Release.Status.FAILED and "several rates" in release.error
    assert AuditEvent.objects.filter(action="release.failed", target_id=str(release.pk)).exists()


def test_downloading_a_file_is_audited_and_only_for_coordinators(study, diego, ana):
    release = release_build(release_create(actor=diego, batches=[study.batch], hdf5=False).pk)
    with release_file_open(actor=diego, release=release, name="consensus.csv") as handle:
        assert handle.read().startswith(b"row,dataset,exam_id")
    event = AuditEvent.objects.get(action="release.download")
    assert event.actor == diego and event.after["file"] == "consensus.csv"
    with pytest.raises(PermissionError):
        release_file_open(actor=ana, release=release, name="consensus.csv")
    with pytest.raises(FileNotFoundError):
        release_file_open(actor=diego, release=release, name="tracings.hdf5")
