"""Reads of API tokens and two-factor state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from annotations.errors import Forbidden, Invalid
from annotations.models import ApiToken, Benchmark, RecoveryCode, SsoIdentity, TokenScope
from annotations.roles import Role, has_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def api_tokens_visible(requester: User, *, user_id: int | None = None) -> QuerySet[ApiToken]:
    """The requester's own tokens; a coordinator sees everybody's (one account's with user_id)."""
    tokens = ApiToken.objects.select_related("user")
    if not has_role(requester, Role.COORDINATOR):
        return tokens.filter(user=requester)
    return tokens.filter(user_id=user_id) if user_id is not None else tokens


def api_tokens_listed(requester: User) -> list[ApiToken]:
    """api_tokens_visible for the People page: each one-benchmark token knows its benchmark's name."""
    tokens = list(api_tokens_visible(requester))
    ids = {t.scope_object_id for t in tokens if t.scope == TokenScope.BENCHMARK and t.scope_object_id}
    names = dict(Benchmark.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    for token in tokens:
        # The People page's column: an attribute of this list's objects only, never stored.
        token.benchmark_name = names.get(token.scope_object_id or 0, "")  # type: ignore[attr-defined]
    return tokens


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def two_factor_user_ids(user_ids: list[int]) -> set[int]:
    """Which of these accounts sign in with a second factor."""
    return set(
        TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True).values_list("user_id", flat=True)
    )


def single_sign_on_user_ids(user_ids: list[int]) -> set[int]:
    """Which of these accounts are linked to the OpenID provider (they may sign in through it)."""
    return set(SsoIdentity.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))


def active_user(user_id: int) -> User | None:
    """The active account with this id, or None (a sign-in half done when the account was deactivated)."""
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def token_account(requester: User, user_id: int | None) -> User:
    """The account a token is asked for: the requester's own, or (a coordinator asking) the one named."""
    if user_id is None or user_id == requester.pk:
        return requester
    if not has_role(requester, Role.COORDINATOR):
        raise Forbidden(_("Only coordinators create tokens for other accounts."))
    account = get_user_model().objects.filter(pk=user_id).first()
    if account is None:
        raise Invalid(_("No such account."))
    return account
