"""In Chromium: pages that name no icon of their own (the admin site) still find the app's icon."""

from __future__ import annotations

import pytest

from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_admin_site_loads_every_resource_it_asks_for(live_server, page, diego):
    refused = []
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # The browser's own request for /favicon.ico reaches the page only as a console line.
    page.on(
        "console",
        lambda m: refused.append(f"{m.text} {m.location.get('url')}") if "Failed to load" in m.text else None,
    )
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#site-name")
    page.wait_for_load_state("networkidle")
    assert refused == []
