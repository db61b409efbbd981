"""Under /api/ every refusal is JSON, and a reader's refusals say nothing a made-up request would not.

A script met HTML pages under /api/ (the waveform routes' 403 and 404, a route that does not exist: under
DEBUG, as `make run` serves, Django's debug page listing every URL pattern), and a reference that is not an
assignment answered otherwise than one of another reader's (HTML against "no such assignment"), so a
reader could tell a real reference from a made-up one. A malformed `batch` on the next-exam routes was
ignored (the next exam of any batch) or raised a 500.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from annotations.selectors.reading.refs import assignment_ref
from tests.reading.helpers import queue, ref, shared_batch

pytestmark = pytest.mark.django_db
READ = "/api/v1/reading/assignments"
MADE_UP = "A" * 22  # the shape of a reference, naming nothing


@pytest.fixture
def batch(ana, bruno, diego, tnmg):
    return shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg)


def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.parametrize("debug", [False, True])
def test_a_made_up_reference_answers_exactly_as_another_readers_assignment(batch, ana, bruno, debug):
    others = ref(queue(batch, bruno)[0])
    with override_settings(DEBUG=debug):
        for tail in ("/", "/waveform/", "/explanations/"):
            theirs = client(ana).get(f"{READ}/{others}{tail}")
            made_up = client(ana).get(f"{READ}/{MADE_UP}{tail}")
            assert theirs.status_code == made_up.status_code == 404, tail
            assert theirs["Content-Type"] == made_up["Content-Type"] == "application/json", tail
            assert theirs.json() == made_up.json(), tail


@pytest.mark.parametrize("debug", [False, True])
def test_every_refusal_under_the_api_is_json(batch, ana, diego, debug):
    mine = ref(queue(batch, ana)[0])
    with override_settings(DEBUG=debug):
        cases = [
            (client(diego), f"{READ}/{mine}/waveform/", 403),  # a coordinator is no reader
            (Client(), f"{READ}/{mine}/waveform/", 403),
            (client(diego), "/api/v1/batches/12345/nothing-here/", 404),
            (client(diego), "/api/v1/no-such-route/", 404),
        ]
        for who, url, status in cases:
            answer = who.get(url)
            assert answer.status_code == status, url
            assert answer["Content-Type"] == "application/json", (url, answer.content[:200])
            assert "detail" in answer.json(), url


def test_a_missing_trailing_slash_under_the_api_still_leads_to_the_route(batch, diego):
    answer = client(diego).get("/api/v1/exams")
    assert answer.status_code == 301 and answer["Location"].endswith("/api/v1/exams/")


@pytest.mark.parametrize("value", ["abc", "-1", "²", "99999999999999999999999", "1.5"])
def test_a_malformed_batch_on_the_next_exam_routes_is_refused_not_ignored(batch, ana, value):
    api = client(ana).get("/api/v1/reading/next/", {"batch": value})
    assert api.status_code == 400, value
    assert "batch" in api.json()["detail"]
    page = client(ana).get("/read/next/", {"batch": value})
    assert page.status_code == 400, value


def test_a_batch_that_is_not_the_readers_answers_404_on_the_next_exam_route(batch, ana, bruno, diego, tnmg):
    other = shared_batch(readers=[bruno], coordinator=diego, taxonomy=tnmg)
    answer = client(ana).get("/api/v1/reading/next/", {"batch": other.pk})
    missing = client(ana).get("/api/v1/reading/next/", {"batch": 987654})
    assert answer.status_code == missing.status_code == 404
    assert answer.json() == missing.json()
    mine = client(ana).get("/api/v1/reading/next/", {"batch": batch.pk})
    assert mine.status_code == 200
    assert mine.json()["next_assignment_id"] == assignment_ref(queue(batch, ana)[0].pk)
