"""Signing in: every attempt audited, and after repeated failures an account (from an address) is
locked for a while.

Counted in the cache (Redis in production, so every web process sees the same count) per username
and per client address, so neither guessing one account's password from many addresses nor many
accounts from one address gets more than the limit.

The account is counted under the name as login matches it (NFKC-folded, trimmed) and case-folded, so
respelling a name (full-width letters, `hugo `, `HUGO`) neither escapes nor resets its count. The address is
the real client's (ecgreview.client_address, through TRUSTED_PROXIES); an address that stands for
everybody (a trusted proxy that forwarded no client address) is never locked, so a guesser behind it
cannot lock everyone out: the accounts they guess at are still locked, each on its own count.

Why not django-axes: its release at the time (8.3.1) declares Django up to 6.0 (this project runs 6.1);
with per-account-or-address limits, its reset on success clears the address count too, so a guesser
who owns one account resets their address by signing in to it between guesses; and its client address
comes from django-ipware, which reads X-Forwarded-For without first checking that the peer is a proxy.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from annotations.services.audit import audit_record
from ecgreview.client_address import is_trusted_proxy
from ecgreview.middleware import without_nul

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def login_name_typed(username: str) -> str:
    """The name as Django's login form reads it: NFKC, surrounding blanks trimmed, then at most the
    150 characters a username holds. Trimmed before cut, as the form does: a name padded past 150
    characters must count against the account the form signs into."""
    return unicodedata.normalize("NFKC", username).strip()[:150]


def login_name_key(username: str) -> str:
    """The name as the form matches it (login_name_typed), case-folded."""
    return unicodedata.normalize("NFKC", login_name_typed(username).casefold())[:150]


def _keys(username: str, ip: str | None) -> list[str]:
    # Hashed: a typed name can hold any character, and a key must be safe for every cache backend.
    user = hashlib.sha256(login_name_key(username).encode("utf-8", "replace")).hexdigest()
    keys = [f"login-failures:user:{user}"]
    if ip and not is_trusted_proxy(ip):  # a proxy's own address stands for everybody behind it
        keys.append(f"login-failures:ip:{ip}")
    return keys


def login_locked(username: str, ip: str | None) -> bool:
    try:
        counts = cache.get_many(_keys(username, ip))
    except Exception:  # Redis down: logging in beats locking everybody out; the audit trail still counts
        logger.warning("login throttling skipped: the cache is unavailable")
        return False
    return any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values())


def login_failure_record(username: str, ip: str | None) -> None:
    timeout = settings.LOGIN_LOCKOUT_MINUTES * 60
    try:
        for key in _keys(username, ip):
            if cache.add(key, 1, timeout):
                continue
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout)
    except Exception:
        logger.warning("login failure not counted: the cache is unavailable")


def login_success_record(username: str, ip: str | None) -> None:
    try:
        cache.delete_many(_keys(username, ip)[:1])  # the address keeps its count: it may be guessing others
    except Exception:
        logger.warning("login failures not reset: the cache is unavailable")


def _audit_anonymous(action: str, username: str, ip: str | None) -> None:
    with transaction.atomic():
        audit_record(
            actor=None, action=action, ip_address=ip, actor_username=without_nul(login_name_typed(username))
        )


def login_lock_check(username: str, ip: str | None) -> bool:
    """Whether this attempt is refused by the lockout; a refused attempt is audited."""
    if not login_locked(username, ip):
        return False
    _audit_anonymous("auth.login_locked", username, ip)
    return True


def login_fail(username: str, ip: str | None) -> None:
    """A failed attempt: counted towards the lockout and audited under the name typed."""
    login_failure_record(username, ip)
    _audit_anonymous("auth.login_failed", username, ip)


def login_succeed(user: User, ip: str | None) -> None:
    """A successful sign-in: the account's failure count is reset and the login audited."""
    login_success_record(user.get_username(), ip)
    with transaction.atomic():
        audit_record(actor=user, action="auth.login", ip_address=ip)
