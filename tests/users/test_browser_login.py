"""In a real browser: a reader logs in on the live server and lands on their worklist."""

import pytest

from tests.browser import screenshot_path
from tests.factories import PASSWORD, batch_for, make_exam

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_logs_in_and_sees_their_batch_on_the_home_page(live_server, page, ana, bruno, diego, tnmg):
    batch_for(tnmg, diego, [ana, bruno], [make_exam(seed=1), make_exam(seed=2)], name="Browser study", seed=9)
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#worklist")
    row = page.locator("#worklist tbody tr")
    assert row.count() == 1
    assert "Browser study" in row.inner_text()
    assert "0 / 2" in row.inner_text()
    page.screenshot(path=screenshot_path("reader-home"), full_page=True)


def test_a_wrong_password_keeps_the_visitor_on_the_login_form(live_server, page, ana):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text().startswith("Your username and password didn't match")
    assert "/accounts/login/" in page.url


def test_pages_load_no_inline_script_and_raise_no_csp_violation(live_server, page, diego):
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "diego")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#batches")
    for path in ("/taxonomies/", "/exams/"):
        page.goto(f"{live_server.url}{path}")
    assert page.locator("script:not([src])").count() == 0
    assert violations == []
