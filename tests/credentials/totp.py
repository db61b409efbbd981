"""The code an authenticator app shows, computed with django-otp's own TOTP (as a phone would)."""

from __future__ import annotations

import base64
import time

from django_otp.oath import TOTP


def code_for(secret_b32: str, *, steps_ahead: int = 0) -> str:
    """The app's code now, or `steps_ahead` 30-second steps later: a code once used is refused again, so
    a test signing in right after enrolling gives the next step's code (the server accepts one step of
    clock difference)."""
    totp = TOTP(base64.b32decode(secret_b32))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"
