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
from annotations.services.batches.lifecycle import batch_create
from annotations.services.releases.builds import release_build
from tests.adjudication.test_adjudication import read
from tests.factories import UserFactory, make_exam

pytestmark = pytest.mark.django_db


def file_text(client, release, name: str) -> str:
    return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()


def _fresh_batch(diego, tnmg, *, computed_before: bool):
    """Three exams whose last reads' recomputation has not run (it is queued with its delay): a
    unanimous 1dAVb, a tie on it, and no 1dAVb."""
    one, two = (UserFactory(username=name, roles=["reader"]) for name in ("one", "two"))
    exams = [make_exam(seed=i) for i in range(3)]
    batch = batch_create(
        name="Fresh", taxonomy=tnmg, exams=exams, readers=[one, two], readers_per_exam=2, actor=diego
    )
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
