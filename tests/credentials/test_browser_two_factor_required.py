"""In Chromium, on both ways the product is run (the `stack` fixture), with TWO_FACTOR_REQUIRED_FOR_STAFF
on: a coordinator without a second factor who signs in with a password is sent to set one up, and held
there (pages and API) until it is done; a reader is not asked."""

from __future__ import annotations

import sys

import pytest

from tests.credentials.test_browser_two_factor import enrol
from tests.stacks import PASSWORDS, Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack_environ():
    return {"TWO_FACTOR_REQUIRED_FOR_STAFF": "1"}


def password_sign_in(walk: Walk, username: str):
    context = walk.browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    walk.contexts.append(context)
    page = context.new_page()
    walk.pages[username] = page
    page.on("pageerror", lambda error: walk.errors.append(f"{username}: {error}"))
    page.goto(f"{walk.stack.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    page.click("button[type=submit]")
    return page


def test_a_coordinator_without_a_second_factor_enrols_before_anything_else(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    url = stack.url
    try:
        page = password_sign_in(walk, "diego")
        page.wait_for_url(f"{url}/accounts/two-factor/")
        walk.shot(page, "two-factor-required")
        for path in ("/", "/batches/", "/people/", "/audit/"):
            page.goto(f"{url}{path}")
            assert page.url == f"{url}/accounts/two-factor/", path
        held = page.request.get(f"{url}/api/v1/me/")
        assert held.status == 403 and "two-factor" in held.json()["detail"]
        enrol(page, url)
        assert page.goto(f"{url}/batches/").status == 200
        assert page.request.get(f"{url}/api/v1/me/").status == 200
        sql = "SELECT count(*) FROM annotations_auditevent WHERE action = 'two_factor.enrol'"
        assert stack.query(sql) == [(1,)]

        reader = password_sign_in(walk, "ana")
        reader.wait_for_url(f"{url}/")
        assert walk.errors == []
    except Exception:
        walk.shoot_all("two-factor-required-failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
