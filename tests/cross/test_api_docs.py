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
