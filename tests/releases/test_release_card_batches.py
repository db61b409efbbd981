"""A release of several batches: reader agreement belongs to one batch's readers, so the dataset card
gives it per batch and statement, in its Markdown as in its JSON, never a single pooled figure."""

from __future__ import annotations

import json

import pytest

from annotations.models import Adjudication, Release
from annotations.services.releases.builds import release_build
from tests.exporting import labelled_study
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=["reader"])


def card_text(client, release, name: str) -> str:
    return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()


def test_the_markdown_card_of_two_batches_gives_each_batch_s_agreement_per_statement(
    ana, bruno, carol, carla, diego, tnmg, client_for
):
    first = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    second = labelled_study(
        readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg, dataset="site-2"
    )
    client = client_for(diego)
    response = client.post(
        "/api/v1/releases/",
        {"batches": [first.batch.pk, second.batch.pk], "hdf5": False, "name": "two sites"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    card = json.loads(card_text(client, release, "dataset_card.json"))
    markdown = card_text(client, release, "dataset_card.md")

    rbbb = next(row for row in card["classes"] if row["code"] == "RBBB")
    assert rbbb["agreement"] is None  # no pooled figure across two batches' readers
    class_row = next(line for line in markdown.splitlines() if line.startswith("| RBBB |"))
    assert "per batch" in class_row
    for batch in (first.batch, second.batch):
        figures = card["agreement"][str(batch.pk)]["classes"]["RBBB"]
        kappa, (low, high) = figures["fleiss_kappa"], figures["fleiss_kappa_ci"]
        assert kappa is not None
        line = next(line for line in markdown.splitlines() if line.startswith(f"| {batch.pk} | RBBB |"))
        # Two exams read positive: too few for any interval, which the card says in words.
        assert figures["interval_note"] == "too few positives" and (low, high) == (None, None)
        assert f"| {kappa:.3f} | too few positives |" in line, line
        assert f"| {figures['n_exams_read']} |" in line


def test_the_markdown_card_says_the_reads_per_exam_in_words_and_lists_the_adjudicators(
    ana, bruno, carol, carla, diego, tnmg, client_for
):
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    client = client_for(diego)
    response = client.post(
        "/api/v1/releases/", {"batches": [study.batch.pk], "hdf5": False}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    release = release_build(Release.objects.get(pk=response.json()["id"]).pk)
    card = json.loads(card_text(client, release, "dataset_card.json"))
    markdown = card_text(client, release, "dataset_card.md")
    spelled = "; ".join(
        f"{reads} read{'s' * (int(reads) != 1)} on {exams} exam{'s' * (exams != 1)}"
        for reads, exams in card["counts"]["reads_per_exam"].items()
    )
    assert f"reads per exam: {spelled}" in markdown
    assert "{" not in markdown.split("## Counts")[1].split("##")[0]  # no JSON in the prose
    assert card["adjudicators"]
    section = markdown.split("## Adjudicators\n")[1].split("\n## ")[0]
    # A class decision is one statement decided on one exam: the walk read "8 decisions signed" for the
    # six exams its adjudicator decided, and counted submissions.
    decided = Adjudication.objects.filter(batch=study.batch)
    for pseudonym, decisions in card["adjudicators"].items():
        exams = card["adjudicated_exams"][pseudonym]
        assert decisions == decided.count() and exams == decided.values("exam").distinct().count()
        assert (
            f"- {pseudonym}: {decisions} class decision{'s' * (decisions != 1)} signed on {exams} exam"
            in section
        )
