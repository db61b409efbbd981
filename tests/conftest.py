"""Shared fixtures: the personas every test speaks of, and the shipped taxonomy.

ana and bruno read, carla adjudicates, diego coordinates, and eve is an outsider with an account but no
role, who must see nothing.
"""

from __future__ import annotations

import time

import pytest

from annotations.roles import Role
from tests.factories import UserFactory


@pytest.fixture
def ana(db):
    return UserFactory(username="ana", roles=[Role.READER])


@pytest.fixture
def bruno(db):
    return UserFactory(username="bruno", roles=[Role.READER])


@pytest.fixture
def carla(db):
    return UserFactory(username="carla", roles=[Role.ADJUDICATOR])


@pytest.fixture
def diego(db):
    return UserFactory(username="diego", roles=[Role.COORDINATOR])


@pytest.fixture
def eve(db):
    return UserFactory(username="eve", roles=[])


@pytest.fixture
def tnmg(db):
    """The default taxonomy, loaded through the real loader."""
    from annotations.services.taxonomy import DEFAULT_TAXONOMY_FILE, taxonomy_load, taxonomy_read_file

    return taxonomy_load(taxonomy_read_file(DEFAULT_TAXONOMY_FILE), make_default=True).taxonomy


@pytest.fixture
def client_for(client):
    """A logged-in Django test client for a persona."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process (Debian's build; Playwright never downloads one)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    # The live server must be done with the page's requests before the test database is flushed: a
    # request still running (an autosave, a prefetch, a keepalive save sent as the page closes) and the
    # flush's TRUNCATE can deadlock.
    try:
        page.wait_for_load_state("networkidle", timeout=5000)
    except Exception:  # a page that never settles is the test's own failure, reported there
        pass
    context.close()
    time.sleep(0.5)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (this process's own Redis database): no login-failure
    count or progress figure leaks from one test into another."""
    from django.core.cache import cache

    cache.clear()
    yield
