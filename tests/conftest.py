"""Shared fixtures: the personas every test speaks of, and the shipped taxonomy.

ana and bruno read, carla adjudicates, diego coordinates, and eve is an outsider with an account but no
role, who must see nothing.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.utils import translation

from annotations.roles import Role
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _language_of_the_test_alone():
    """Each test starts in the default language. The test client's requests run LocaleMiddleware in the
    test's own thread, which leaves a pt-BR request's language active afterwards (a server's next request
    activates its own); a later test calling a service directly would read its messages in Portuguese."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


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
def eager_worker():
    """Queued tasks run at once, as a worker would right after the commit."""
    from ecgreview.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def client_for(client):
    """A logged-in Django test client for a persona."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The suite's throwaway database lets its own sessions empty the audit table: pytest-django's flush
    between transactional tests is a TRUNCATE, which the table refuses to every other session."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {name} SET ecgreview.audit_truncate = 'allowed'")
            connection.close()  # the setting reaches sessions opened from now on


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process (Debian's build; Playwright never downloads one)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, SuiteBrowser

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield SuiteBrowser(chromium)
        chromium.close()


class LiveRequests:
    """The requests the live server's threads are handling, counted through Django's request signals.

    The test client handles its requests on the test's own thread; only the live server's handler threads
    are counted, so a test's own client calls never hold the count up."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.last_started = 0.0

    def started(self, **kwargs) -> None:
        if threading.current_thread() is threading.main_thread():
            return
        with self.lock:
            self.open += 1
            self.last_started = time.monotonic()

    def finished(self, **kwargs) -> None:
        if threading.current_thread() is threading.main_thread():
            return
        with self.lock:
            self.open = max(0, self.open - 1)

    def wait_quiet(self, quiet_s: float = 0.2, timeout_s: float = 5.0) -> None:
        """Until no request is open and none has started for quiet_s (a keepalive save a closing page
        sends reaches the server a few milliseconds after the page is gone), or timeout_s has passed."""
        begun = time.monotonic()
        deadline = begun + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                quiet = self.open == 0 and time.monotonic() - max(self.last_started, begun) >= quiet_s
            if quiet:
                return
            time.sleep(0.02)


LIVE_REQUESTS = LiveRequests()
request_started.connect(LIVE_REQUESTS.started, weak=False)
request_finished.connect(LIVE_REQUESTS.finished, weak=False)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()
    # The live server must be done with the page's requests before the test database is flushed: a
    # request still running (an autosave, a prefetch, a keepalive save sent as the page closes) and the
    # flush's TRUNCATE can deadlock. Waiting on the server's own count rather than on the page's network
    # going idle for half a second saves about a second per browser test.
    LIVE_REQUESTS.wait_quiet()


@pytest.fixture
def sessions_not_refreshed(settings):
    """Signed-in sessions are not written again by the idle-expiry refresh (SessionRefreshMiddleware).

    For the walks that send thousands of requests, each in a savepoint rolled back after it: the refresh
    a request writes is rolled back with it, so every next request wrote it again, about half of each
    request's time. The refresh itself is tested in tests/cross/test_web_hardening.py."""
    settings.SESSION_REFRESH_S = 10**12  # longer than any session has existed


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (this process's own Redis database): no login-failure
    count or progress figure leaks from one test into another."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def stack_environ() -> dict[str, str]:
    """Settings a test module gives the started product beyond the defaults (override it there)."""
    return {}


@pytest.fixture(params=["embedded", "postgres"])
def stack(request, stack_environ):
    """The product started for real, once per way it is run (tests/stacks.py)."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.stacks import embedded_stack, postgres_stack

    var_dir = Path(tempfile.mkdtemp(prefix=f"walk-{request.param}-"))
    try:
        started = embedded_stack if request.param == "embedded" else postgres_stack
        with started(var_dir, stack_environ) as running:
            yield running
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
