"""An adjudicator who signs a case, then signs it again from a second tab or window still showing the old
version, is told it was their own signature, not "another adjudicator"'s: on the page, in Chromium, and
over the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.models import Adjudication
from tests.adjudication.test_adjudication import case_url, disputed, secret_readers  # noqa: F401
from tests.browser import screenshot_path
from tests.factories import UserFactory
from tests.reading.test_browser_reader import log_in

YOURS = (
    "You signed this exam meanwhile, from another tab or window (version 1); that decision is shown "
    "below. Sign again only to change it, giving a rationale."
)


@pytest.mark.django_db
def test_the_api_says_the_signature_that_came_first_was_the_adjudicators_own(
    carla,
    client,
    disputed,  # noqa: F811
):
    batch, exam = disputed
    url = reverse("api-adjudication-case", args=[batch.pk, exam.pk])
    body = {"decisions": [{"code": "1dAVb", "value": True}], "version": 0}
    client.force_login(carla)
    assert client.post(url, body, content_type="application/json").status_code == 200
    again = client.post(url, body, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["version"] == 1 and again.json()["signed_by_you"] is True
    assert "you signed this exam meanwhile, from another tab or window" in again.json()["detail"]
    # Another adjudicator's signature is still called theirs.
    client.force_login(UserFactory(username="olga", roles=["adjudicator"]))
    theirs = client.post(url, body, content_type="application/json")
    assert theirs.status_code == 409 and theirs.json()["signed_by_you"] is False
    assert "another adjudicator" in theirs.json()["detail"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_signing_again_from_a_second_tab_says_it_was_you(
    live_server,
    page,
    carla,
    disputed,  # noqa: F811
):
    batch, exam = disputed
    log_in(page, live_server, "carla")
    second = page.context.new_page()
    for tab in (page, second):
        tab.goto(live_server.url + case_url(batch, exam))
        tab.wait_for_selector("#adjudication-ecg[data-drawn='1']")
    page.check("input[name='decision-1dAVb'][value='present']")
    page.click("#sign")
    page.wait_for_url(f"{live_server.url}/adjudication/")
    second.check("input[name='decision-1dAVb'][value='absent']")
    second.click("#sign")
    second.wait_for_selector("ul.messages")
    said = second.inner_text("ul.messages")
    second.screenshot(path=screenshot_path("adjudication-second-tab"), full_page=False)
    assert said == YOURS
    assert "Another adjudicator" not in second.content()
    assert Adjudication.objects.filter(batch=batch, exam=exam).count() == 1
