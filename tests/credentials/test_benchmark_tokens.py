"""A token scoped to one benchmark: a coordinator hands it to a submitter (API and People page); with it
the submitter downloads that benchmark's tracings, submits and reads their own results there, and meets
404 on every other benchmark and 403 on every other route. Audited on creation, use and revocation."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import ApiToken, AuditEvent
from annotations.services.benchmarks.create import benchmark_create, benchmark_prepare
from annotations.services.benchmarks.submissions import submission_create
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, submitter

pytestmark = pytest.mark.django_db
TOKENS = "/api/v1/tokens/"
N = 8


def scores_csv(value: str = "0.5") -> bytes:
    return "\n".join(
        ["exam_id," + ",".join(CODES), *(f"{i}," + ",".join([value] * 6) for i in range(N))]
    ).encode()


@pytest.fixture
def two(tmp_path, diego, code15):  # noqa: F811
    """Two open benchmarks of one release, and sofia, a submitter."""
    release = code_test_release(tmp_path, diego, n_exams=N)
    made = []
    for name in ("mine", "other"):
        benchmark = benchmark_create(actor=diego, release=release, name=name, label_source="reference")
        made.append(benchmark_prepare(benchmark.pk))
    return made[0], made[1], submitter()


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {secret}")


def body(content) -> bytes:
    return b"".join(content.streaming_content) if content.streaming else content.content


def hand_out(client, **extra):
    return client.post(
        TOKENS, {"name": "sofia's net", "scope": "benchmark", **extra}, content_type="application/json"
    )


def test_a_one_benchmark_token_reaches_that_benchmark_and_nothing_else(
    client_for, diego, two, django_capture_on_commit_callbacks, eager_worker
):
    mine, other, sofia = two
    created = hand_out(client_for(diego), benchmark=mine.pk, user=sofia.pk, days=30)
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["scope"], data["benchmark"], data["username"]) == ("benchmark", mine.pk, "sofia")
    token = ApiToken.objects.get()
    assert (token.user, token.created_by, token.scope_object_id) == (sofia, diego, mine.pk)
    api = bearer(data["token"])
    base = f"/api/v1/benchmarks/{mine.pk}"

    assert [b["id"] for b in api.get("/api/v1/benchmarks/").json()] == [mine.pk]
    assert api.get(f"{base}/").json()["status"] == "open"
    assert body(api.get(f"{base}/tracings.hdf5")).startswith(b"\x89HDF")
    assert api.get(f"{base}/tracings-wfdb.zip").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(
            f"{base}/submissions/",
            {
                "file": SimpleUploadedFile("s.csv", scores_csv()),
                "model_name": "net",
                "model_version": "1",
                "thresholds": ",".join(map(str, THRESHOLDS)),
            },
        )
    assert sent.status_code == 201, sent.content
    assert api.get(f"/api/v1/submissions/{sent.json()['id']}/").json()["status"] == "done"
    assert [s["id"] for s in api.get(f"{base}/submissions/").json()["submissions"]] == [sent.json()["id"]]

    # Her own submission to the other benchmark, made signed in: not through this token.
    elsewhere = submission_create(
        actor=sofia,
        benchmark=other,
        data=scores_csv(),
        file_name="s.csv",
        model_name="net",
        model_version="1",
        thresholds=THRESHOLDS,
    )
    assert api.get(f"/api/v1/submissions/{elsewhere.pk}/").status_code == 404
    theirs = f"/api/v1/benchmarks/{other.pk}"
    for url in (
        f"{theirs}/",
        f"{theirs}/tracings.hdf5",
        f"{theirs}/tracings-wfdb.zip",
        f"{theirs}/submissions/",
    ):
        assert api.get(url).status_code == 404, url
    assert api.post(f"{theirs}/submissions/", {"model_name": "x"}).status_code == 404
    for url in ("/api/v1/me/", "/api/v1/exams/", "/api/v1/users/", TOKENS, f"{base}/labels.csv"):
        refused = api.get(url)
        assert refused.status_code == 403, (url, refused.status_code)
    assert "benchmark" in api.get("/api/v1/me/").json()["detail"]
    assert api.post(f"{base}/close/").status_code == 403
    assert api.get(f"/benchmarks/{mine.pk}/").status_code == 302  # pages take a session, never a token

    assert client_for(diego).delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert api.get(f"{base}/").status_code == 401
    rows = AuditEvent.objects.filter(action__startswith="api_token.", target_id=str(token.pk))
    actions = set(rows.values_list("action", flat=True))
    assert actions == {"api_token.create", "api_token.use", "api_token.revoke"}
    created_event = AuditEvent.objects.get(action="api_token.create")
    assert created_event.after["scope"] == "benchmark" and created_event.after["scope_object_id"] == mine.pk


@pytest.mark.parametrize(
    "case",
    [
        "no benchmark",
        "unknown benchmark",
        "not a submitter",
        "benchmark on a role scope",
        "a reader for another",
    ],
)
def test_bad_one_benchmark_tokens_are_refused_and_change_nothing(client_for, diego, ana, bruno, two, case):
    mine, _, sofia = two
    client, extra = client_for(diego), {"benchmark": mine.pk, "user": sofia.pk}
    if case == "no benchmark":
        extra.pop("benchmark")
    elif case == "unknown benchmark":
        extra["benchmark"] = 99999
    elif case == "not a submitter":
        extra["user"] = ana.pk
    elif case == "benchmark on a role scope":
        extra = {"benchmark": mine.pk, "scope": "read_only"}
    else:
        client, extra = client_for(bruno), {"benchmark": mine.pk, "user": sofia.pk}
    refused = hand_out(client, **extra)
    assert refused.status_code in (400, 403), (case, refused.content)
    assert not ApiToken.objects.exists() and not AuditEvent.objects.filter(action="api_token.create").exists()


def test_a_submitter_takes_a_one_benchmark_token_for_herself(client, two):
    mine, _, sofia = two
    client.force_login(sofia)
    created = hand_out(client, benchmark=mine.pk)
    assert created.status_code == 201, created.content
    assert bearer(created.json()["token"]).get(f"/api/v1/benchmarks/{mine.pk}/").status_code == 200


def test_the_people_page_hands_out_a_one_benchmark_token(client_for, diego, two):
    mine, other, sofia = two
    page = client_for(diego).get("/people/").content.decode()
    assert f'<option value="{mine.pk}">' in page and "mine" in page
    shown = client_for(diego).post(
        "/people/tokens/",
        {"user": sofia.pk, "name": "sofia's net", "scope": "benchmark", "benchmark": mine.pk, "days": 30},
    )
    assert shown.status_code == 200
    secret = re.search(r'id="one-time-token">([0-9a-f]{64})<', shown.content.decode()).group(1)
    assert ApiToken.objects.get().scope_object_id == mine.pk
    listed = client_for(diego).get("/people/").content.decode()
    assert re.search(r"One benchmark[^<]*mine", listed)
    api = bearer(secret)
    assert api.get(f"/api/v1/benchmarks/{mine.pk}/").status_code == 200
    assert api.get(f"/api/v1/benchmarks/{other.pk}/").status_code == 404
    without = client_for(diego).post(
        "/people/tokens/", {"user": sofia.pk, "name": "x", "scope": "benchmark", "days": 30}
    )
    assert without.status_code == 302 and ApiToken.objects.count() == 1
