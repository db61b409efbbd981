"""The import report in Debian's headless Chromium: a waveform already stored under another dataset is
counted as a duplicate and its row links both exams, the new one and the earlier one."""

from __future__ import annotations

import pytest

from annotations.models import Exam, ImportJob
from annotations.tasks import imports_run
from tests.browser import screenshot_path
from tests.importing import SAMPLE_FILES, use_private_storage
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload(page, live_server, dataset: str) -> ImportJob:
    page.goto(f"{live_server.url}/imports/")
    page.set_input_files("#id_files", str(SAMPLE_FILES["A1986"]))
    page.fill("#id_dataset", dataset)
    page.click("form.import-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/imports/*/")
    job = ImportJob.objects.latest("id")
    imports_run.apply(args=(job.pk,)).get()  # the worker's part, in this process
    page.reload()
    page.wait_for_selector("#job-status")
    return job


def test_the_report_counts_a_duplicate_and_links_both_exams(live_server, page, diego, settings, tmp_path):
    use_private_storage(settings, tmp_path)
    log_in(page, live_server, "diego")
    upload(page, live_server, "cpsc")
    assert page.inner_text("[data-count=duplicates]") == "0"
    upload(page, live_server, "cpsc-copy")
    earlier = Exam.objects.get(dataset__name="cpsc")
    later = Exam.objects.get(dataset__name="cpsc-copy")
    # The poller rewrites the table once the job is done: wait for its links, not the server's rows.
    row = page.locator("#job-outcomes tr", has_text="duplicate")
    row.locator(f'a[href="/exams/{earlier.pk}/"]').wait_for()
    assert page.inner_text("[data-count=duplicates]") == "1"
    assert page.inner_text("[data-count=created]") == "1"
    assert row.locator(f'a[href="/exams/{later.pk}/"]').inner_text() == "A1986"
    page.screenshot(path=str(screenshot_path("import-duplicate-report")), full_page=True)
    row.locator(f'a[href="/exams/{earlier.pk}/"]').click()
    page.wait_for_url(f"{live_server.url}/exams/{earlier.pk}/")
    assert page.locator(f'#same-waveform a[href="/exams/{later.pk}/"]').count() == 1
