"""The record of adjudication: every signed decision stays visible (who, when, value, rationale, version),
and a decision is overturned only with a written reason."""

import pytest
from django.urls import reverse

from annotations.models import Adjudication, AuditEvent
from tests.adjudication.test_adjudication import case_url, disputed, secret_readers  # noqa: F401  (fixtures)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def api_url(batch, exam):
    return reverse("api-adjudication-case", args=[batch.pk, exam.pk])


def decide(client, batch, exam, value, version, rationale=""):
    body = {"decisions": [{"code": "1dAVb", "value": value}], "version": version, "rationale": rationale}
    return client.post(api_url(batch, exam), body, content_type="application/json")


def test_overturning_another_adjudicators_decision_needs_a_rationale(carla, disputed, client):  # noqa: F811
    batch, exam = disputed
    olga = UserFactory(username="olga-adj", roles=["adjudicator"])
    client.force_login(carla)
    assert decide(client, batch, exam, True, 0, "PR 240 ms in II").status_code == 200
    audits = AuditEvent.objects.filter(action="adjudication.decide").count()
    client.force_login(olga)
    refused = decide(client, batch, exam, False, 1, "   ")
    assert refused.status_code == 400
    assert "rationale" in refused.json()["detail"]
    stored = Adjudication.objects.get(batch=batch, exam=exam)
    assert (stored.adjudicator, stored.value, stored.version) == (carla, True, 1)
    assert AuditEvent.objects.filter(action="adjudication.decide").count() == audits
    # The page form refuses the same way, and stores nothing.
    page = client.post(case_url(batch, exam), {"version": "1", "decision-1dAVb": "absent", "rationale": ""})
    assert page.status_code == 400
    assert Adjudication.objects.get(batch=batch, exam=exam).value is True
    # With a reason it is accepted.
    assert decide(client, batch, exam, False, 1, "PR 180 ms, reread lead II").status_code == 200


def test_changing_ones_own_value_needs_a_rationale_but_confirming_it_does_not(carla, disputed, client):  # noqa: F811
    batch, exam = disputed
    client.force_login(carla)
    assert decide(client, batch, exam, True, 0).status_code == 200
    assert decide(client, batch, exam, True, 1).status_code == 200  # same value: no reason needed
    refused = decide(client, batch, exam, False, 2)
    assert refused.status_code == 400 and "rationale" in refused.json()["detail"]
    assert Adjudication.objects.get(batch=batch, exam=exam).value is True


def test_the_case_shows_the_decision_history_in_the_api_and_on_the_page(carla, disputed, client):  # noqa: F811
    batch, exam = disputed
    olga = UserFactory(username="olga-adj", roles=["adjudicator"])
    client.force_login(carla)
    assert decide(client, batch, exam, True, 0, "PR 240 ms in II").status_code == 200
    client.force_login(olga)
    assert decide(client, batch, exam, False, 1, "PR 180 ms on reread").status_code == 200
    history = client.get(api_url(batch, exam)).json()["history"]
    assert [(h["adjudicator"], h["decisions"], h["rationale"], h["version"]) for h in history] == [
        ("olga-adj", {"1dAVb": False}, "PR 180 ms on reread", 2),
        ("carla", {"1dAVb": True}, "PR 240 ms in II", 1),
    ]
    assert all(h["decided_at"] for h in history)
    page = client.get(case_url(batch, exam)).content.decode()
    assert 'id="decision-history"' in page
    section = page.split('id="decision-history"')[1]
    assert "olga-adj" in section and "carla" in section
    assert "PR 240 ms in II" in section and "PR 180 ms on reread" in section
