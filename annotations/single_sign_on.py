"""Single sign-on with OpenID Connect, through mozilla-django-oidc (authorization code flow with PKCE).

Configured from the environment (ecgreview/settings.py, docs/single-sign-on.md). mozilla-django-oidc
wants each endpoint as a setting; here they come from the provider's discovery document, fetched at the
first sign-in and kept for DISCOVERY_TTL_S, so an operator gives the issuer alone, as Keycloak, Entra ID
and Google publish it. mozilla-django-oidc checks the ID token's signature (the provider's JWKS) and nonce;
the issuer and audience are checked here too, and the person is identified by (issuer, subject), never by
email address (annotations.services.credentials.single_sign_on).

A half-configured provider is an error of the system check below, which `migrate`, `runserver` and
`check` run: a hospital's sign-in must not silently fall back to passwords alone.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from annotations.roles import role_map
from annotations.services.credentials.single_sign_on import SignInRefused, identity_sign_in
from ecgreview.client_address import client_ip

logger = logging.getLogger(__name__)

REQUIRED = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
DISCOVERY_TTL_S = 3600
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read (down, unreachable, or not a provider)."""


def enabled() -> bool:
    return all(getattr(settings, name, None) for name in REQUIRED)


def issuer() -> str:
    return (settings.OIDC_ISSUER or "").rstrip("/")


_discovered: dict[str, tuple[float, dict]] = {}
_discovery_lock = threading.Lock()


