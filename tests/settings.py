"""Settings for the test suite: the real settings module, on real PostgreSQL and Redis."""

import os
import sys
from pathlib import Path

from tests import services

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))
# Playwright's sync API keeps an event loop on the test thread; the ORM calls there are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The suite's suggestion tests count rows of the rule provider alone; a test about another provider
# configures it. (The shipped default also runs the openecg codec: see test_suggestions_openecg.)
os.environ.setdefault("SUGGESTION_PROVIDERS", "annotations.lib.providers.measurements.MeasurementProvider")

# Only the first process checks (xdist workers inherit the answer through the environment).
if os.environ.get("ECGREVIEW_TEST_SERVICES") != "checked":
    try:
        for line in services.ensure():
            print(f"tests: started a throwaway {line}", file=sys.stderr)
    except services.ServiceUnavailable as error:
        sys.exit(f"tests: {error}")
    os.environ["ECGREVIEW_TEST_SERVICES"] = "checked"


def _redis_database_per_process(url: str) -> str:
    """Each xdist worker gets its own Redis database, so a test's Celery worker never takes a task
    queued by a test running in another process (against another test database)."""
    from urllib.parse import urlparse

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # Wrapped round Redis's 16 databases: a 16th worker (gw15) shares the main process's, never another's.
    index = (15 - (int(worker[2:]) + 1 if worker.startswith("gw") else 0)) % 16
    return urlparse(url)._replace(path=f"/{index}").geturl()


os.environ["REDIS_URL"] = _redis_database_per_process(os.environ["REDIS_URL"])

from ecgreview.settings import *  # noqa: E402, F403

# Each xdist worker gets its own waveform folder, so parallel tests never share blobs.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
STORAGES["waveforms"]["OPTIONS"]["location"] = os.path.join(os.environ["VAR_DIR"], _worker, "waveforms")  # noqa: F405
# Releases too: every worker's database numbers its releases from 1, so a shared folder would let one
# worker's release 2 overwrite another's files under the same key.
RELEASE_STORAGE_DIR = Path(os.environ["VAR_DIR"], _worker, "releases")
STORAGES["releases"]["OPTIONS"]["location"] = str(RELEASE_STORAGE_DIR)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins; tests only
