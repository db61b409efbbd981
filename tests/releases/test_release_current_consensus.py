"""A release asked for right after the last reads, before the delayed agreement recomputation has run,
is built from consensus brought up to date with every read it exports: never a unanimous positive written
0, or a tie written as a decided 0, because the stored consensus had not caught up yet."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from annotations.models import Release
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.releases.builds import release_build
from tests.adjudication.test_adjudication import read
from tests.factories import UserFactory, batch_for, make_exam

pytestmark = pytest.mark.django_db


def file_text(client, release, name: str) -> str:
    return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()


def _fresh_batch(diego, tnmg, *, computed_before: bool):
    """Three exams whose last reads' recomputation has not run (it is queued with its delay): a
    unanimous 1dAVb, a tie on it, and no 1dAVb."""
    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("one", "two"))
    exams = [make_exam(seed=i) for i in range(3)]
    batch = batch_for(tnmg, diego, [one, two], exams, name="Fresh")
    read(one, batch, exams[2], ["SB"])
    read(two, batch, exams[2], ["SB"])
    if computed_before:
        batch_agreement_compute(batch.pk)
    read(one, batch, exams[0], ["SB", "1dAVb"])
    read(two, batch, exams[0], ["SB", "1dAVb"])
    read(one, batch, exams[1], ["SB", "1dAVb"])
    read(two, batch, exams[1], ["SB"])
    return batch, exams


def _check_table(text: str, exams) -> None:
    table = {row["exam_id"]: row for row in csv.DictReader(io.StringIO(text))}
    unanimous, tie, sinus = (table[exam.external_id] for exam in exams)
    assert (unanimous["1dAVb"], unanimous["SB"]) == ("1", "1")
    assert (tie["1dAVb"], tie["SB"]) == ("", "1")
    assert (sinus["1dAVb"], sinus["SB"]) == ("0", "1")


@pytest.mark.parametrize("computed_before", [False, True], ids=["never-computed", "computed-then-more-reads"])
def test_a_release_asked_for_before_the_recomputation_exports_the_consensus_of_every_read(
    client_for, diego, tnmg, computed_before
):
    batch, exams = _fresh_batch(diego, tnmg, computed_before=computed_before)
    client = client_for(diego)
    response = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    _check_table(file_text(client, release, "consensus.csv"), exams)
    card = json.loads(file_text(client, release, "dataset_card.json"))
    assert card["agreement"][str(batch.pk)]["up_to_date"] is True
    assert (card["counts"]["undecided_exams"], card["counts"]["undecided_cells"]) == (1, 1)
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["undecided"] == {"exams": 1, "cells": 1}


def test_the_markdown_card_says_so_when_a_batch_s_agreement_figures_are_older_than_its_reads():
    from annotations.lib.release_files.files import _agreement_markdown

    card = {"agreement": {"7": {"source": "stored", "up_to_date": False, "read_count": 63}}}
    text = "\n".join(_agreement_markdown(card))
    assert "Batch 7: its agreement figures were computed from 63 reads, before its last reads came in" in text
    card["agreement"]["7"]["up_to_date"] = True
    assert "before its last reads" not in "\n".join(_agreement_markdown(card))


def test_the_export_command_too_exports_the_consensus_of_every_read(diego, tnmg, tmp_path, capsys):
    batch, exams = _fresh_batch(diego, tnmg, computed_before=False)
    call_command(
        "export_labels", "--batch", str(batch.pk), "--out", str(tmp_path), "--no-hdf5", "--no-progress"
    )
    _check_table((tmp_path / "consensus.csv").read_text(), exams)
    assert f"batch {batch.pk}: agreement and consensus recomputed" in capsys.readouterr().err


def _read_after_each_catch_up(monkeypatch, reads: list):
    """A reader's submit landing after the build brought the consensus up to date and before its files'
    snapshot begins, as a busy batch's submits do: committed for real, through the reading service."""
    from annotations.services.releases import builds

    caught_up = builds.agreement_catch_up

    def catch_up_then_a_read(batch_ids):
        stale = caught_up(batch_ids)
        if reads:
            read(*reads.pop(0))
        return stale

    monkeypatch.setattr(builds, "agreement_catch_up", catch_up_then_a_read)


def _busy_batch(diego, tnmg):
    """Two readers, three exams: all read but one read of the last, which is to come."""
    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("one", "two"))
    exams = [make_exam(seed=i) for i in range(3)]
    batch = batch_for(tnmg, diego, [one, two], exams, name="Busy")
    for exam in exams:
        read(one, batch, exam, ["SB", "1dAVb"])
    read(two, batch, exams[0], ["SB", "1dAVb"])
    read(two, batch, exams[1], ["SB"])
    batch_agreement_compute(batch.pk)
    return batch, exams, two


def _release(client, batch):
    response = client.post(
        "/api/v1/releases/", {"batches": [batch.pk], "hdf5": False}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return release_build(Release.objects.get(pk=response.json()["id"]).pk)


@pytest.mark.django_db(transaction=True)
def test_a_read_that_lands_between_the_catch_up_and_the_files_is_in_the_consensus_too(
    client_for, diego, tnmg, monkeypatch
):
    batch, exams, two = _busy_batch(diego, tnmg)
    _read_after_each_catch_up(monkeypatch, [(two, batch, exams[2], ["SB", "1dAVb"])])
    client = client_for(diego)
    release = _release(client, batch)
    assert release.status == "done", release.error
    text = file_text(client, release, "consensus.csv")
    table = {row["exam_id"]: row for row in csv.DictReader(io.StringIO(text))}
    reads = list(csv.DictReader(io.StringIO(file_text(client, release, "reads.csv"))))
    late = exams[2].external_id
    assert sum(1 for r in reads if r["exam_id"] == late and r["code"] == "1dAVb") == 2
    # Both reads marked it: the consensus the files give is of both, not of the one read it had before.
    assert (table[late]["reads"], table[late]["1dAVb"]) == ("2", "1")
    assert (table[exams[0].external_id]["1dAVb"], table[exams[1].external_id]["1dAVb"]) == ("1", "")


@pytest.mark.django_db(transaction=True)
def test_a_batch_read_faster_than_its_consensus_is_computed_fails_the_build_and_says_why(
    client_for, diego, tnmg, monkeypatch
):
    from annotations.services.releases.export import EXPORT_TRIES

    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("one", "two"))
    exams = [make_exam(seed=i) for i in range(EXPORT_TRIES + 1)]
    batch = batch_for(tnmg, diego, [one, two], exams, name="Busy")
    for exam in exams:
        read(one, batch, exam, ["SB"])
    _read_after_each_catch_up(monkeypatch, [(two, batch, exam, ["SB"]) for exam in exams])
    client = client_for(diego)
    release = _release(client, batch)
    assert release.status == "failed"
    assert f"reads of batch {batch.pk} kept coming in while the files were written" in release.error
    answered = client.get(f"/api/v1/releases/{release.pk}/").json()
    assert "kept coming in" in answered["error"] and not answered["files"]
    # Building it again as the last read lands (once): the second try gives the consensus of every read.
    rebuilt = _release(client, batch)
    assert rebuilt.status == "done"
    table = list(csv.DictReader(io.StringIO(file_text(client, rebuilt, "consensus.csv"))))
    assert [(row["reads"], row["SB"]) for row in table] == [("2", "1")] * len(exams)