def discovery() -> dict:
    """The provider's OpenID configuration, read once an hour per process."""
    wanted = issuer()
    with _discovery_lock:
        cached = _discovered.get(wanted)
        if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
            return cached[1]
    try:
        answer = requests.get(f"{wanted}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT_S)
        answer.raise_for_status()
        document = answer.json()
    except (requests.RequestException, ValueError) as error:
        logger.warning("single sign-on: the provider's discovery document is unreadable: %s", error)
        raise ProviderUnavailable(str(error)) from None
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != wanted:
        raise ProviderUnavailable(f"{wanted} publishes the discovery document of another issuer")
    with _discovery_lock:
        _discovered[wanted] = (time.monotonic(), document)
    return document


def end_session_endpoint() -> str | None:
    """Where the provider ends its own session (RP-initiated logout), if it offers that."""
    try:
        return discovery().get("end_session_endpoint")
    except ProviderUnavailable:
        return None


# mozilla-django-oidc's setting names, answered from ours and from the discovery document.
_FROM_OURS = {
    "OIDC_RP_CLIENT_ID": lambda: settings.OIDC_CLIENT_ID,
    "OIDC_RP_CLIENT_SECRET": lambda: settings.OIDC_CLIENT_SECRET,
    "OIDC_RP_SIGN_ALGO": lambda: settings.OIDC_SIGN_ALGORITHM,
    "OIDC_RP_SCOPES": lambda: settings.OIDC_SCOPES,
    "OIDC_OP_AUTHORIZATION_ENDPOINT": lambda: discovery()["authorization_endpoint"],
    "OIDC_OP_TOKEN_ENDPOINT": lambda: discovery()["token_endpoint"],
    "OIDC_OP_USER_ENDPOINT": lambda: discovery()["userinfo_endpoint"],
    "OIDC_OP_JWKS_ENDPOINT": lambda: discovery()["jwks_uri"],
    "OIDC_USE_PKCE": lambda: True,
    "OIDC_STORE_ID_TOKEN": lambda: True,  # the hint RP-initiated logout gives the provider
    "OIDC_TIMEOUT": lambda: settings.OIDC_TIMEOUT_S,
    "OIDC_AUTHENTICATION_CALLBACK_URL": lambda: "sso-callback",
    "OIDC_CREATE_USER": lambda: settings.OIDC_CREATE_ACCOUNTS,
    "LOGIN_REDIRECT_URL_FAILURE": lambda: "/accounts/login/",
    "OIDC_AUTH_REQUEST_EXTRA_PARAMS": lambda: (
        {"acr_values": " ".join(settings.OIDC_MFA_ACR)} if settings.OIDC_MFA_ACR else {}
    ),
}


def oidc_setting(name: str, *default):
    if name in _FROM_OURS:
        return _FROM_OURS[name]()
    return import_from_settings(name, *default)


class OpenIdBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, reading its settings only when an OpenID sign-in comes back (the
    login form's calls pass it by), and handing the claims to the sign-in service. A refusal is left on
    the request (`sso_refusal`) for the callback page to say why."""

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    get_settings = staticmethod(oidc_setting)

    def configure(self) -> OpenIdBackend:
        """The provider's endpoints and this client's credentials, read now (raises ProviderUnavailable)."""
        self.OIDC_OP_TOKEN_ENDPOINT = oidc_setting("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_USER_ENDPOINT = oidc_setting("OIDC_OP_USER_ENDPOINT")
        self.OIDC_OP_JWKS_ENDPOINT = oidc_setting("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_SIGN_ALGORITHM
        self.OIDC_RP_IDP_SIGN_KEY = None
        return self

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs or not enabled():
            return None
        try:
            self.configure()
            return super().authenticate(request, **kwargs)
        except (ProviderUnavailable, requests.RequestException, SuspiciousOperation, KeyError) as error:
            logger.warning("single sign-on failed: %s", error)
            return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        # mozilla-django-oidc checks the signature and the nonce; a token another provider issued, or one
        # issued to another client of this provider, must not sign anybody in here.
        if str(payload.get("iss", "")).rstrip("/") != issuer():
            raise SuspiciousOperation("the ID token names another issuer")
        audience = payload.get("aud")
        if settings.OIDC_CLIENT_ID not in ([audience] if isinstance(audience, str) else audience or []):
            raise SuspiciousOperation("the ID token was issued to another client")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("the userinfo answer is about another subject")
        # Entra ID puts groups in the ID token only; the userinfo answer has the rest.
        claims = {**payload, **userinfo}
        try:
            user = identity_sign_in(issuer=issuer(), claims=claims, ip=client_ip(self.request))
            # For the callback view, which records the session it signs in (back-channel logout).
            self.request.sso_session = (issuer(), str(payload.get("sub")), str(payload.get("sid") or ""))
            return user
        except SignInRefused as refusal:
            self.request.sso_refusal = str(refusal)
            return None

    def get_user(self, user_id):
        return None  # sessions are signed in with RolesBackend (annotations.views.auth)


BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE_S = 600


class LogoutTokenRefused(Exception):
    """Not a logout token of this provider for this client; the message says which check failed."""


def _unverified_claims(token: str) -> dict:
    """The JWT's claims as written, before anything vouches for them: for a clearer refusal only."""
    parts = token.split(".") if token else []
    if len(parts) != 3:
        raise LogoutTokenRefused("no logout token (a signed JWT) in logout_token")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeError):
        raise LogoutTokenRefused("the logout token cannot be read") from None
    if not isinstance(claims, dict):
        raise LogoutTokenRefused("the logout token cannot be read")
    return claims


def logout_token_claims(token: str) -> dict:
    """The claims of a back-channel logout token, checked as OpenID Connect Back-Channel Logout 1.0
    (section 2.6) asks: the provider's signature, issuer and this client as audience (as an ID token's),
    then the logout event, a subject or session id, an issue time that is recent, and no nonce (which
    is what keeps an ID token from passing for one). Raises LogoutTokenRefused."""
    if "nonce" in _unverified_claims(token):
        # Said before the signature is checked: mozilla-django-oidc would refuse it for its nonce, in
        # words that blame the signature.
        raise LogoutTokenRefused("not a logout token: it carries a nonce (an ID token?)")
    try:
        claims = OpenIdBackend().configure().verify_token(token)
    except ProviderUnavailable as error:
        raise LogoutTokenRefused(f"the provider's keys cannot be read: {error}") from None
    except Exception as error:  # josepy, mozilla-django-oidc and requests each raise their own
        raise LogoutTokenRefused(f"not signed by the provider for this client: {error}") from None
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
        raise LogoutTokenRefused("not a logout token: no back-channel logout event")
    if not claims.get("sub") and not claims.get("sid"):
        raise LogoutTokenRefused("the logout token names neither a subject nor a session")
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or abs(time.time() - issued) > LOGOUT_TOKEN_MAX_AGE_S:
        raise LogoutTokenRefused("the logout token is not recent")
    return claims


def _issuer_problem(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme == "https" and parsed.netloc:
        return None
    if parsed.scheme == "http" and parsed.hostname in LOOPBACK:
        return None  # a provider on this machine, as the tests run one
    return f"OIDC_ISSUER must be an https:// address, not {value!r}"


@checks.register()
def single_sign_on_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Errors for a half-configured provider: some of the three required settings without the others,
    a role map that cannot be read or names no role of ours, an issuer over plain HTTP."""
    hint = "See docs/single-sign-on.md; unset all OIDC_* variables to sign in with passwords only."
    given = [name for name in REQUIRED if getattr(settings, name, None)]
    errors: list[checks.CheckMessage] = []
    if given and len(given) < len(REQUIRED):
        missing = ", ".join(name for name in REQUIRED if name not in given)
        errors.append(
            checks.Error(
                f"single sign-on is half configured: {missing} not set ({', '.join(given)} set)",
                hint=hint,
                id="annotations.E101",
            )
        )
    if settings.OIDC_ROLE_MAP and not given:
        errors.append(
            checks.Error("OIDC_ROLE_MAP is set but no OIDC_ISSUER", hint=hint, id="annotations.E102")
        )
    try:
        role_map(settings.OIDC_ROLE_MAP)
    except (ValueError, AttributeError, TypeError) as error:
        errors.append(checks.Error(f"OIDC_ROLE_MAP: {error}", hint=hint, id="annotations.E103"))
    if settings.OIDC_ISSUER and (problem := _issuer_problem(settings.OIDC_ISSUER)):
        errors.append(checks.Error(problem, hint=hint, id="annotations.E104"))
    return errors
