"""In Chromium: the designer's preview lists the chosen exams page by page with gold and retest marked, and
the dashboard of a running batch adds more exams by the same criteria."""

from __future__ import annotations

import re

import pytest

from annotations.models import BatchExam
from tests.browser import screenshot_path
from tests.factories import DatasetFactory, ExamFactory, add_reference_labels, batch_for
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_preview_lists_chosen_exams_by_page(live_server, page, ana, bruno, diego, tnmg):
    for exam in ExamFactory.create_batch(60, dataset=DatasetFactory(name="archive")):
        add_reference_labels(exam, ("code15", "RBBB"))
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/new/")
    page.fill("#id_name", "Designed")
    page.select_option("#id_taxonomy", str(tnmg.pk))
    page.check(f"input[name=readers][value='{ana.pk}']")
    page.check(f"input[name=readers][value='{bruno.pk}']")
    page.check("input[name=datasets][value=archive]")
    page.fill("#id_gold_fraction", "0.1")
    page.fill("#id_retest_fraction", "0.1")
    page.click("button[name=action][value=preview]")
    page.wait_for_selector("#design-preview, #design-errors")
    page.wait_for_selector("#plan-exams", timeout=3000)
    assert page.locator("#plan-exams tbody tr").count() == 50
    assert "Page 1 of 2" in page.inner_text("#design-preview")
    page.screenshot(path=screenshot_path("designer-preview-exams"), full_page=True)
    page.click("#plan-next")
    page.wait_for_selector("#plan-previous")
    assert page.locator("#plan-exams tbody tr").count() == 10
    tags = page.locator("#plan-exams").inner_text() + page.inner_text("#plan-exams-heading")
    assert re.search(r"6 gold", tags)


def test_the_dashboard_adds_exams_to_a_running_batch(live_server, page, ana, bruno, diego, tnmg):
    first = ExamFactory.create_batch(2, dataset=DatasetFactory(name="first"))
    ExamFactory.create_batch(3, dataset=DatasetFactory(name="more"))
    batch = batch_for(tnmg, diego, [ana, bruno], first, name="Running")
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.check("#add-exams input[name=datasets][value=more]")
    page.fill("#add-exams input[name=sample_size]", "2")
    page.click("#add-exams button[type=submit]")
    page.wait_for_selector(".messages")
    assert "2 exams added" in page.inner_text(".messages")
    assert BatchExam.objects.filter(batch=batch).count() == 4
    assert page.locator("#exam-status tbody tr").count() == 4
    page.screenshot(path=screenshot_path("dashboard-add-exams"), full_page=True)


# Each designer control whose label does not sit right above it, with its help (if any) right below it.
LABELS_ASTRAY_JS = """(root) => [...document.querySelectorAll(`${root} .field:not(.check)`)]
.flatMap((field) => {
  const label = field.querySelector(":scope > label");
  const control = field.querySelector(":scope > input, :scope > select");
  if (!label || !control) return [];
  const l = label.getBoundingClientRect(), c = control.getBoundingClientRect();
  const help = field.querySelector(":scope > small"), h = help && help.getBoundingClientRect();
  const above = l.bottom <= c.top + 1 && Math.abs(l.left - c.left) < 2;
  const below = !h || (h.top >= c.bottom - 1 && Math.abs(h.left - c.left) < 2);
  return above && below ? [] : [control.id];
})"""


def test_every_designer_field_reads_label_above_help_below(live_server, page, ana, bruno, diego, tnmg):
    """The designer, and the running batch's form that adds exams by the same criteria."""
    batch = batch_for(tnmg, diego, [ana, bruno], ExamFactory.create_batch(2), name="Running")
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    assert page.locator("#add-exams .field").count() >= 10
    assert page.evaluate(LABELS_ASTRAY_JS, "#add-exams") == []
    for width in (1400, 900):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/batches/new/")
        assert page.locator("#batch-designer .field").count() >= 25
        assert page.evaluate(LABELS_ASTRAY_JS, "#batch-designer") == []
        page.screenshot(path=screenshot_path(f"designer-form-{width}"), full_page=True)
