"""In headless Chromium: the agreement page shows each reader against consensus as the API gives it, and
the audited batch's page and agreement page lead to what its audit found."""

from __future__ import annotations

import pytest

from tests.agreement.test_browser_agreement import log_in
from tests.audits.test_audit_on_batch_pages import _audited
from tests.browser import screenshot_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coordinator_reads_each_reader_against_consensus_and_reaches_the_audit(
    live_server, page, client, ana, bruno, carla, diego, tnmg
):
    client.force_login(diego)
    study, audit = _audited(ana, bruno, carla, diego, tnmg, client)
    api = client.get(f"/api/v1/batches/{study.batch.pk}/agreement/").json()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, "diego")

    page.goto(f"{live_server.url}/batches/{study.batch.pk}/")
    assert "0.000" in page.inner_text("#audits-summary .audit-kappa")
    page.click("#audits-summary a.audit-findings-link")
    page.wait_for_selector("#audit-classes")
    assert page.url.endswith(f"/batches/{audit.pk}/audit/")

    page.goto(f"{live_server.url}/batches/{study.batch.pk}/")
    page.click("#agreement-link")
    page.wait_for_selector("#reader-accuracy-classes")
    assert page.locator("#audits-summary a.audit-findings-link").count() == 1
    readers = page.evaluate(
        "[...document.querySelectorAll('#reader-accuracy-readers tbody tr')].map(r => r.dataset.reader)"
    )
    assert sorted(readers) == sorted(r["reader"] for r in api["reader_accuracy"]["readers"])
    cells = page.evaluate(
        "[...document.querySelectorAll('#reader-accuracy-classes tbody tr')].map(r => [r.dataset.row,"
        " r.querySelector('[data-key=sensitivity]').textContent,"
        " r.querySelector('[data-key=specificity]').textContent])"
    )
    by_key = {
        f"{r['reader']}|{r['code']}|{r['reference']}|{r['exposure']}": r
        for r in api["reader_accuracy"]["rows"]
    }
    assert cells
    for key, sensitivity, specificity in cells:
        row = by_key[key]
        for text, value in ((sensitivity, row["sensitivity"]), (specificity, row["specificity"])):
            assert (None if text == "—" else float(text)) == value, (key, text, value)
    page.screenshot(path=str(screenshot_path("agreement-reader-accuracy")), full_page=True)
    assert errors == []
