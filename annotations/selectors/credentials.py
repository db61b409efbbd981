"""Reads of API tokens and two-factor state."""

from __future__ import annotations

from django.db.models import QuerySet

from annotations.models import ApiToken, RecoveryCode
from annotations.roles import Role, has_role


def api_tokens_visible(requester, *, user_id: int | None = None) -> QuerySet[ApiToken]:
    """The requester's own tokens; a coordinator sees everybody's (one account's with user_id)."""
    tokens = ApiToken.objects.select_related("user")
    if not has_role(requester, Role.COORDINATOR):
        return tokens.filter(user=requester)
    return tokens.filter(user_id=user_id) if user_id is not None else tokens


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def two_factor_user_ids(user_ids: list[int]) -> set[int]:
    """Which of these accounts sign in with a second factor."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return set(
        TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True).values_list("user_id", flat=True)
    )


def active_user(user_id: int):
    """The active account with this id, or None (a sign-in half done when the account was deactivated)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id, is_active=True).first()
