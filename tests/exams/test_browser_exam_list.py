"""The exam list in Debian's headless Chromium: a coordinator filters, sorts, and pages forward and back
with the filters kept in the form and the links."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from annotations.models import ReferenceLabel
from tests.browser import screenshot_path
from tests.factories import PASSWORD, DatasetFactory, ExamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Each filter box whose placeholder is wider than the box (its text cut, as "code systen" was).
PLACEHOLDERS_CUT_JS = """() => {
  const g = document.createElement("canvas").getContext("2d");
  return [...document.querySelectorAll(".filters input[placeholder]")].filter((box) => {
    const style = getComputedStyle(box);
    g.font = `${style.fontSize} ${style.fontFamily}`;
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return g.measureText(box.placeholder).width > room;
  }).map((box) => `${box.id}: ${box.placeholder}`);
}"""


def rows(page) -> list[str]:
    return page.eval_on_selector_all(
        "#exam-table tbody tr td:nth-child(2) a", "links => links.map(a => a.textContent)"
    )


def test_a_coordinator_filters_sorts_and_pages_the_exam_list(live_server, page, diego, monkeypatch):
    monkeypatch.setattr("annotations.views.exams.PAGE_SIZE", 2)
    beta = DatasetFactory(name="beta")
    DatasetFactory(name="alpha")
    for day in range(1, 6):
        exam = ExamFactory(
            dataset=beta, external_id=f"b{day}", acquired_at=timezone.make_aware(datetime(2024, 3, day, 9))
        )
        if day != 3:
            ReferenceLabel.objects.create(exam=exam, code_system="code15", code="RBBB")
    ExamFactory(dataset=DatasetFactory(name="alpha"), external_id="a1")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", diego.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("main h1")
    page.goto(f"{live_server.url}/exams/")
    # The filters wrap inside the page: none of them is pushed out of view to the right.
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width
    assert page.evaluate(PLACEHOLDERS_CUT_JS) == []
    page.select_option("#dataset", "beta")
    # As a coordinator types it: the system in the code box, the code in lower case.
    page.fill("#label_code", "code15:rbbb")
    page.fill("#acquired_from", "2024-03-02")
    page.select_option("#sort", "-date")
    page.click(".filters button[type=submit]")
    page.wait_for_selector("#exam-table")
    assert rows(page) == ["b5", "b4"]
    page.click("#next-page")
    page.wait_for_selector("#previous-page")
    assert rows(page) == ["b2"]  # b3 has no RBBB, b1 is before the 2nd
    assert page.input_value("#label_code") == "code15:rbbb" and page.input_value("#sort") == "-date"
    assert page.input_value("#dataset") == "beta" and page.input_value("#acquired_from") == "2024-03-02"
    assert page.locator("#next-page").count() == 0
    page.click("#previous-page")
    page.wait_for_selector("#next-page")
    assert rows(page) == ["b5", "b4"]
    page.screenshot(path=screenshot_path("exam-list-filtered"), full_page=True)
