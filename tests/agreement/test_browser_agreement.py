"""The agreement dashboard and the adjudication page in headless Chromium: the chart and the ECG draw,
under the real CSP, without script errors."""

from __future__ import annotations

import pytest

from annotations.models import Assignment
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.batches.lifecycle import batch_create
from annotations.services.reading import LabelInput, annotation_submit
from tests.browser import screenshot_path, strips_js
from tests.factories import PASSWORD, UserFactory, make_exam

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("main h1")


@pytest.fixture
def disputed_batch(diego, tnmg):
    readers = [UserFactory(username=f"browser-reader-{i}", roles=["reader"]) for i in range(2)]
    exam = make_exam()
    batch = batch_create(
        name="Browser", taxonomy=tnmg, exams=[exam], readers=readers, readers_per_exam=2, actor=diego
    )
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
