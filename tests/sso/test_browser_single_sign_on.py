"""In Chromium, on both ways the product is run (the `stack` fixture: embedded and PostgreSQL), against a
real OpenID provider (tests/sso/provider.py): a coordinator signs in through the provider's login page
from the app's "Sign in with" button, signs out of both, loses the role when the provider drops the group,
an account with no mapped group opens nothing, and a local password account still signs in."""

from __future__ import annotations

import sys

import pytest

from tests.sso.provider import running_provider
from tests.stacks import Walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("oidc")) as running:
        yield running


@pytest.fixture
def stack_environ(provider):
    return provider.app_settings()


def provider_sign_in(page, url: str, login: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.click("a#sso-sign-in")
    page.wait_for_selector("input[name=login]")  # the provider's own page
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "whatever the provider asks")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def sign_out(page, url: str) -> None:
    page.click("form.logout button")
    page.click("button[name=logout][value=yes]")  # the provider asks before ending its session
    page.wait_for_url(f"{url}/accounts/login/")


def roles(stack, username: str) -> list[str]:
    sql = (
        "SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id "
        "JOIN auth_user u ON u.id = ug.user_id WHERE u.username = %s ORDER BY g.name"
    )
    return [row[0] for row in stack.query(sql, username)]


def test_sign_in_through_the_provider_roles_from_its_groups_and_sign_out(browser, stack, provider, tmp_path):
    walk = Walk(browser, stack, tmp_path)
    url = stack.url
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        walk.contexts.append(context)
        page = context.new_page()
        walk.pages["olga"] = page
        page.on("pageerror", lambda error: walk.errors.append(f"olga: {error}"))
        page.goto(f"{url}/accounts/login/")
        assert page.locator("a#sso-sign-in").inner_text().strip() == "Sign in with Hospital ID"
        walk.shot(page, "sso-login-page")

        provider.set_account("olga", groups=["ecg-coordinators", "ecg-readers"])
        provider_sign_in(page, url, "olga")
        assert roles(stack, "olga") == ["coordinator", "reader"]
        assert page.goto(f"{url}/people/").status == 200
        sql = "SELECT i.issuer, i.subject FROM annotations_ssoidentity i JOIN auth_user u ON u.id = i.user_id"
        assert stack.query(sql + " WHERE u.username = %s", "olga") == [(provider.issuer, "olga")]
        walk.shot(page, "sso-coordinator")

        page.goto(f"{url}/")
        sign_out(page, url)
        assert page.goto(f"{url}/people/").url.startswith(f"{url}/accounts/login/")
        # The provider's session ended too: its login page asks again.
        provider.set_account("olga", groups=["ecg-readers"])
        provider_sign_in(page, url, "olga")
        assert roles(stack, "olga") == ["reader"]
        assert page.goto(f"{url}/people/").status == 403
        audited = stack.query(
            "SELECT before, after FROM annotations_auditevent WHERE action = 'sso.roles' ORDER BY id"
        )
        assert [str(row[1]) for row in audited][-1].count("reader") == 1 and len(audited) == 2
        page.goto(f"{url}/")
        sign_out(page, url)

        provider.set_account("nina", groups=["payroll"])
        provider_sign_in(page, url, "nina")
        assert roles(stack, "nina") == []
        for path in ("/batches/", "/exams/", "/read/next/", "/adjudication/"):
            assert page.goto(f"{url}{path}").status == 403, path
        walk.shot(page, "sso-no-role")

        diego = walk.log_in("diego")  # a local password account, beside the provider's
        assert diego.goto(f"{url}/people/").status == 200
        assert walk.errors == []
    except Exception:
        walk.shoot_all("sso-failed")
        print(stack.log_tail(), provider.log_tail(), file=sys.stderr)
        raise
    finally:
        walk.close()
