"""In Chromium: a coordinator opens an account on the People page, sees its one-time password once, and
the new account must replace it at its first login."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from annotations.roles import Role, user_roles
from tests.browser import screenshot_path
from tests.reading.test_browser_reader import log_in
from tests.users.test_people import two_readers_two_exams_each

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_opens_an_account_and_it_replaces_its_password(live_server, page, diego, ana):
    log_in(page, live_server, "diego")
    page.click("#nav-people")
    page.wait_for_selector("#people")
    assert page.locator("#people tr[data-user='diego'] form.roles").count() == 0  # not one's own roles
    page.fill("#id_username", "fabio")
    page.check("#new-account input[value=reader]")
    page.click("#new-account button[type=submit]")
    page.wait_for_selector("#one-time-password")
    password = page.inner_text("#one-time-password")
    assert len(password) >= 12
    page.screenshot(path=screenshot_path("people-one-time-password"), full_page=True)
    row = page.locator("#people tr[data-user='ana']")
    row.locator("input[value=adjudicator]").check()
    row.locator("form.roles button").click()
    page.wait_for_selector(".messages")
    assert user_roles(get_user_model().objects.get(username="ana")) == {Role.READER, Role.ADJUDICATOR}
    assert page.locator("#one-time-password").count() == 0
    page.click("form.logout button")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "fabio")
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#password-change")
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("#password-change")  # held here until it is changed
    page.screenshot(path=screenshot_path("people-must-change-password"), full_page=True)
    page.fill("#id_old_password", password)
    page.fill("#id_new_password1", "fabio-chooses-a-long-one-7")
    page.fill("#id_new_password2", "fabio-chooses-a-long-one-7")
    page.click("#password-change button[type=submit]")
    page.wait_for_selector(".messages")
    assert page.url.rstrip("/") == live_server.url


def test_taking_the_reader_role_away_says_which_batches_hold_unread_exams(
    live_server, page, diego, ana, bruno, tnmg
):
    batch = two_readers_two_exams_each("Night shift", tnmg, [ana, bruno], diego)
    log_in(page, live_server, "diego")
    page.click("#nav-people")
    row = page.locator("#people tr[data-user='ana']")
    row.locator("input[value=reader]").uncheck()
    row.locator("form.roles button").click()
    warning = page.locator(".messages .warning")
    warning.wait_for()
    assert "ana still holds 2 unread exams in running batches: Night shift (2)" in warning.inner_text()
    page.screenshot(path=screenshot_path("people-unread-warning"), full_page=True)
    # Written as every page writes times, not "Nov. 25, 2026, 7:13 a.m.".
    last_login = page.locator("#people tr[data-user='diego'] td").nth(3).inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", last_login), last_login
    warning.locator("a", has_text="Night shift").click()
    page.wait_for_url(f"{live_server.url}/batches/{batch.pk}/")
