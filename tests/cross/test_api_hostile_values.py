"""Every API operation, as every role, with the values that broke it before: a lone surrogate in every
string field, names longer than a file system or a column keeps, and nesting deeper than any parser
allows. No answer is a server error, and every refusal is JSON.

Schemathesis (test_api_fuzz.py) generates valid Unicode only, and short strings: these values are sent
on purpose, in every string field of every JSON body the schema declares and in every query parameter,
with the persona's own ids in the path so the values reach the code behind the role check.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.access import Study, build_study, declared_roles, may_use
from tests.urlwalk import all_routes

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("sessions_not_refreshed")]

PERSONAS = ("anonymous", "ana", "carla", "diego", "eve")
# Each is a JSON text put where a string goes: a lone surrogate (valid JSON, no valid UTF-8), a name of
# 404 bytes (over the 255 a file system keeps), one of 10,000 characters (over any column), a name of
# 200 characters of four bytes each.
STRINGS = {
    "surrogate": '"ana\\ud800"',
    "404 bytes": json.dumps("é" * 200 + ".xml"),
    "10000 characters": json.dumps("x" * 10_000),
    "astral": json.dumps("😀" * 200),
}
DEEP = "[" * 50_000 + "]" * 50_000
QUERY_VALUES = {"404 bytes": "é" * 200, "10000 characters": "x" * 10_000, "invalid UTF-8": "%ED%A0%80"}


@pytest.fixture
def study(tnmg) -> Study:
    return build_study(tnmg)


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _placeholder(document: dict, schema: dict, text: str) -> str:
    """A JSON text for a property: `text` where a string goes, a plausible value elsewhere."""
    schema = _resolve(document, schema)
    kind = schema.get("type")
    if kind == "string" or "enum" in schema:
        return text
    if kind == "integer":
        return "1"
    if kind == "number":
        return "1.0"
    if kind == "boolean":
        return "true"
    if kind == "array":
        return f"[{_placeholder(document, schema.get('items', {'type': 'string'}), text)}]"
    if kind == "object" and schema.get("properties"):
        return _body(document, schema, text)
    return text


def _body(document: dict, schema: dict, text: str) -> str:
    properties = _resolve(document, schema).get("properties", {})
    fields = (
        f"{json.dumps(name)}: {_placeholder(document, prop, text)}"
        for name, prop in properties.items()
        if not prop.get("readOnly")
    )
    return "{" + ", ".join(fields) + "}"


def _json_schema(operation: dict) -> dict | None:
    """The body's schema, sent as JSON; a multipart one's too: the imports take either, though the schema
    names multipart only (one body type per operation, for a generated client), and an operation that
    takes multipart alone must refuse JSON as JSON."""
    content = (operation.get("requestBody") or {}).get("content", {})
    return (content.get("application/json") or content.get("multipart/form-data") or {}).get("schema")


def _path(study: Study, persona: str, template: str) -> str:
    """The schema path with the persona's own ids (the owner's, for a persona without the role)."""
    for route in all_routes():
        pattern = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.template).replace("{pk}", "{id}")
        if pattern == template:
            roles = declared_roles(route)
            rightful = persona in study.ids and may_use(study.user(persona), roles)
            values = study.values_for(persona if rightful else study.owner(roles), route)
            values = {("id" if name == "pk" else name): value for name, value in values.items()}
            return template.format(**values)
    raise KeyError(template)


def _client(study: Study, persona: str) -> Client:
    client = Client(raise_request_exception=False)
    if persona != "anonymous":
        client.force_login(study.user(persona))
    return client


def _requests(document: dict):
    """(method, schema path, body or None, query or None, what) for every operation and hostile value."""
    for template, item in document["paths"].items():
        for method, operation in item.items():
            schema = _json_schema(operation)
            if schema is not None:
                for what, text in STRINGS.items():
                    yield method, template, _body(document, schema, text), None, f"body {what}"
                yield method, template, '{"name": ' + DEEP + "}", None, "body nested 50,000 deep"
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    for what, value in QUERY_VALUES.items():
                        yield method, template, None, f"{parameter['name']}={value}", f"query {what}"


def test_hostile_values_in_every_field_of_every_operation_never_answer_a_server_error(study):
    from django.db import transaction

    raw = Client()
    raw.force_login(study.user("diego"))
    document = raw.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    clients = {persona: _client(study, persona) for persona in PERSONAS}
    failures: dict[tuple[str, str, str], str] = {}
    sent = 0
    for method, template, body, query, what in _requests(document):
        for persona in PERSONAS:
            url = _path(study, persona, template) + (f"?{query}" if query else "")
            with transaction.atomic():
                send = getattr(clients[persona], method)
                if body is None:
                    answer = send(url)
                else:
                    answer = send(url, body, content_type="application/json")
                transaction.set_rollback(True)
            sent += 1
            refused_as_json = answer.get("Content-Type", "").startswith("application/json")
            if answer.status_code >= 500 or (answer.status_code >= 400 and not refused_as_json):
                key = (persona, f"{method.upper()} {template}", what)
                failures.setdefault(key, f"{answer.status_code} {answer.content[:300]!r}")
    print(f"hostile values: {sent} requests, {len(failures)} failures")
    assert sent > 500
    assert not failures, "\n".join(
        f"{who} {op} ({what}): {said}" for (who, op, what), said in failures.items()
    )
