"""A script designing a batch needs its readers' ids: /me/ gives the caller's, /users/ every account's to a
coordinator (a reader or adjudicator gets 403). Before, a script found them by trial through the preview's
refusals ("not readers: carla, diego")."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_me_gives_the_accounts_id(client_for, ana):
    assert client_for(ana).get("/api/v1/me/").json() == {"id": ana.pk, "username": "ana", "roles": ["reader"]}


def test_a_coordinator_lists_the_readers_with_their_ids(client_for, ana, bruno, carla, diego):
    client = client_for(diego)
    readers = client.get("/api/v1/users/", {"role": "reader"}).json()
    assert [(a["id"], a["username"]) for a in readers] == [(ana.pk, "ana"), (bruno.pk, "bruno")]
    everyone = {a["username"]: a for a in client.get("/api/v1/users/").json()}
    assert {"ana", "bruno", "carla", "diego"} <= set(everyone)
    assert everyone["carla"]["roles"] == ["adjudicator"] and everyone["diego"]["is_active"] is True
    refused = client.get("/api/v1/users/", {"role": "admin"})
    assert refused.status_code == 400 and "reader" in refused.json()["detail"]
    design = {
        "name": "By id",
        "taxonomy_id": 1,
        "reader_ids": [a["id"] for a in readers],
        "readers_per_exam": 2,
    }
    assert (
        "not readers"
        not in client.post(
            "/api/v1/batches/preview/", design, content_type="application/json"
        ).content.decode()
    )


@pytest.mark.parametrize("who", ["ana", "carla"])
def test_readers_and_adjudicators_may_not_list_accounts(client_for, request, who):
    assert client_for(request.getfixturevalue(who)).get("/api/v1/users/").status_code == 403
