"""Nothing leaks to a submitter: the private split's figures only once the benchmark is closed, no label
and no per-exam score anywhere, another submitter's submission answers 404, and a crawl of every route
a submitter can reach finds no label file and no other submitter's file."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import AuditEvent
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, made_benchmark, submitter
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db
N = 40


@pytest.fixture
def split(tmp_path, diego, code15, client, django_capture_on_commit_callbacks, eager_worker):  # noqa: F811
    release = code_test_release(tmp_path, diego, n_exams=N)
    client.force_login(diego)
    created = made_benchmark(client, release.pk, private_fraction=0.5, seed=4)
    people = {}
    for name in ("sofia", "tomas"):
        people[name] = Client()
        people[name].force_login(submitter(name))
    ids = {}
    for name, marker in (("sofia", "0.25"), ("tomas", "0.75")):
        lines = ["exam_id," + ",".join(CODES), *(f"{i}," + ",".join([marker] * 6) for i in range(N))]
        with django_capture_on_commit_callbacks(execute=True):
            response = people[name].post(
                f"/api/v1/benchmarks/{created['id']}/submissions/",
                {
                    "file": SimpleUploadedFile(f"{name}-secret.csv", "\n".join(lines).encode()),
                    "model_name": f"{name}-model",
                    "model_version": "v1",
                    "thresholds": ",".join(map(str, THRESHOLDS)),
                },
            )
        assert response.status_code == 201, response.content
        ids[name] = response.json()["id"]
    return created["id"], people, ids


def test_the_private_split_shows_only_after_the_close(split, client):
    benchmark_id, people, ids = split
    sofia = people["sofia"]
    mine = sofia.get(f"/api/v1/submissions/{ids['sofia']}/").json()
    assert mine["status"] == "done" and set(mine["results"]) == {"public"}
    assert mine["results"]["public"]["n"] == N // 2
    detail = sofia.get(f"/api/v1/benchmarks/{benchmark_id}/").json()
    assert all(set(r) == {"reader", "n", "public"} for r in detail["readers"])
    assert all("private" not in row for row in detail["leaderboard"])
    assert [row["model_name"] for row in detail["leaderboard"]] != []
    assert client.get(f"/api/v1/submissions/{ids['sofia']}/").json()["results"].keys() == {
        "public",
        "private",
    }

    assert client.post(f"/api/v1/benchmarks/{benchmark_id}/close/").status_code == 200
    mine = sofia.get(f"/api/v1/submissions/{ids['sofia']}/").json()
    assert set(mine["results"]) == {"public", "private"} and mine["results"]["private"]["n"] == N // 2
    late = sofia.post(
        f"/api/v1/benchmarks/{benchmark_id}/submissions/",
        {
            "file": SimpleUploadedFile("a.csv", b"x"),
            "model_name": "m",
            "model_version": "1",
            "thresholds": "",
        },
    )
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    assert AuditEvent.objects.filter(action="benchmark.close").count() == 1


@pytest.mark.parametrize("auth", ["session", "token"])
def test_a_submitter_reaches_no_label_no_per_exam_score_and_no_other_file(split, auth):
    """Once signed in, once with a token for this one benchmark (the API answers to it, the pages, which
    take no token, send it to the login)."""
    from annotations.services.credentials.tokens import api_token_create

    benchmark_id, people, ids = split
    sofia = people["sofia"]
    if auth == "token":
        user = sofia.get("/api/v1/benchmarks/").wsgi_request.user
        secret = api_token_create(
            actor=user, user=user, name="crawl", scope="benchmark", benchmark_id=benchmark_id
        ).secret
        sofia = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    else:
        assert sofia.get(f"/benchmarks/submissions/{ids['tomas']}/").status_code == 404
    assert sofia.get(f"/api/v1/submissions/{ids['tomas']}/").status_code == 404
    assert sofia.get(f"/api/v1/benchmarks/{benchmark_id}/labels.csv").status_code == 403
    values = {"benchmark_id": benchmark_id, "submission_id": ids["tomas"]}
    bodies = []
    for route in all_routes():
        if not set(route.params) <= set(values) or route.path.startswith("/admin/"):
            continue
        if "logout" in route.path:
            continue
        response = sofia.get(route.fill(values))
        if response.status_code == 200:
            content = getattr(response, "streaming_content", None)
            body = b"".join(content) if content is not None else response.content
            bodies.append((route.fill(values), body))
    assert any("/benchmarks/" in url for url, _ in bodies)
    for url, body in bodies:
        assert b"tomas-secret" not in body, url
        assert b"exam_id,split" not in body, url
        assert b'"labels"' not in body, url
        # No list of one number per exam (a score or label for each): no JSON array of N numbers.
        assert not re.search(rb"\[(\s*-?[\d.]+\s*,){%d,}" % (N - 1), body), url
