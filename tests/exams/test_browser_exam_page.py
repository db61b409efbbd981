"""The coordinator's exam page in Chromium: the ECG on calibrated paper with the adjudicator's tools, the
reference labels, the quality report and the batches."""

from __future__ import annotations

import pytest

from annotations.models import ReferenceLabel
from annotations.services.batches.lifecycle import batch_create
from tests.browser import screenshot_path, strips_js
from tests.factories import make_exam
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coordinator_sees_the_ecg_with_the_viewers_tools(live_server, page, diego, ana, tnmg):
    exam = make_exam(external_id="E-77", age=70, sex="F")
    ReferenceLabel.objects.create(exam=exam, code_system="code15", code="AF", likelihood=0.9, source="device")
    batch_create(name="Study A", taxonomy=tnmg, exams=[exam], readers=[ana], readers_per_exam=1, actor=diego)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    page.wait_for_selector("#exam-ecg[data-drawn='1']")
    for tool in ("#layout", "#speed", "#gain", "#rhythm-lead", "#caliper-toggle", "#march", "#reset-zoom"):
        assert page.locator(tool).is_visible(), tool
    names = page.evaluate(f"{strips_js('exam-ecg')}.map(s => s.name)")
    assert len([name for name in names if name]) >= 13 and "II (rhythm)" in names
    page.select_option("#gain", "20")
    page.wait_for_function(
        "() => { const gd = document.getElementById('exam-ecg');"
        " return gd.data.length > 0 && gd.dataset.drawn === '1'; }"
    )
    page.keyboard.press("c")
    assert page.get_attribute("#caliper-toggle", "aria-pressed") == "true"
    assert "AF" in page.inner_text("#reference-labels") and "device" in page.inner_text("#reference-labels")
    assert "Study A" in page.inner_text("#exam-batches")
    assert page.locator("#quality-report").is_visible()
    assert page.locator("script:not([src])").count() == 0
    page.screenshot(path=screenshot_path("exam-page"), full_page=True)
    assert errors == []
