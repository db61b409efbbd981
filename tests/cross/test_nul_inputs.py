"""A NUL character anywhere a client can put one is a 400 on every route, for every role: never a 500.

PostgreSQL refuses the character in text and JSON, so one that reaches a query or an insert used to be a
server error. Nothing is picked by hand: the routes come from the URL configuration, and the field names
from the OpenAPI schema (query parameters, request bodies), the project's Django forms, and the names the
views read from request.GET/POST/query_params/data in their source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from annotations.models import AuditEvent
from tests.access import Study, build_study, declared_roles, may_use
from tests.urlwalk import Route, all_routes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sessions_not_refreshed")]

NUL = "\x00"
_READ = re.compile(
    r"""\b(?:GET|POST|query_params|data)(?:\.get|\.getlist|\.pop)?[\[(]\s*["']([A-Za-z_][\w-]*)["']"""
)


def source_fields() -> set[str]:
    names: set[str] = set()
    for path in (Path(settings.BASE_DIR) / "annotations").rglob("*.py"):
        names |= set(_READ.findall(path.read_text()))
    return names


def form_fields() -> set[str]:
    from django import forms as django_forms

    import annotations.forms as project_forms

    names: set[str] = set()
    for value in vars(project_forms).values():
        if isinstance(value, type) and issubclass(value, django_forms.BaseForm):
            names |= set(getattr(value, "base_fields", {}))
    return names | {"username", "password"}


def schema_fields(document: dict) -> tuple[set[str], set[str]]:
    query, body = set(), set()
    for operations in document["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            query |= {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            for content in operation.get("requestBody", {}).get("content", {}).values():
                body |= set(_properties(document, content.get("schema", {})))
    return query, body


def _properties(document: dict, schema: dict) -> dict:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema.get("properties", {})


@pytest.fixture
def study(tnmg) -> Study:
    return build_study(tnmg)


def client_as(study: Study, persona: str) -> Client:
    client = Client(raise_request_exception=False)  # a server error is counted, not raised
    client.force_login(study.user(persona))
    return client


def path_for(study: Study, persona: str, route: Route) -> str:
    roles = declared_roles(route)
    who = persona if may_use(study.user(persona), roles) and persona in study.ids else study.owner(roles)
    try:
        return route.fill(study.values_for(who, route)) if route.params else route.path
    except KeyError:  # an id kind tests/access.py does not know yet: the sample id still reaches the view
        return route.path


def ask(send, *args, **kwargs):
    """One request in a savepoint rolled back after it: a database error (the 500 looked for) does not
    abort the test's transaction, and no request changes what the next one finds."""
    with transaction.atomic():
        response = send(*args, **kwargs)
        transaction.set_rollback(True)
    return response


def test_nul_in_any_query_or_form_field_of_any_route_is_a_400_for_every_role(study):
    document = client_as(study, "diego").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    query_names, body_names = schema_fields(document)
    query_names |= source_fields()
    form_names = form_fields() | source_fields() | body_names
    assert {"dataset", "batch", "page", "username", "labels"} <= query_names | form_names
    answers: dict[tuple[str, str, str], int] = {}
    for persona in ("ana", "carla", "diego"):
        client = client_as(study, persona)
        for route in all_routes():
            path = path_for(study, persona, route)
            client.force_login(study.user(persona))  # the logout route may have ended the session
            # Every field at once; and as the coordinator, who reaches every route, each query parameter
            # on its own (so no parameter hides behind another's refusal).
            singles = persona == "diego"
            for fields in [sorted(query_names), *([name] for name in sorted(query_names) if singles)]:
                response = ask(client.get, path, {name: NUL for name in fields})
                answers[(persona, f"GET {path}?{','.join(fields)[:40]}", "query")] = response.status_code
            response = ask(client.post, path, {**{name: NUL for name in form_names}, "ok": "x"})
            answers[(persona, f"POST {path}", "form")] = response.status_code
            if route.is_api:
                for method in ("post", "put", "patch"):
                    body = json.dumps({name: NUL for name in body_names})
                    response = ask(getattr(client, method), path, body, content_type="application/json")
                    answers[(persona, f"{method.upper()} {path}", "json")] = response.status_code
    server_errors = {key: status for key, status in answers.items() if status >= 500}
    # The login form refuses and audits a NUL itself (test_login_hardening); signed in, it redirects home.
    not_refused = {
        key: status
        for key, status in answers.items()
        if status != 400 and not (key[1] == "POST /accounts/login/" and status == 302)
    }
    print(f"NUL inputs: {len(answers)} requests, {len(server_errors)} server errors")
    assert not server_errors, list(server_errors)[:20]
    assert not not_refused, list(not_refused.items())[:20]


def test_nul_in_a_path_parameter_is_a_400_and_on_no_route_a_404(client, diego):
    client.force_login(diego)
    assert client.get("/releases/1/files/a%00b").status_code == 400
    assert client.get("/api/v1/releases/1/files/a%00b").status_code == 400
    assert client.get("/exams/%00/").status_code == 404


def test_the_reported_dataset_filters_refuse_nul(client, diego):
    client.force_login(diego)
    page = client.get("/exams/", {"dataset": NUL})
    assert page.status_code == 400 and b"NUL" in page.content
    api = client.get("/api/v1/exams/", {"dataset": NUL})
    assert api.status_code == 400 and "NUL" in api.json()["detail"]


def test_an_escaped_nul_in_json_is_refused_but_an_escaped_backslash_before_u0000_is_text(client, diego, tnmg):
    client.force_login(diego)
    body = '{"name": "a\\u0000b", "readers": []}'
    response = client.post("/api/v1/batches/", body, content_type="application/json")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    # "a\\u0000b" is the six characters \u0000 after an escaped backslash: no NUL, the view decides.
    literal = '{"name": "a\\\\u0000b", "readers": []}'
    response = client.post("/api/v1/batches/", literal, content_type="application/json")
    assert response.status_code == 400 and "NUL" not in json.dumps(response.json())
    assert not AuditEvent.objects.filter(action__startswith="batch.").exists()
