"""The OpenAPI schema as a generated client reads it (`make client`, docs/api-client.md): what
openapi-python-client cannot render or gets wrong at run time, caught here in a second rather than by the
slow walk (tests/cross/test_generated_client_walk.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def operations(client_for, diego) -> list[tuple[str, dict]]:
    schema = client_for(diego).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_each_request_body_comes_in_one_content_type(operations):
    """The generator picks a body's encoding by its type, and writes an operation offering two types that
    does not even import; the imports' multipart body carries paths as well as files."""
    several = {
        name: sorted(op["requestBody"]["content"])
        for name, op in operations
        if len(op.get("requestBody", {}).get("content", {})) > 1
    }
    assert several == {}


def test_every_download_reaches_the_client_as_bytes(operations):
    """A binary answer under a content type the generator does not read as bytes (application/zip: left
    out; text/csv: a str passed to BytesIO) needs its override in openapi-client.yaml."""
    overrides = yaml.safe_load((ROOT / "openapi-client.yaml").read_text())["content_type_overrides"]
    unread = []
    for name, operation in operations:
        for status, response in operation["responses"].items():
            for content_type, media in response.get("content", {}).items():
                read_as = overrides.get(content_type, content_type)
                binary = media.get("schema", {}).get("format") == "binary"
                if read_as not in {"application/json", "application/octet-stream"} or (
                    binary and read_as != "application/octet-stream"
                ):
                    unread.append(f"{name} {status} {content_type}")
    assert unread == []
    downloads = [
        n
        for n, op in operations
        for r in op["responses"].values()
        for c in r.get("content", {})
        if c != "application/json"
    ]
    assert any("/zip" in name for name in downloads) and any(".csv" in name for name in downloads)


def test_every_operation_takes_the_token(operations, client_for, diego):
    """A generated AuthenticatedClient sends the token: every operation declares it (the session's cookie
    beside it)."""
    schema = client_for(diego).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    without = [name for name, op in operations if {"tokenAuth": []} not in op.get("security", [])]
    assert without == []
