"""Login throttling: after repeated failures an account (from an address) is locked for a while.

Counted in the cache (Redis in production, so every web process sees the same count) per username
and per client address, so neither guessing one account's password from many addresses nor many
accounts from one address gets more than the limit.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _keys(username: str, ip: str | None) -> list[str]:
    # Hashed: a typed name can hold any character, and a key must be safe for every cache backend.
    user = hashlib.sha256(username.casefold()[:150].encode()).hexdigest()
    return [f"login-failures:user:{user}", f"login-failures:ip:{ip or '-'}"]


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
