"""A real OpenID provider for the single sign-on tests: panva's oidc-provider (OpenID Certified), from
the npm registry at the version pinned in tests/sso/provider/package-lock.json, run by node on loopback.

`running_provider` starts tests/sso/provider/provider.mjs (installing its locked packages with `npm ci`
first if they are missing) and stops it afterwards. Its development login page signs in any login name
as that subject; the subject's email and groups are whatever the test last wrote with `set_account`,
read by the provider at every sign-in.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

from bench._load import free_port

HERE = Path(__file__).resolve().parent / "provider"
CLIENT_ID = "ecg-review"
CLIENT_SECRET = "tests-only-client-secret-0123456789"


@dataclass
class OpenIdProvider:
    issuer: str
    accounts_file: Path
    log: Path

    def set_account(
        self,
        subject: str,
        *,
        groups: list[str],
        email: str = "",
        verified: bool = True,
        amr: list[str] | None = None,
        acr: str | None = None,
    ) -> None:
        """What the provider says of `subject` at its next sign-in; `amr` and `acr`: how they proved it."""
        people = json.loads(self.accounts_file.read_text())
        people[subject] = {
            "email": email or f"{subject}@hospital.example",
            "email_verified": verified,
            "name": subject.title(),
            "groups": groups,
            **({"amr": amr} if amr else {}),
            **({"acr": acr} if acr else {}),
        }
        self.accounts_file.write_text(json.dumps(people))

    def app_settings(self, **extra: str) -> dict[str, str]:
        """The app's environment for this provider (the variables docs/single-sign-on.md documents)."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": "Hospital ID",
            "OIDC_SCOPES": "openid email profile groups",
            "OIDC_ROLE_MAP": "ecg-readers=reader,ecg-adjudicators=adjudicator,ecg-coordinators=coordinator",
            **extra,
        }

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def sign_in(self, authorize_url: str, login: str, browser: requests.Session | None = None) -> str:
        """Through the provider's own login page over HTTP, as a browser without scripts would: the URL
        the provider finally sends the browser back to (the app's callback, with a code or an error).
        `browser` keeps the provider's session cookie, for a test that ends that session later."""
        browser = browser if browser is not None else requests.Session()
        url, form = authorize_url, None
        for _ in range(20):
            if form is not None:
                response = browser.post(url, data=form, allow_redirects=False, timeout=10)
                form = None
            else:
                response = browser.get(url, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                if not url.startswith(self.issuer):
                    return url
                continue
            assert response.status_code == 200, f"{url} -> {response.status_code}: {response.text[:500]}"
            action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            assert action and 'name="login"' in response.text, response.text[:1000]
            url = urljoin(url, action.group(1))
            form = {"prompt": "login", "login": login, "password": "any"}
        raise AssertionError("the provider never sent the browser back to the app")


def _npm_ci() -> None:
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)


@contextmanager
def running_provider(folder: Path, backchannel_logout_uri: str = "") -> Iterator[OpenIdProvider]:
    _npm_ci()
    port = free_port()
    accounts, log = folder / "accounts.json", folder / "oidc-provider.log"
    accounts.write_text("{}")
    environ = {
        "PATH": __import__("os").environ["PATH"],
        "PORT": str(port),
        "ACCOUNTS_FILE": str(accounts),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "BACKCHANNEL_LOGOUT_URI": backchannel_logout_uri,
    }
    with log.open("wb") as output:
        node = subprocess.Popen(
            ["node", "provider.mjs"], cwd=HERE, env=environ, stdout=output, stderr=subprocess.STDOUT
        )
    provider = OpenIdProvider(f"http://127.0.0.1:{port}", accounts, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                discovery = f"{provider.issuer}/.well-known/openid-configuration"
                with urllib.request.urlopen(discovery, timeout=2) as answer:
                    assert json.loads(answer.read())["issuer"] == provider.issuer
                break
            except OSError:
                if node.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"oidc-provider did not start:\n{provider.log_tail()}") from None
                time.sleep(0.1)
        yield provider
    finally:
        node.terminate()
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(timeout=10)


def callback_path(url: str) -> str:
    """The app's part of the provider's redirect: path and query, for Django's test client."""
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}"
