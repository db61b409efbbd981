"""API documentation pages: Swagger UI and Redoc served from this server (no CDN), for signed-in users,
under the same content security policy as every page."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_only_local_assets_and_no_inline_script(client_for, ana, path):
    response = client_for(ana).get(path)
    html = response.content.decode()
    assert response.status_code == 200 and "text/html" in response["Content-Type"]
    urls = assets(html)
    assert urls and all(u.startswith("/") for u in urls), urls
    for url in urls:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script: the CSP forbids it"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_swagger_initialiser_is_a_script_of_this_server(client_for, ana):
    html = client_for(ana).get("/api/docs/").content.decode()
    script = next(u for u in assets(html) if "script" in u and not u.startswith("/static/"))
    response = client_for(ana).get(script.replace("&amp;", "&"))
    assert response.status_code == 200 and "/api/schema/" in response.content.decode()


def test_the_docs_are_for_signed_in_users_and_linked_from_the_navigation(client, client_for, ana):
    assert client.get("/api/docs/").status_code in {401, 403}
    assert client.get("/api/redoc/").status_code in {401, 403}
    home = client_for(ana).get("/").content.decode()
    assert 'href="/api/docs/"' in home and 'href="/api/redoc/"' in home


def test_the_schema_groups_operations_by_capability_not_by_version(client_for, ana):
    """Swagger UI and Redoc list operations by their tag: one per capability, never one 'v1' for all."""
    import yaml

    schema = yaml.safe_load(client_for(ana).get("/api/schema/").content)
    tags = {tag for path in schema["paths"].values() for op in path.values() for tag in op.get("tags", [])}
    assert {"exams", "batches", "reading", "adjudication", "releases", "imports"} <= tags, tags
    assert "v1" not in tags
    assert schema["info"]["description"]


HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
SUMMARY_MAX = 80


def _operations(schema: dict) -> list[tuple[str, dict]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _undocumented(name: str, operation: dict) -> str | None:
    """Why Swagger UI and Redoc would show the operation badly, or None: without a summary they title it
    with its raw operationId, and without a description they say nothing about it."""
    summary, description = operation.get("summary", "").strip(), operation.get("description", "").strip()
    if not summary or not description:
        return f"{name}: summary {summary!r}, description {description[:40]!r}"
    if "\n" in summary or len(summary) > SUMMARY_MAX or summary == operation["operationId"]:
        return f"{name}: the summary is not a short title: {summary!r}"
    if description.startswith(summary):
        return f"{name}: the description repeats the summary"
    return None


def test_every_operation_has_a_summary_and_a_description(client_for, ana):
    import yaml

    schema = yaml.safe_load(client_for(ana).get("/api/schema/").content)
    operations = _operations(schema)
    assert len(operations) > 30, "the schema lists the API's operations"
    lacking = [reason for name, op in operations if (reason := _undocumented(name, op))]
    assert lacking == [], f"{len(lacking)} of {len(operations)} operations lack documentation:\n" + "\n".join(
        lacking
    )


def test_the_schema_describes_the_binary_waveform_downloads(client_for, ana):
    """The waveform endpoints are plain Django views, outside the operations: the schema's own description
    gives their paths and wire format."""
    import yaml

    description = yaml.safe_load(client_for(ana).get("/api/schema/").content)["info"]["description"]
    for words in ("/waveform/", "int16", "little-endian", "gzip", "ETag", "X-ECG-Gain-uV", "X-ECG-Samples"):
        assert words in description, words


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_wear_the_apps_icon(client_for, ana, path):
    """Swagger UI names Swagger's own icon unless told otherwise: a tab of the app shows the app's."""
    html = client_for(ana).get(path).content.decode()
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert icons and all(href in {"/favicon.ico", "/static/favicon.svg"} for href in icons), icons


def test_the_schema_names_the_query_parameters_the_reading_api_reads_and_uploads_as_binary(client_for, diego):
    schema = client_for(diego).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    named = {p["name"] for p in paths["/api/v1/reading/next/"]["get"].get("parameters", [])}
    assert "batch" in named
    opened = paths["/api/v1/reading/assignments/{id}/"]["get"]["parameters"]
    assert {"prefetch", "from"} <= {p["name"] for p in opened}
    upload = schema["components"]["schemas"]["ImportCreate"]["properties"]["files"]["items"]
    assert upload == {"type": "string", "format": "binary"}
