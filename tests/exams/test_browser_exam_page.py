"""The coordinator's exam page in Chromium: the ECG on calibrated paper with the adjudicator's tools, the
reference labels, the quality report and the batches."""

from __future__ import annotations

import pytest

from annotations.models import Exam, ReferenceLabel
from tests.browser import screenshot_path, strips_js
from tests.factories import batch_for, make_exam
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coordinator_sees_the_ecg_with_the_viewers_tools(live_server, page, diego, ana, tnmg):
    exam = make_exam(external_id="E-77", age=70, sex="F")
    ReferenceLabel.objects.create(exam=exam, code_system="code15", code="AF", likelihood=0.9, source="device")
    batch_for(tnmg, diego, [ana], [exam], name="Study A")
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


def test_the_coordinator_compares_the_cart_s_measurements_with_the_model_s(
    live_server, page, diego, settings, tmp_path
):
    """A real DICOM file from a Mortara cart: its printed measurements beside the measurement provider's."""
    from annotations.services.imports.exams import exams_import
    from annotations.services.suggestions import suggestions_exam_compute
    from tests.importing import DATA, use_private_storage

    use_private_storage(settings, tmp_path)
    exams_import([DATA / "dicom/waveform_ecg.dcm"], dataset="carts")
    exam = Exam.objects.get(dataset__name="carts")
    suggestions_exam_compute(exam.pk)
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    table = page.locator("#measurements table")
    table.wait_for()
    headers = table.locator("thead th").all_inner_texts()
    assert headers[:2] == ["Measurement", "Device"] and len(headers) == 3, headers
    rows = {
        row.locator("th").inner_text(): row.locator("td").all_inner_texts()
        for row in table.locator("tbody tr").all()
    }
    assert rows["RR"][0] == "982 ms" and rows["PR"][0] == "161 ms" and rows["QRS axis"][0] == "52°"
    # The model's own rate from the same beats, in the next column, within 3 bpm of the cart's RR.
    assert abs(float(rows["Heart rate"][1].split()[0]) - 60000 / 982) < 3, rows
    page.locator("#measurements").screenshot(path=screenshot_path("exam-measurements-compared"))
