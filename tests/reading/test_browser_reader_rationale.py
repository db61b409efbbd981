"""In headless Chromium, on an exam imported from a DICOM cart file, in a two-stage batch that shows the
cart's measurements: before the blind read the reader sees no suggestion, no rationale and no model
measurement; once it is submitted each suggested statement carries the finding and the criterion with its
source under it, and the median panel gives the cart's QRS beside the model's, marked as differing by more
than IEC 60601-2-25's 10 ms, with the tolerance said in the cell's tooltip and in a legend."""

from __future__ import annotations

import pytest

from annotations.models import Exam, ReviewBatch, Suggestion, SuggestionScore
from annotations.selectors.suggestions.scoring import META
from annotations.services.imports.exams import exams_import
from tests.browser import screenshot_path
from tests.factories import batch_for
from tests.importing import DATA
from tests.reading.helpers import queue, ref
from tests.reading.test_browser_reader import choose, log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DICOM = DATA / "dicom/waveform_ecg.dcm"  # its cart measured QRS 75 ms, PR 161 ms (tests/data/README.md)
FINDING = "S V1 1.6 + R V5 2.5 = 4.1 mV"
SOURCE = "Sokolow & Lyon 1949; AHA/ACCF/HRS 2009 part V"
MODEL = {"heart_rate_bpm": 61.0, "pr_ms": 165.0, "qrs_ms": 108.0, "qt_ms": 372.0, "qrs_axis_deg": 50.0}


def _dicom_exam() -> Exam:
    report = exams_import([DICOM], dataset="carts")
    (exam,) = Exam.objects.filter(dataset__name="carts")
    assert exam.device_measurements["qrs_ms"] == 75, report
    return exam


def _suggest(exam, tnmg) -> None:
    """A rule-based provider's stored suggestion: LVH by voltage with its rationale, a QRS of 108 ms."""
    scores = {"LVH_V": 0.9, "SB": 0.2}
    meta = {
        "scores": scores,
        "thresholds": dict.fromkeys(scores, 0.5),
        "taxonomies": [tnmg.pk],
        "rationale": {"LVH_V": {"criterion": "Sokolow-Lyon voltage", "source": SOURCE, "finding": FINDING}},
    }
    suggestion = Suggestion.objects.create(
        exam=exam, provider="rules", provider_version="1", measurements={**MODEL, META: meta}
    )
    for code, score in scores.items():
        SuggestionScore.objects.create(
            suggestion=suggestion, diagnostic_class=tnmg.classes.get(code=code), score=score
        )


def _two_stage_dicom(ana, diego, tnmg):
    """ana's one exam, the DICOM one with its stored suggestion, in a two-stage batch showing the cart."""
    exam = _dicom_exam()
    _suggest(exam, tnmg)
    batch = batch_for(
        tnmg,
        diego,
        [ana],
        [exam],
        name="Two-stage carts",
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
        device_measurements_shown=True,
    )
    return queue(batch, ana)[0]


def _blind_read_submitted(page) -> None:
    choose(page, "sinus brady")
    page.keyboard.press("Enter")
    page.wait_for_selector("#suggestion:not([hidden])")


def test_the_finding_and_the_cart_s_differing_qrs_appear_only_after_the_blind_read(
    live_server, page, ana, diego, tnmg
):
    anas = _two_stage_dicom(ana, diego, tnmg)
    page.set_viewport_size({"width": 1600, "height": 1000})
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    # Blind: the cart's line is there (the batch shows it), nothing of the model is.
    assert "QRS 75 ms" in page.inner_text("#device-measurements")
    assert not page.locator("#suggestion").is_visible()
    # The panel under the leads holds the cart's own measurements only (the batch shows the cart's): the
    # model's QRS (108 ms) and the comparison come after the blind read.
    blind_panel = page.locator("#median-panel")
    blind_panel.wait_for(state="visible")
    assert "Measurements of the signal · not a diagnosis" in blind_panel.inner_text()
    assert "108 ms" not in blind_panel.inner_text() and blind_panel.locator(".median-tolerances").count() == 0
    assert FINDING not in page.content() and SOURCE not in page.content()
    page.screenshot(path=screenshot_path("reader-rationale-blind"), full_page=True)

    _blind_read_submitted(page)
    suggested = page.locator("#suggestion li.suggested", has_text="LVH_V")
    assert suggested.locator(".rationale-finding").inner_text() == f"Finding: {FINDING}"
    assert (
        suggested.locator(".rationale-criterion").inner_text()
        == f"Criterion: Sokolow-Lyon voltage ({SOURCE})"
    )
    assert page.locator("#suggestion li:not(.suggested) .rationale-finding").count() == 0

    panel = page.locator("#median-panel")
    panel.locator(".median-tolerances").wait_for(state="visible")
    qrs = panel.locator("tr", has=page.locator("th", has_text="QRS")).first
    assert qrs.locator("td").nth(0).inner_text() == "108 ms"
    cart = qrs.locator("td").nth(1)
    assert cart.inner_text().startswith("75 ms")
    assert "differs" in (qrs.get_attribute("class") or "")
    assert cart.locator("[title]").get_attribute("title") == "differs by 33 ms; tolerance 10 ms"
    pr = panel.locator("tr", has=page.locator("th", has_text="PR")).first
    assert pr.locator("td").nth(1).inner_text() == "161 ms"  # 4 ms apart: not marked
    assert "differs" not in (pr.get_attribute("class") or "")
    legend = panel.locator(".median-tolerances").inner_text()
    assert "QRS 10 ms" in legend and "QT 25 ms" in legend and "IEC 60601-2-25:2011" in legend
    assert "5 bpm" in legend and "15°" in legend
    page.screenshot(path=screenshot_path("reader-rationale-revealed"), full_page=True)
    page.locator(".label-pane").screenshot(path=screenshot_path("reader-rationale-pane"))
    panel.screenshot(path=screenshot_path("reader-rationale-median"))


def test_in_portuguese_the_finding_the_columns_and_the_tooltip_are_translated(
    live_server, browser, ana, diego, tnmg
):
    anas = _two_stage_dicom(ana, diego, tnmg)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="pt-BR")
    page = context.new_page()
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(anas)}/")
    wait_drawn(page, anas)
    _blind_read_submitted(page)
    suggested = page.locator("#suggestion li.suggested", has_text="LVH_V")
    assert suggested.locator(".rationale-finding").inner_text() == f"Achado: {FINDING}"
    assert suggested.locator(".rationale-criterion").inner_text().startswith("Critério: Sokolow-Lyon voltage")
    panel = page.locator("#median-panel")
    panel.wait_for(state="visible")
    assert panel.locator("thead th").all_inner_texts()[1:] == ["Modelo", "Aparelho"]
    qrs = panel.locator("tr.differs", has=page.locator("th", has_text="QRS"))
    assert qrs.locator("[title]").get_attribute("title") == "difere em 33 ms; tolerância 10 ms"
    assert "escolha nossa" in panel.locator(".median-tolerances").inner_text()
    panel.screenshot(path=screenshot_path("reader-rationale-median-pt"))
    page.wait_for_load_state("networkidle")
    context.close()
