"""The adjudicator sees the patient's earlier ECGs the batch offered its readers: listed with the case (API
and page), served only through the case, drawn on the same paper as the exam, stacked or side by side. A
walk found the readers splitting atrial fibrillation against sinus rhythm with the earlier, regular tracing
beside them, and the adjudicator deciding without it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from annotations.services.agreement.compute import batch_agreement_compute
from tests.adjudication.test_adjudication import case_url, read, secret_readers  # noqa: F401
from tests.browser import screenshot_path, strips_js
from tests.factories import DatasetFactory, batch_for, make_exam
from tests.reading.test_browser_reader import log_in


def _case(readers, diego, tnmg, *, serial: bool):
    dataset = DatasetFactory(name=f"serial-{serial}")
    make_exam(dataset, patient_pseudo_id="P-3", acquired_at=datetime(2024, 9, 2, tzinfo=UTC), heart_rate=68)
    exam = make_exam(
        dataset, patient_pseudo_id="P-3", acquired_at=datetime(2026, 3, 12, tzinfo=UTC), heart_rate=95, seed=4
    )
    one, two = readers
    batch = batch_for(tnmg, diego, [one, two], [exam], name=f"Serial {serial}", serial_comparison=serial)
    read(one, batch, exam, ["AF"])
    read(two, batch, exam, ["SR"])
    batch_agreement_compute(batch.pk)
    return batch, exam


@pytest.fixture
def make_case(secret_readers, diego, tnmg):  # noqa: F811
    """A disputed exam with an earlier one of its patient, in a batch designed with or without serial
    comparison."""
    return lambda serial: _case(secret_readers, diego, tnmg, serial=serial)


def _api(batch, exam) -> str:
    return f"/api/v1/adjudication/{batch.pk}/{exam.pk}/"


@pytest.mark.django_db
def test_the_case_lists_the_earlier_ecg_and_serves_it_only_through_the_case(
    client_for,
    carla,
    diego,
    make_case,
    secret_readers,  # noqa: F811
):
    batch, exam = make_case(True)
    adjudicator = client_for(carla)
    case = adjudicator.get(_api(batch, exam)).json()
    assert [(p["n"], p["acquired_on"]) for p in case["priors"]] == [(1, "2024-09-02")]
    url = case["priors"][0]["waveform_url"]
    assert url == f"/api/v1/adjudication/{batch.pk}/{exam.pk}/priors/1/waveform/"
    served = adjudicator.get(url)
    assert served.status_code == 200 and len(served.content) > 10_000
    assert adjudicator.get(url.replace("/priors/1/", "/priors/2/")).status_code == 404
    page = adjudicator.get(case_url(batch, exam)).content.decode()
    assert 'id="priors-control"' in page and "2024-09-02" in page
    # A reader of the exam, or anybody else, gets no earlier ECG through the case.
    assert client_for(secret_readers[0]).get(url).status_code in (403, 404)
    assert client_for(diego).get(url).status_code in (403, 404)


@pytest.mark.django_db
def test_a_batch_that_showed_readers_no_earlier_ecg_shows_the_adjudicator_none(client_for, carla, make_case):
    batch, exam = make_case(False)
    adjudicator = client_for(carla)
    assert adjudicator.get(_api(batch, exam)).json()["priors"] == []
    assert adjudicator.get(f"{_api(batch, exam)}priors/1/waveform/").status_code == 404


PULSE = """id => document.querySelector(`#${id} path[data-index="0"]`).getBoundingClientRect().toJSON()"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_adjudicator_opens_the_earlier_ecg_stacked_and_side_by_side_on_the_same_paper(
    live_server, browser, carla, make_case
):
    batch, exam = make_case(True)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/priors/" in r.url else None)
    log_in(page, live_server, "carla")
    page.goto(live_server.url + case_url(batch, exam))
    page.wait_for_selector("#adjudication-ecg[data-drawn='1']")
    assert page.locator("#priors-control").is_visible() and not page.locator("#prior-pane").is_visible()
    page.wait_for_load_state("networkidle")
    assert fetched == []  # nothing of it travels until it is opened

    page.select_option("#priors-view", "stacked")
    page.wait_for_selector("#ecg-prior[data-drawn='case:1']")
    assert "2024-09-02" in page.inner_text("#prior-caption")
    names = page.evaluate(f"{strips_js('adjudication-ecg')}.map(s => s.name)")
    assert names == page.evaluate(f"{strips_js('ecg-prior')}.map(s => s.name)")
    current, earlier = page.evaluate(PULSE, "adjudication-ecg"), page.evaluate(PULSE, "ecg-prior")
    assert earlier["height"] == pytest.approx(current["height"], abs=0.5) and current["height"] > 20
    assert earlier["y"] > current["y"] + current["height"]
    page.screenshot(path=screenshot_path("adjudication-priors-stacked"), full_page=True)

    page.keyboard.press("p")  # stacked -> side by side
    page.wait_for_function("document.getElementById('ecg-prior').dataset.mode === 'side'")
    caption = page.inner_text("#prior-caption")
    assert caption.startswith("Left, this ECG; right, the earlier ECG of 2024-09-02")
    beside = page.evaluate(PULSE, "ecg-prior")
    assert beside["height"] == pytest.approx(page.evaluate(PULSE, "adjudication-ecg")["height"], abs=0.5)
    page.select_option("#gain", "20")
    page.wait_for_function("document.getElementById('ecg-prior').dataset.gain === '20'")
    page.screenshot(path=screenshot_path("adjudication-priors-side"), full_page=True)
    page.keyboard.press("p")  # side -> none
    assert not page.locator("#prior-pane").is_visible()
    assert len(fetched) == 1
    # In Portuguese the date reads as the pages write dates there.
    context.add_cookies([{"name": "django_language", "value": "pt-br", "url": live_server.url}])
    page.reload()
    page.wait_for_selector("#adjudication-ecg[data-drawn='1']")
    page.select_option("#priors-view", "stacked")
    page.wait_for_selector("#ecg-prior[data-drawn='case:1']")
    assert "02/09/2024" in page.inner_text("#prior-caption")
    assert page.locator("#prior-choice option").first.inner_text() == "02/09/2024"
    context.close()
