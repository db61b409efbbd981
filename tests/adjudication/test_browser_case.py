"""The adjudication case page in Chromium at a laptop's 1280x800: the reader's toolset on the ECG, which
stays inside its card; readers' notes under pseudonyms; the latent estimate's posterior and model scores."""

from __future__ import annotations

import pytest

from annotations.models import DisputedLabel, Exam, ReviewBatch, Suggestion, SuggestionScore
from tests.adjudication.test_adjudication import SECRET_READERS, case_url, disputed, secret_readers  # noqa: F401
from tests.browser import STRIPS_OF, screenshot_path, strips_js
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_case_page_has_the_readers_tools_and_the_ecg_stays_in_its_card(
    live_server,
    browser,
    carla,
    disputed,  # noqa: F811
):
    batch, exam = disputed
    Exam.objects.filter(pk=exam.pk).update(age=67, sex="F")
    ReviewBatch.objects.filter(pk=batch.pk).update(design={**batch.design, "consensus": {"method": "latent"}})
    DisputedLabel.objects.filter(batch=batch, exam=exam).update(probability=0.62)
    suggestion = Suggestion.objects.create(exam=exam, provider="demo-model", provider_version="2")
    dav = DisputedLabel.objects.get(batch=batch, exam=exam).diagnostic_class
    SuggestionScore.objects.create(suggestion=suggestion, diagnostic_class=dav, score=0.81)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    log_in(page, live_server, "carla")
    page.goto(live_server.url + case_url(batch, exam))
    page.wait_for_selector("#adjudication-ecg[data-drawn='1']")
    for tool in ("#layout", "#speed", "#gain", "#rhythm-lead", "#caliper-toggle", "#march", "#reset-zoom"):
        assert page.locator(tool).is_visible(), tool
    assert page.locator("#case-exam-context").inner_text() == (
        "Acquisition date not recorded · Age 67 · female · 10.0 s at 500 Hz"
    )
    pane = page.locator(".ecg-pane").bounding_box()
    ecg = page.locator(".ecg-wrap").bounding_box()
    assert ecg["x"] >= pane["x"] and ecg["x"] + ecg["width"] <= pane["x"] + pane["width"] + 0.5
    page.screenshot(path=screenshot_path("adjudication-case-1280"), full_page=True)

    page.select_option("#speed", "50")
    page.wait_for_function(
        "() => { const t = " + strips_js("adjudication-ecg") + "[0];"
        " return Math.abs(t.x[1] - t.x[0] - 0.1) < 1e-6; }"
    )
    assert page.evaluate(
        "(() => { const w = document.querySelector('.ecg-wrap'); return w.scrollWidth > w.clientWidth; })()"
    )
    assert page.locator(".ecg-pane").bounding_box()["width"] == pane["width"]  # the card did not grow
    page.keyboard.press("c")
    for at in (0.2, 0.3):
        x, y = page.evaluate(
            "() => { const gd = document.getElementById('adjudication-ecg'); const xa = gd._fullLayout.xaxis;"
            " const ya = gd._fullLayout.yaxis; const box = gd.getBoundingClientRect();"
            f" const t = {STRIPS_OF}(gd).find(d => d.name === 'II (rhythm)');"
            f" const i = Math.round(t.x.length * {at});"
            " return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])]; }"
        )
        page.mouse.click(x, y)
    assert page.locator("#caliper-readout").get_attribute("data-interval-ms")

    row = page.inner_text("#disputed tbody tr")
    assert "P = 0.62" in row and "0.81" in row
    notes = page.inner_text("#reader-notes")
    assert not any(name in notes for name in SECRET_READERS)
    page.screenshot(path=screenshot_path("adjudication-case-tools"), full_page=True)
    page.wait_for_load_state("networkidle")
    context.close()


def test_the_case_page_shows_the_median_beat_and_the_scores_readers_see(
    live_server,
    browser,
    carla,
    disputed,  # noqa: F811
    settings,
):
    """The median beat panel with the model's fiducial marks and measurements, under the strips as on the
    reader page; and the scores of the provider readers are shown (SUGGESTION_READER_PROVIDER), not of
    whichever provider finished last: a newer quality-only provider scores none of the disputed classes."""
    from tests.reading.test_browser_reader_median import MEASURED

    batch, exam = disputed
    dav = DisputedLabel.objects.get(batch=batch, exam=exam).diagnostic_class
    settings.SUGGESTION_READER_PROVIDER = "measurements"
    shown = Suggestion.objects.create(
        exam=exam, provider="measurements", provider_version="3", measurements=MEASURED
    )
    SuggestionScore.objects.create(suggestion=shown, diagnostic_class=dav, score=0.77)
    Suggestion.objects.create(exam=exam, provider="quality", provider_version="1.0")  # newer, scores no class
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = context.new_page()
    log_in(page, live_server, "carla")
    page.goto(live_server.url + case_url(batch, exam))
    page.wait_for_selector("#adjudication-ecg[data-drawn='1']")

    header = page.inner_text("#disputed thead")
    # Named in the adjudicator's language, not by the provider's key; the newer quality check scores nothing.
    assert "Interval measurements and rules, 3" in header and "quality" not in header.lower()
    assert "0.77" in page.inner_text("#disputed tbody tr")

    panel = page.locator("#median-panel")
    assert panel.is_visible()
    assert page.locator("#median-panel polyline").count() == 12
    assert page.locator("#median-panel line[data-mark]").count() == 12 * 4
    text = panel.inner_text()
    for expected in (
        "Median beat · Interval measurements and rules",
        "72 bpm",
        "160 ms",
        "380 ms",
        "50 / 45 / 40 °",
    ):
        assert expected in text, expected
    strips, under = page.locator(".ecg-wrap").bounding_box(), panel.bounding_box()
    assert under["y"] >= strips["y"] + strips["height"] - 1  # under: the strips keep the pane's width
    assert page.evaluate("(w => w.scrollWidth <= w.clientWidth + 1)(document.querySelector('.ecg-wrap'))")
    page.screenshot(path=screenshot_path("adjudication-case-median"), full_page=True)
    page.wait_for_load_state("networkidle")
    context.close()
