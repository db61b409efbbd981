"""The agreement dashboard and the adjudication page in headless Chromium: the chart and the ECG draw,
under the real CSP, without script errors."""

from __future__ import annotations

import re

import pytest

from annotations.models import Assignment
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.reading import LabelInput, annotation_submit
from tests.browser import screenshot_path, strips_js
from tests.factories import UserFactory, batch_for, make_exam
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def disputed_batch(diego, tnmg):
    readers = [UserFactory(username=f"browser-reader-{i}", roles=["reader"]) for i in range(2)]
    exam = make_exam()
    batch = batch_for(tnmg, diego, readers, [exam], name="Browser", readers_per_exam=2)
    for reader, codes in zip(readers, (["SB", "1dAVb"], ["SB"]), strict=True):
        assignment = Assignment.objects.get(batch=batch, reader=reader)
        annotation_submit(
            actor=reader, assignment=assignment, labels=[LabelInput(c) for c in codes], revision=0
        )
    batch_agreement_compute(batch.pk)
    return batch, exam


def test_the_adjudicator_sees_the_ecg_drawn_beside_the_disputed_class(
    live_server, page, carla, disputed_batch
):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, "carla")
    page.goto(f"{live_server.url}/adjudication/")
    page.click("#adjudication-queue a")
    page.wait_for_selector("#adjudication-ecg[data-drawn='1']")
    traces = len(page.evaluate(strips_js("adjudication-ecg")))
    page.screenshot(path=str(screenshot_path("adjudication")), full_page=True)
    assert traces == 13 and errors == []  # 12 leads and the rhythm strip
    page.check("input[name='decision-1dAVb'][value='present']")
    page.click("#sign")
    page.wait_for_selector("#queue-empty")


def test_the_coordinator_sees_the_agreement_chart(live_server, page, diego, disputed_batch):
    batch, _ = disputed_batch
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.click("#agreement-link")
    page.wait_for_selector("#class-chart .main-svg")
    page.screenshot(path=str(screenshot_path("agreement")), full_page=True)
    assert errors == []
    assert page.locator("#pair-matrix tbody tr").count() == 2


def test_the_coordinators_pages_write_numbers_and_dates_in_portuguese_as_the_templates_do(
    live_server, browser, diego, disputed_batch
):
    """A walk in Portuguese found the tables with 0,75 but the chart's axis (-0.4), its class labels
    (IVCD (0.13)), the dashboard's median and quartiles (3.4 and 1.2 to 4.7) and its times (2026-11-27 22:58)
    written as in English: the pages' scripts now write them as the templates do (0,13; 27/11/2026)."""
    batch, _ = disputed_batch
    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, "diego")
    page.context.add_cookies([{"name": "django_language", "value": "pt-br", "url": live_server.url}])
    page.goto(f"{live_server.url}/batches/{batch.pk}/agreement/")
    page.wait_for_selector("#class-chart .main-svg")
    ticks = page.evaluate(
        "[...document.querySelectorAll('#class-chart .ytick text')].map(t => t.textContent)"
    )
    assert ticks and all("," in t and "." not in t for t in ticks), ticks
    axis = page.evaluate("[...document.querySelectorAll('#class-chart .xtick text')].map(t => t.textContent)")
    assert any("," in t for t in axis) and not any("." in t for t in axis), axis

    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.wait_for_function(
        "document.querySelector('#reader-progress tbody tr td:last-child').textContent !== ''"
    )
    rows = page.evaluate(
        "[...document.querySelectorAll('#reader-progress tbody tr')]"
        ".map(r => [...r.cells].map(c => c.textContent))"
    )
    medians = [row[5] for row in rows if row[5] != "—"]
    assert medians and all("." not in m for m in medians), rows
    last = [row[-1] for row in rows if row[-1] != "—"]
    assert last and all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", stamp) for stamp in last), rows
    # Whole reads on the reads-per-day axis (a day of two reads drew 0,5 and 1,5), and the skips column
    # counts them ("Puladas", not the state "Pulado").
    per_day = page.evaluate(
        "[...document.querySelectorAll('#reads-per-day .ytick text')].map(t => t.textContent)"
    )
    assert per_day and all(t.isdigit() for t in per_day), per_day
    assert "Puladas" in page.inner_text("#reader-progress thead")
    page.screenshot(path=str(screenshot_path("dashboard-pt")), full_page=True)
    assert errors == []
    context.close()
