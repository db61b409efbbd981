"""A release built while disputes are open leaves their cells empty; its page, its API and its dataset card
say how many exams and cells that is, so a coordinator does not publish holes unknowingly, and a release
built after the adjudication says none."""

from __future__ import annotations

import json

import pytest

from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.releases.builds import release_build, release_create
from tests.disputes import tied_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def tied(diego, tnmg):
    """Three exams; on two of them the two readers tie on 1dAVb."""
    made = tied_batch(coordinator=diego, taxonomy=tnmg, exams=3, tied=2, name="Ties")
    return made.batch, made.exams


def built(diego, batch):
    return release_build(release_create(actor=diego, batches=[batch], hdf5=False).pk)


def card_text(client, release, name: str) -> str:
    return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()


def test_a_release_with_open_disputes_says_how_many_exams_it_leaves_undecided(client_for, diego, carla, tied):
    batch, exams = tied
    client = client_for(diego)
    release = built(diego, batch)
    page = client.get(f"/releases/{release.pk}/").content.decode()
    warning = page.split('id="release-undecided"', 1)[1].split("</p>", 1)[0]
    assert "2 exams" in warning and "2 cells" in warning
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["undecided"] == {"exams": 2, "cells": 2}
    card = json.loads(card_text(client, release, "dataset_card.json"))
    assert (card["counts"]["undecided_exams"], card["counts"]["undecided_cells"]) == (2, 2)
    assert "Exams with undecided classes (left empty): 2 (2 cells)" in card_text(
        client, release, "dataset_card.md"
    )

    for exam in exams[:2]:
        adjudication_decide(
            actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("1dAVb", True)], version=0
        )
    settled = built(diego, batch)
    assert 'id="release-undecided"' not in client.get(f"/releases/{settled.pk}/").content.decode()
    assert client.get(f"/api/v1/releases/{settled.pk}/").json()["undecided"] == {"exams": 0, "cells": 0}
