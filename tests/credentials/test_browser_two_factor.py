"""In Chromium, on both ways the product is run (the `stack` fixture: embedded and PostgreSQL): the
coordinator sets up two-factor sign-in by the page's QR key, signs out and back in with the app's code,
hands ana an API token on the People page, which reads the API as ana until it is revoked (401)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import pytest

from tests.credentials.totp import code_for
from tests.stacks import PASSWORDS, Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def api_status(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def enrol(page, url: str) -> str:
    page.goto(f"{url}/accounts/two-factor/")
    page.click("#two-factor-start button")
    page.wait_for_selector("#totp-secret")  # the click posts a form: wait for the answer's page
    assert page.locator("#totp-qr svg").count() == 1
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_code", code_for(secret))
    page.click("#two-factor-confirm button")
    page.wait_for_selector("#recovery-codes")
    assert page.locator(".recovery-code").count() == 10
    return secret


def sign_in_with_code(page, url: str, secret: str) -> None:
    page.click("form.logout button")
    page.wait_for_url(f"{url}/accounts/login/")
    page.fill("#id_username", "diego")
    page.fill("#id_password", PASSWORDS["diego"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/accounts/login/two-factor/")
    page.fill("#id_code", "000000")
    page.click("#two-factor-login button")
    assert "not right" in page.locator("#code-error").inner_text()
    page.fill("#id_code", code_for(secret, steps_ahead=1))
    page.click("#two-factor-login button")
    page.wait_for_url(f"{url}/")


def hand_ana_a_token(page, url: str) -> str:
    page.goto(f"{url}/people/")
    row = page.locator("#people tr[data-user=ana]")
    row.locator("details.token-new summary").click()
    row.locator("input[name=name]").fill("ana's script")
    row.locator("select[name=scope]").select_option("reader")
    row.locator("details.token-new button").click()
    page.wait_for_selector("#token-shown")
    return page.locator("#one-time-token").inner_text()


def test_two_factor_sign_in_and_a_token_handed_over_on_the_people_page(browser, stack, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    try:
        page = walk.log_in("diego")
        secret = enrol(page, stack.url)
        sign_in_with_code(page, stack.url, secret)
        token = hand_ana_a_token(page, stack.url)
        status, me = api_status(f"{stack.url}/api/v1/me/", token)
        assert status == 200 and me["username"] == "ana" and me["roles"] == ["reader"]
        page.goto(f"{stack.url}/people/")
        assert token not in page.content()  # shown once
        page.locator("#tokens tr", has_text="ana's script").locator("form.token-revoke button").click()
        page.wait_for_selector("#tokens tr:has-text('revoked')")
        assert api_status(f"{stack.url}/api/v1/me/", token)[0] == 401
        sql = "SELECT action FROM annotations_auditevent WHERE action LIKE %s"
        audited = {row[0] for row in stack.query(sql, "api_token.%")}
        assert audited == {"api_token.create", "api_token.use", "api_token.revoke"}
        assert walk.errors == []
    except Exception:
        walk.shoot_all("two-factor-failed")
        print(stack.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
