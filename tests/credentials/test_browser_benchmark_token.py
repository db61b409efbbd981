"""In Chromium: a coordinator hands a submitter a token scoped to one benchmark on the People page, sees
the secret once and the benchmark named in the token list; the token then reaches that benchmark over
the API and nothing else (another benchmark 404, any other route 403)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotations.services.benchmarks.create import benchmark_create, benchmark_prepare
from tests.agreement.test_code_test import code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import code_test_release, submitter
from tests.browser import screenshot_path
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_one_benchmark_token_handed_out_on_the_people_page_reaches_that_benchmark_only(
    live_server,
    browser,
    tmp_path,
    diego,
    code15,  # noqa: F811
):
    release = code_test_release(tmp_path, diego, n_exams=8)
    mine, other = (
        benchmark_prepare(
            benchmark_create(actor=diego, release=release, name=name, label_source="reference").pk
        )
        for name in ("Submitters' set", "Held back")
    )
    submitter("sofia")

    page = browser.new_context().new_page()
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/people/")
    row = page.locator('tr[data-user="sofia"]')
    row.locator("details.token-new summary").click()
    row.locator("input[name=name]").fill("sofia's network")
    row.locator("select[name=scope]").select_option("benchmark")
    row.locator("select[name=benchmark]").select_option(str(mine.pk))
    row.locator("details.token-new button[type=submit]").click()
    shown = page.locator("#one-time-token")
    expect(shown).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    secret = shown.inner_text()
    listed = page.locator("#tokens tbody tr").filter(has_text="sofia's network")
    expect(listed).to_contain_text("Submitters' set")
    page.screenshot(path=screenshot_path("people-benchmark-token"), full_page=True)

    page.reload()
    assert secret not in page.content()

    api = browser.new_context().request  # no session: the token alone speaks
    headers = {"Authorization": f"Token {secret}"}
    assert api.get(f"{live_server.url}/api/v1/benchmarks/{mine.pk}/", headers=headers).status == 200
    assert api.get(f"{live_server.url}/api/v1/benchmarks/{other.pk}/", headers=headers).status == 404
    assert api.get(f"{live_server.url}/api/v1/batches/", headers=headers).status == 403
