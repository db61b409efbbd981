"""The import page in Debian's headless Chromium: a coordinator chooses a whole PTB-XL folder."""

from __future__ import annotations

import pytest

from annotations.models import Exam, ImportJob
from annotations.tasks import imports_run
from tests.browser import screenshot_path
from tests.importing import DATA, use_private_storage
from tests.reading.test_browser_reader import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_chooses_a_ptbxl_folder_and_its_record_is_imported(
    live_server, page, diego, settings, tmp_path
):
    use_private_storage(settings, tmp_path)
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/imports/")
    assert page.get_attribute("#id_folder", "webkitdirectory") is not None
    # The folder as PTB-XL ships it: the database beside records100/00000/00001_lr.{hea,dat}.
    page.set_input_files("#id_folder", str(DATA / "ptbxl"))
    page.fill("#id_dataset", "ptbxl-upload")
    page.click("form.import-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/imports/*/")
    job = ImportJob.objects.get()
    imports_run.apply(args=(job.pk,)).get()  # the worker's part, in this process
    page.reload()
    page.wait_for_selector("#job-status")
    assert page.inner_text("#job-status") == "Done"
    assert page.inner_text("[data-count=created]") == "1"
    # A finished job's bar reads as finished: it spans the card's text, not the browser's default 150 px
    # beside which a full bar looked like work still to do.
    bar, card = (page.locator(s).bounding_box() for s in ("#job-bar", "#job-summary"))
    assert bar["width"] >= min(card["width"], 480) - 1, (bar, card)
    page.screenshot(path=str(screenshot_path("import-ptbxl-folder")), full_page=True)
    exam = Exam.objects.get(dataset__name="ptbxl-upload")
    assert (exam.external_id, exam.source_format) == ("1", "ptbxl")


def test_the_import_page_asks_for_files_or_a_folder(live_server, page, diego):
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/imports/")
    page.fill("#id_dataset", "nothing")
    page.click("form.import-form button[type=submit]")
    assert "Choose files or a folder to import." in page.inner_text("form.import-form")
    assert not ImportJob.objects.exists()


def test_more_files_than_an_upload_takes_are_stopped_in_the_page_with_the_numbers(
    live_server, page, diego, settings, tmp_path
):
    """Said before anything is sent: Django would refuse the body after the whole upload, with a 400."""
    use_private_storage(settings, tmp_path)
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = settings.IMPORT_MAX_FILES = 2
    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/imports/")
    names = ("HR06000.hea", "HR06000.mat", "E07500.hea")
    page.set_input_files("#id_files", [str(DATA / "wfdb" / "cinc2021" / name) for name in names])
    page.fill("#id_dataset", "many")
    page.click("form.import-form button[type=submit]")
    page.wait_for_selector("#too-many-files:not([hidden])")
    said = page.inner_text("#too-many-files")
    assert "3 files were chosen; one upload takes at most 2" in said
    assert page.url == f"{live_server.url}/imports/" and not ImportJob.objects.exists()
    page.screenshot(path=str(screenshot_path("import-too-many-files")), full_page=True)
