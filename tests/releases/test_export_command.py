"""manage.py export_labels: the same files as a release, written synchronously, audited."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from annotations.models import AuditEvent
from tests.exporting import labelled_study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(ana, bruno, carla, diego, tnmg):
    carol = UserFactory(username="carol", roles=["reader"])
    return labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_the_command_writes_every_file_and_twice_gives_the_same_bytes(study, diego, tmp_path, capsys):
    for out in ("a", "b"):
        call_command(
            "export_labels",
            "--batch",
            str(study.batch.pk),
            "--out",
            str(tmp_path / out),
            "--map",
            "code15",
            "--user",
            "diego",
            "--no-progress",
        )
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert set(digests(tmp_path / "a")) == {
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
    }
    card = json.loads((tmp_path / "a" / "dataset_card.json").read_text())
    assert card["columns"]["taxonomy"] == "code15" and card["release_date"] == card["data_as_of"]
    assert "4 exams written" in capsys.readouterr().out
    events = AuditEvent.objects.filter(action="export.command")
    assert events.count() == 2 and events.first().actor == diego
    assert events.first().after["files"] == digests(tmp_path / "a")


def test_the_command_refuses_a_non_coordinator_and_unknown_batches(study, ana, tmp_path):
    with pytest.raises(CommandError, match="not a coordinator"):
        call_command("export_labels", "--batch", str(study.batch.pk), "--out", str(tmp_path), "--user", "ana")
    with pytest.raises(CommandError, match="no such batch"):
        call_command("export_labels", "--batch", "999999", "--out", str(tmp_path))
    assert not AuditEvent.objects.filter(action="export.command").exists()
