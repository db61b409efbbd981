"""In Chromium: a coordinator makes a benchmark of a finished release on its page; a submitter downloads
the tracings, submits scores through the form, reads the figures beside the readers, and is refused
with the reason, nothing stored, for a bad file. The coordinator closes it; the hidden split appears."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from annotations.models import BenchmarkSubmission
from tests.agreement.test_code_test import CODES, code15  # noqa: F401 (the fixture)
from tests.benchmarks.code_test import THRESHOLDS, code_test_release, submitter
from tests.browser import screenshot_path
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
N = 30


def test_coordinator_creates_and_closes_submitter_submits_in_chromium(
    live_server,
    browser,
    tmp_path,
    diego,
    code15,  # noqa: F811
    eager_worker,
):
    release = code_test_release(tmp_path, diego, n_exams=N)
    submitter("sofia")

    coordinator = browser.new_context().new_page()
    log_in(coordinator, live_server, "diego")
    coordinator.goto(f"{live_server.url}/releases/{release.pk}/")
    coordinator.click("#release-benchmark")
    coordinator.fill("#id_name", "CODE-test in the browser")
    coordinator.select_option("#id_label_source", "reference")
    coordinator.fill("#id_private_fraction", "0.5")
    coordinator.click("#benchmark-form button[type=submit]")
    coordinator.wait_for_url(f"{live_server.url}/benchmarks/*/")
    benchmark_url = coordinator.url
    expect(coordinator.locator("table.figures[data-split=private]")).to_be_visible()

    page = browser.new_context().new_page()
    log_in(page, live_server, "sofia")
    page.goto(f"{live_server.url}/benchmarks/")
    page.click("text=CODE-test in the browser")
    expect(page.locator("table.figures[data-split=private]")).to_have_count(0)
    with page.expect_download() as download:
        page.click("#tracings-download")
    assert download.value.suggested_filename.endswith("-tracings.hdf5")

    bad = tmp_path / "bad.csv"
    bad.write_text("exam_id," + ",".join(CODES) + "\n0,=1+1,0,0,0,0,0\n")
    page.set_input_files("#id_file", str(bad))
    page.fill("#id_model_name", "net")
    page.fill("#id_model_version", "1")
    page.fill("#id_thresholds", ",".join(map(str, THRESHOLDS)))
    page.click("#submission-form button[type=submit]")
    expect(page.locator("#submission-refused")).to_contain_text("'=1+1' is not a score")
    assert not BenchmarkSubmission.objects.exists()

    good = tmp_path / "scores.npy"
    np.save(good, np.random.default_rng(0).random((N, len(CODES))))
    page.goto(benchmark_url)
    page.set_input_files("#id_file", str(good))
    page.fill("#id_model_name", "net")
    page.fill("#id_model_version", "2")
    page.fill("#id_thresholds", ",".join(map(str, THRESHOLDS)))
    page.click("#submission-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/benchmarks/submissions/*/")
    expect(page.locator('tr[data-who="net 2"][data-class="macro"]')).to_have_count(1)
    expect(page.locator("table.figures[data-split=private]")).to_have_count(0)
    page.screenshot(path=screenshot_path("benchmark-submission"), full_page=True)

    coordinator.goto(benchmark_url)
    coordinator.click("#benchmark-close")
    expect(coordinator.locator("h1")).to_contain_text("Closed")
    page.reload()
    expect(page.locator("table.figures[data-split=private]")).to_be_visible()
    expect(page.locator('table.figures[data-split=private] tr[data-who="net 2"]')).to_have_count(
        len(CODES) + 2
    )
