"""A JSON body Python parses but the app cannot keep is refused as bad input, never a server error: a
lone surrogate ("\\ud800" is valid JSON, no valid UTF-8) and nesting deep enough to exhaust the
parser's recursion both answered an HTML 500 before."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.models import AuditEvent, ReviewBatch
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = pytest.mark.django_db
SURROGATE = '{"name": "ana\\ud800", "note": "x"}'
DEEP = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"


def client(user) -> Client:
    c = Client(raise_request_exception=False)
    c.force_login(user)
    return c


@pytest.fixture
def batch(ana, bruno, diego, tnmg):
    return shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)


@pytest.mark.parametrize(("body", "says"), [(SURROGATE, "surrogate"), (DEEP, "nested")])
def test_a_body_the_app_cannot_keep_is_refused_as_json_and_changes_nothing(batch, ana, diego, body, says):
    mine = ref(queue(batch, ana)[0])
    events, batches = AuditEvent.objects.count(), ReviewBatch.objects.count()
    for who, method, url in (
        (diego, "post", "/api/v1/batches/"),
        (ana, "put", f"/api/v1/reading/assignments/{mine}/draft/"),
        (ana, "post", f"/api/v1/reading/assignments/{mine}/submit/"),
    ):
        answer = getattr(client(who), method)(url, body, content_type="application/json")
        assert answer.status_code == 400, (url, answer.content[:300])
        assert answer["Content-Type"] == "application/json", url
        assert says in answer.json()["detail"], (url, answer.json())
    assert (AuditEvent.objects.count(), ReviewBatch.objects.count()) == (events, batches)
