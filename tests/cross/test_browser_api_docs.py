"""In Chromium: Swagger UI and Redoc render the schema under the app's content security policy."""

from __future__ import annotations

import pytest

from tests.browser import screenshot_path
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_and_redoc_render_without_csp_violations(live_server, page, ana):
    violations, refused = [], []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    # Every request either page makes is answered: its scripts, styles, schema and icon (a page without
    # an icon link makes the browser ask for /favicon.ico, which the app does not serve; the browser's own
    # request reaches the page only as this console line).
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on(
        "console",
        lambda m: refused.append(f"{m.text} {m.location.get('url')}") if "Failed to load" in m.text else None,
    )
    log_in(page, live_server, "ana")
    page.click("#nav-api-docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    page.screenshot(path=screenshot_path("api-docs-swagger"))
    page.go_back()  # Swagger UI's page is its own, without the app's navigation
    page.click("#nav-api-redoc")  # the reference sits beside the console in the navigation
    page.wait_for_url(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("redoc .api-content, [role=navigation]", timeout=20000)
    page.screenshot(path=screenshot_path("api-docs-redoc"))
    # Redoc's bundle names its maker's logo on a CDN: the policy blocks it, so nothing is fetched from
    # elsewhere; any other violation (a script, a worker, a style) would break the pages.
    assert [v for v in violations if "cdn.redoc.ly/redoc/logo-mini.svg" not in v] == []
    assert refused == []


# The submit of a read, as Redoc titles it: the first line of the operation's docstring.
SUBMIT_OPERATION = "reading_assignments_submit_create"
SUBMIT_SUMMARY = "Submit a read and get the next exam"


def test_redoc_titles_an_operation_with_its_summary_not_its_operation_id(live_server, page, ana):
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/api/redoc/")
    section = page.locator(f'[data-section-id="operation/{SUBMIT_OPERATION}"]')
    section.locator("h2").first.wait_for(timeout=20000)
    assert section.locator("h2").first.inner_text().strip() == SUBMIT_SUMMARY
    # Its description follows, without the title again.
    assert "Readers only" in section.inner_text() and section.inner_text().count(SUBMIT_SUMMARY) == 1
    # The side menu names it too (its items are keyed by tag, then operation).
    menu = page.locator(f'[data-item-id$="/operation/{SUBMIT_OPERATION}"]')
    assert menu.get_attribute("aria-label") == SUBMIT_SUMMARY
    assert SUBMIT_OPERATION not in page.locator("redoc").inner_text()
