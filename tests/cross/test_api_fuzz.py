"""Schemathesis fuzzes every operation of the OpenAPI schema as every role, in process, on the WSGI app.

No 5xx, and no response that breaks the schema it declares, whoever asks and whatever they send. Half of
the examples of an operation with ids in its path use the persona's own objects of one labelled study
(tests/access.py), so the bodies and query strings reach the real code behind the role check; the other
half keep the generated ids (huge, negative, absent rows).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import hypothesis
import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.access import Study, build_study, declared_roles, may_use
from tests.urlwalk import all_routes

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("sessions_not_refreshed")]

ROLES = {
    "anonymous": "anonymous",
    "reader": "ana",
    "adjudicator": "carla",
    "coordinator": "diego",
    "outsider": "eve",
}
MAX_EXAMPLES = 25
# The token run checks that the other way in (a revoked token for anonymous) meets the same code; the
# depth of the fuzzing is the session run's.
TOKEN_EXAMPLES = 10
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    calls: int = 0
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


@pytest.fixture
def study(tnmg) -> Study:
    return build_study(tnmg)


@contextmanager
def requests_on_this_connection():
    """Requests to the WSGI app run on this test's database connection, inside its transaction: as
    Django's test client does, keep request_started/finished from closing that connection. (The test
    client reconnects the handler after each of its own requests, so this wraps the fuzzing only.)"""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def credentials(study: Study, persona: str) -> tuple[dict[str, str], dict[str, str]]:
    """A real session cookie for the persona, and a CSRF cookie and header (the API checks CSRF on
    session-authenticated writes, as it would for a browser)."""
    token = _get_new_csrf_string()
    cookies = {settings.CSRF_COOKIE_NAME: token}
    if persona != "anonymous":
        client = Client()
        client.force_login(study.user(persona))
        cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return cookies, {"X-CSRFToken": token}


def token_credentials(study: Study, persona: str) -> tuple[dict[str, str], dict[str, str]]:
    """The persona's API token instead of a session (test_access_matrix.token_of: the scope of its role,
    read-only where none names it, a revoked one for anonymous); no cookies, so no CSRF either."""
    from tests.cross.test_access_matrix import token_of

    return {}, {"Authorization": f"Token {token_of(study, persona)[0]}"}


def real_ids(study: Study, persona: str, path: str) -> dict[str, object]:
    """The persona's own ids for an operation's path parameters (the owner's, for a persona without
    the role), named as the schema names them (`pk` is `id` there)."""
    for route in all_routes():
        template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.template).replace("{pk}", "{id}")
        if template == path:
            roles = declared_roles(route)
            rightful = may_use(study.user(persona), roles) and persona in study.ids
            values = study.values_for(persona if rightful else study.owner(roles), route)
            return {("id" if name == "pk" else name): value for name, value in values.items()}
    raise KeyError(f"no route for the schema path {path}")


def fuzz(schema, persona: str, session: tuple[dict, dict], study: Study, tally: Tally, examples: int) -> None:
    cookies, headers = session
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations.add(f"{operation.method.upper()} {operation.path}")
        ids = real_ids(study, persona, operation.path) if "{" in operation.path else {}
        fuzz_operation(operation, ids, persona, cookies, headers, tally, examples)


def fuzz_operation(
    operation, ids: dict, persona: str, cookies: dict, headers: dict, tally: Tally, examples: int
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: a failure here is reproducible
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(case=operation.as_strategy(), use_real_ids=st.booleans())
    def call(case, use_real_ids: bool) -> None:
        if use_real_ids and ids:
            case.path_parameters = {**(case.path_parameters or {}), **ids}
        tally.calls += 1
        # Each call in a savepoint rolled back after it, so one example's batch or submitted read does
        # not change what the next example finds (nor break the test's transaction).
        with transaction.atomic():
            try:
                case.call_and_validate(cookies=cookies, headers=headers, checks=CHECKS)
            except (
                Exception,
                BaseExceptionGroup,
            ) as error:  # recorded, not raised: the run goes on to every operation
                tally.failures.setdefault((persona, label), f"{type(error).__name__}: {error}")
            transaction.set_rollback(True)

    call()


def untyped_responses(document: dict) -> list[str]:
    """Every (operation, status) whose success body is not a named schema: a free-form object (what
    `responses=dict` or OpenApiTypes.OBJECT give) checks nothing, so the fuzzing could not catch a body
    that drifted from what clients read. Files are bytes, declared as binary."""
    untyped = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation.get("responses", {}).items():
                if not code.startswith("2"):
                    continue
                for media, content in (response.get("content") or {}).items():
                    schema = content.get("schema", {})
                    schema = schema.get("items", schema) if schema.get("type") == "array" else schema
                    if "$ref" not in schema and schema.get("format") != "binary":
                        untyped.append(f"{method.upper()} {path} {code} {media}")
    return untyped


def test_every_operation_declares_a_typed_response(client_for, diego):
    document = client_for(diego).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = [(path, method) for path, item in document["paths"].items() for method in item]
    assert len(operations) >= 20
    assert not untyped_responses(document)


def test_every_operation_declares_the_shape_of_its_refusals(client_for, diego):
    """A script learns from the schema what a refusal carries: an object whose `detail` says why, and for a
    request's mistakes each field's messages under its name. Undeclared, a generated client had no type
    for a 4xx body, and the fuzzing below checked none of them against anything (it now checks each)."""
    document = client_for(diego).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert problem["type"] == "object" and problem["properties"]["detail"]["type"] == "string"
    bare = [
        (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation["responses"].get("4XX", {}).get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": "#/components/schemas/Problem"}
    ]
    assert bare == []


@pytest.mark.parametrize("auth", ["session", "token"])
def test_no_operation_answers_any_role_with_a_server_error_or_a_response_that_breaks_the_schema(study, auth):
    raw = Client()
    raw.force_login(study.user("diego"))
    document = raw.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.app = get_wsgi_application()
    signed = credentials if auth == "session" else token_credentials
    examples = MAX_EXAMPLES if auth == "session" else TOKEN_EXAMPLES
    sessions = {persona: signed(study, persona) for persona in ROLES.values()}
    tally = Tally()
    with requests_on_this_connection():
        for persona in ROLES.values():
            fuzz(schema, persona, sessions[persona], study, tally, examples)
    print(
        f"schemathesis ({auth}): {len(tally.operations)} operations x {len(ROLES)} roles "
        f"({', '.join(ROLES)}), {tally.calls} calls, {len(tally.failures)} failures"
    )
    assert len(tally.operations) >= 20
    # Every operation of the schema was fuzzed, none left out.
    assert tally.operations == {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }
    assert not tally.failures, "\n\n".join(
        f"{who} {op}:\n{text[:1500]}" for (who, op), text in tally.failures.items()
    )
