"""The reader's print sheet in Chromium: one A4 landscape page whose ECG is drawn in real millimetres
(25 mm/s, 10 mm/mV on a 1 mm / 5 mm grid), made into a PDF as the browser's print does."""

from __future__ import annotations

import re

import pytest

from annotations.services.reading import (
    LabelInput,
    annotation_save_draft,
    annotation_submit,
    reader_preferences_set,
)
from tests.browser import OUTPUT, screenshot_path
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BRUNO_MARKER = "MARKER-bruno-never-on-anas-print"
MM_PER_INCH = 25.4
CSS_PX_PER_INCH = 96


def _svg_geometry(page) -> dict:
    """The SVG's size in CSS pixels and its viewBox, and where the calibration pulse and traces are."""
    return page.evaluate(
        """() => {
          const svg = document.getElementById('print-ecg');
          const box = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
          const pulse = document.querySelector('#print-ecg .calibration').getBBox();
          return { width: box.width, height: box.height, vbWidth: vb.width, vbHeight: vb.height,
                   unitWidth: svg.getAttribute('width'), pulseHeight: pulse.height,
                   speed: parseFloat(svg.dataset.speed), gain: parseFloat(svg.dataset.gain),
                   traces: document.querySelectorAll('#print-ecg .trace').length,
                   thin: document.querySelector('#print-ecg .grid-thin').getAttribute('d').length,
                   bold: document.querySelector('#print-ecg .grid-bold').getAttribute('d').length };
        }"""
    )


def test_the_print_sheet_is_one_a4_landscape_page_in_real_millimetres(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1, age=58, sex="F")
    mine, theirs = queue(batch, ana)[0], queue(batch, bruno)[0]
    annotation_submit(
        actor=bruno, assignment=theirs, labels=[LabelInput("AF")], comment=BRUNO_MARKER, revision=0
    )
    annotation_save_draft(actor=ana, assignment=mine, labels=[LabelInput("SB")], revision=0)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(mine)}/")
    page.wait_for_selector(f"#ecg[data-drawn='{ref(mine)}']")
    assert page.get_attribute("#print-link", "href") == f"/read/{ref(mine)}/print/"
    on_screen = page.inner_text("#exam-context")
    page.click("#print-link")
    page.wait_for_selector("#print-ecg[data-drawn='1']")
    header = "Acquisition date not recorded · Age 58 · female · 10.0 s at 500 Hz"
    assert page.inner_text("#print-exam") == on_screen == header
    assert page.url.endswith(f"/read/{ref(mine)}/print/")
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("#print-button").is_visible()

    geometry = _svg_geometry(page)
    assert geometry["speed"] == 25 and geometry["gain"] == 10
    assert geometry["unitWidth"] == f"{geometry['vbWidth']:g}mm"  # one user unit is one millimetre
    px_per_mm = CSS_PX_PER_INCH / MM_PER_INCH
    mm_per_unit = geometry["width"] / geometry["vbWidth"] / px_per_mm
    assert mm_per_unit == pytest.approx(1, abs=1e-3)
    assert geometry["height"] / geometry["vbHeight"] / px_per_mm == pytest.approx(1, abs=1e-3)
    assert 1 * geometry["speed"] * mm_per_unit == pytest.approx(25, abs=0.05)  # 1 s spans 25 mm
    assert geometry["pulseHeight"] * mm_per_unit == pytest.approx(10, abs=0.05)  # the 1 mV pulse, 10 mm
    assert geometry["traces"] == 13 and geometry["thin"] > 1000 and geometry["bold"] > 200
    text = page.inner_text("body")
    assert "SB" in text and "Sinus bradycardia" in text and "Age 58" in text
    assert BRUNO_MARKER not in page.content() and "Atrial fibrillation" not in text
    page.screenshot(path=screenshot_path("reader-print"), full_page=True)

    page.emulate_media(media="print")
    assert not page.locator("#print-button").is_visible()
    # The printed page as the PDF lays it out: A4's 297 mm less the 10 mm margins, at 96 px per inch.
    page.set_viewport_size({"width": round(277 * px_per_mm), "height": round(190 * px_per_mm)})
    assert page.evaluate("document.documentElement.scrollHeight") <= round(190 * px_per_mm) + 1
    page.screenshot(path=screenshot_path("reader-print-media"), full_page=True)
    pdf = page.pdf(format="A4", landscape=True, prefer_css_page_size=True, print_background=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "reader-print.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    assert [tuple(round(float(v)) for v in box) for box in boxes] == [(0, 0, 842, 595)]


LEAD_NAMES = """() => Array.from(document.querySelectorAll('#print-ecg .lead-name'), t => {
  const box = t.getBoundingClientRect();
  return {lead: t.textContent, x: Math.round(box.x), y: Math.round(box.y)};
})"""


@pytest.mark.parametrize(("layout", "pages"), [("6x2", 1), ("12x1", 2)])
def test_the_print_sheet_keeps_the_readers_saved_layout_calibrated(
    live_server, page, ana, bruno, diego, tnmg, layout, pages
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    mine = queue(batch, ana)[0]
    reader_preferences_set(actor=ana, values={"layout": layout})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(mine)}/print/")
    page.wait_for_selector("#print-ecg[data-drawn='1']")
    geometry = _svg_geometry(page)
    px_per_mm = CSS_PX_PER_INCH / MM_PER_INCH
    assert geometry["pulseHeight"] == pytest.approx(10, abs=0.05)  # still 10 mm/mV, 25 mm/s
    assert geometry["width"] / geometry["vbWidth"] / px_per_mm == pytest.approx(1, abs=1e-3)
    assert geometry["traces"] == 12  # no rhythm strip in these layouts
    names = page.evaluate(LEAD_NAMES)
    rows: dict[int, list[str]] = {}
    for name in names:
        rows.setdefault(name["y"], []).append(name["lead"])
    expected = {
        "6x2": [["I", "V1"], ["II", "V2"], ["III", "V3"], ["aVR", "V4"], ["aVL", "V5"], ["aVF", "V6"]],
        "12x1": [
            ["I"],
            ["II"],
            ["III"],
            ["aVR"],
            ["aVL"],
            ["aVF"],
            ["V1"],
            ["V2"],
            ["V3"],
            ["V4"],
            ["V5"],
            ["V6"],
        ],
    }
    visible = [rows[y] for y in sorted(rows)]
    # 12x1: each page's SVG shows six of the rows (the drawing is the same; its window differs).
    assert visible[:6] == expected[layout][:6]
    assert page.locator("svg.print-ecg").count() == pages
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", landscape=True, prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == pages
    page.screenshot(path=screenshot_path(f"reader-print-{layout}"), full_page=True)


def test_the_print_sheet_writes_di_dii_diii_when_the_reader_chose_them(
    live_server, page, ana, bruno, diego, tnmg
):
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=1)
    mine = queue(batch, ana)[0]
    reader_preferences_set(actor=ana, values={"lead_names": "DI"})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(mine)}/print/")
    page.wait_for_selector("#print-ecg[data-drawn='1']")
    names = [name["lead"] for name in page.evaluate(LEAD_NAMES)]
    assert names[:3] == ["DI", "aVR", "V1"] and "DII" in names and "DIII" in names
    assert "I" not in names and "II" not in names and "III" not in names
    page.screenshot(path=screenshot_path("reader-print-di"), full_page=True)
