"""A person keeps their pseudonym from one release to the next. Pseudonyms were R01.. and A01.. by sorted
account id among the people of each release, so a reader who joined later with an older account, or a
second adjudicator, renamed the others: a statistician's walk comparing two releases of one study found
A01 to be hugo in the first and carla in the second, and misattributed their decisions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.models import Release
from annotations.services.releases.builds import release_build
from tests.factories import UserFactory
from tests.releases.sharding import read_study

pytestmark = pytest.mark.django_db


def _key(client, batch_ids: list[int]) -> dict[str, str]:
    created = client.post(
        reverse("api-release-list"), {"batches": batch_ids, "hdf5": False}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    release = release_build(Release.objects.get(pk=created.json()["id"]).pk)
    rows = client.get(f"/api/v1/releases/{release.pk}/").json()["pseudonym_key"]
    return {row["username"]: row["pseudonym"] for row in rows}


def test_a_reader_keeps_their_pseudonym_when_an_older_account_joins_a_later_release(diego, tnmg, client_for):
    older = UserFactory(username="older", roles=["reader"])  # the lower account id
    newer = UserFactory(username="newer", roles=["reader"])
    first = read_study(2, reader=newer, coordinator=diego, taxonomy=tnmg, dataset="first")
    client = client_for(diego)
    assert _key(client, [first.pk]) == {"newer": "R01"}
    second = read_study(2, reader=older, coordinator=diego, taxonomy=tnmg, dataset="second")
    both = _key(client, [first.pk, second.pk])
    assert both == {"newer": "R01", "older": "R02"}
    assert _key(client, [second.pk]) == {"older": "R02"}  # alone in a release, still R02
    assert _key(client, [first.pk, second.pk]) == both  # the same state again: the same names
    card = client.get(f"/releases/{Release.objects.latest('pk').pk}/files/dataset_card.md")
    text = b"".join(card.streaming_content).decode()
    assert "by sorted account" not in text and "for the same person in every release" in text
