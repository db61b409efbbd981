"""In Chromium, on the Portuguese pages: a reader skips an exam by choosing a listed reason from the
keyboard (and "other" with their own words), and the coordinator's dashboard counts the skips per reason
in Portuguese."""

from __future__ import annotations

import pytest

from annotations.models import Assignment
from tests.browser import screenshot_path
from tests.reading.helpers import queue, ref, shared_batch
from tests.reading.test_browser_reader import log_in, wait_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pt_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="pt-BR")
    page = context.new_page()
    yield page
    context.close()


def test_a_reader_skips_with_a_listed_reason_and_the_dashboard_counts_it_in_portuguese(
    live_server, pt_page, ana, bruno, diego, tnmg
):
    page = pt_page
    batch = shared_batch(readers=[ana, bruno], coordinator=diego, taxonomy=tnmg, exams=3)
    first, second, third = queue(batch, ana)
    log_in(page, live_server, "ana")
    page.goto(f"{live_server.url}/read/{ref(first)}/")
    wait_drawn(page, first)
    page.wait_for_timeout(1200)  # past the second in which a key may not act on an exam just opened
    page.keyboard.press("s")
    page.wait_for_selector("#skip-dialog[open]")
    labels = page.locator("#skip-codes label").all_inner_texts()
    assert [label.strip().split(" ", 1)[1].strip() for label in labels] == [
        "Traçado ilegível",
        "Suspeita de paciente errado ou eletrodos trocados",
        "Não é um ECG de 12 derivações",
        "Exame duplicado",
        "Outro (diga por quê)",
    ]
    assert page.is_disabled("#skip-reason")  # words go with "other" only
    page.keyboard.press("1")
    page.screenshot(path=screenshot_path("reader-skip-codes-pt"), full_page=True)
    page.keyboard.press("Enter")
    wait_drawn(page, second)
    first.refresh_from_db()
    assert (first.status, first.skip_code, first.skip_reason) == ("skipped", "unreadable", "")

    page.wait_for_timeout(1200)
    page.keyboard.press("s")
    page.wait_for_selector("#skip-dialog[open]")
    page.keyboard.press("5")  # other: the words box takes the keys
    assert page.evaluate("document.activeElement.id") == "skip-reason"
    page.keyboard.type("Marca-passo 2 vezes")
    page.keyboard.press("Enter")
    wait_drawn(page, third)
    second.refresh_from_db()
    assert (second.skip_code, second.skip_reason) == ("other", "Marca-passo 2 vezes")
    page.context.clear_cookies()

    log_in(page, live_server, "diego")
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    page.wait_for_selector("#refreshed-at:not(:empty)")  # the JSON refresh has redrawn the figures
    counts = page.locator("#skip-counts")
    assert counts.locator("tr[data-code='unreadable']").inner_text().split("\t") == ["Traçado ilegível", "1"]
    assert counts.locator("tr[data-code='other'] td.count").inner_text() == "1"
    assert counts.locator("tr[data-code='duplicate'] td.count").inner_text() == "0"
    listed = page.locator(f"#skips tr[data-assignment='{first.pk}'] .skip-reason").inner_text()
    assert listed == "Traçado ilegível"
    assert "Marca-passo 2 vezes" in page.inner_text("#skips")
    page.screenshot(path=screenshot_path("dashboard-skip-counts-pt"), full_page=True)
    assert Assignment.objects.filter(batch=batch, status="skipped").count() == 2
