"""API tokens: created (shown once), used, revoked; each write one transaction and an audit row.

The secret is knox's (64 hex characters of os.urandom) and only knox's digest of it (SHA-512) is stored;
its first 15 characters find the row. A token acts as its user, within its scope: the scope can only
take roles away (see token_roles), so blinding and every role check apply to a token as to its user.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.crypto import create_token_string, hash_token

from annotations.errors import Forbidden, Invalid, NotFound
from annotations.models import ApiToken, Benchmark, TokenScope
from annotations.roles import Role, has_role, user_roles
from annotations.services.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TOKEN_KEY_LENGTH = 15
# A token's use is audited at most once a minute: every API request writing an audit row would double
# the writes of the reading page's polling and bury the trail; to the minute still says who used which
# token when, and last_used_at shows it on the People page.
USE_AUDIT_INTERVAL = timedelta(minutes=1)
# The roles each scope keeps; None keeps every role of the user (read-only limits the methods instead).
SCOPE_ROLES: dict[str, frozenset[Role] | None] = {
    TokenScope.READ_ONLY: None,
    TokenScope.READER: frozenset({Role.READER}),
    TokenScope.ADJUDICATOR: frozenset({Role.ADJUDICATOR}),
    TokenScope.COORDINATOR: frozenset({Role.COORDINATOR}),
    TokenScope.BENCHMARK: frozenset({Role.SUBMITTER}),
}
# The routes a one-benchmark token may use (a submitter's, on its benchmark only: the selectors narrow
# what they find to it); every other route refuses it with 403.
BENCHMARK_ROUTES = frozenset(
    {
        "api-benchmark-list",
        "api-benchmark-detail",
        "api-benchmark-tracings",
        "api-benchmark-tracings-wfdb",
        "api-benchmark-submissions",
        "api-submission-detail",
    }
)


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once, in the response that creates it; never stored


def token_roles(token: ApiToken, user_role_set: set[Role]) -> set[Role]:
    """The roles a request made with this token holds: its user's, narrowed by the scope."""
    kept = SCOPE_ROLES[token.scope]
    return set(user_role_set) if kept is None else set(user_role_set) & kept


def _snapshot(token: ApiToken) -> dict[str, Any]:
    return {
        "user": token.user.get_username(),
        "name": token.name,
        "scope": token.scope,
        "scope_object_id": token.scope_object_id,
        "token_key": token.token_key,
        "expires_at": token.expires_at.isoformat(),
    }


def _benchmark_named(scope: str, benchmark_id: int | None) -> int | None:
    if scope != TokenScope.BENCHMARK:
        if benchmark_id is not None:
            raise Invalid(_("Only a one-benchmark token names a benchmark."))
        return None
    if benchmark_id is None:
        raise Invalid(_("Choose the benchmark this token is for."))
    found = Benchmark.objects.filter(pk=benchmark_id).exclude(status=Benchmark.Status.CLOSED).exists()
    if not found:
        raise Invalid(_("No such open benchmark."))
    return benchmark_id


def _clean(user: User, name: str, scope: str, days: int | None) -> tuple[str, int]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid(_("Give the token a name of 1 to 100 characters."))
    if scope not in SCOPE_ROLES:
        raise Invalid(_("Unknown scope: choose read-only, reader, coordinator or one benchmark."))
    if days is None:  # a default set above the maximum gives the maximum
        days = min(settings.API_TOKEN_DEFAULT_DAYS, settings.API_TOKEN_MAX_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise Invalid(_("A token lasts 1 to %(max)d days.") % {"max": settings.API_TOKEN_MAX_DAYS})
    if not user.is_active:
        raise Invalid(_("This account is deactivated."))
    kept = SCOPE_ROLES[scope]
    if kept is not None and not kept & user_roles(user):
        raise Invalid(_("The account does not hold the role this scope names."))
    return name, days


def api_token_create(
    *,
    actor: User,
    user: User,
    name: str,
    scope: str,
    days: int | None = None,
    benchmark_id: int | None = None,
    ip: str | None = None,
) -> CreatedToken:
    """A new token for `user` (the actor's own, or any account's when the actor is a coordinator); a
    one-benchmark token names its benchmark (`benchmark_id`), which is not closed."""
    if actor.pk != user.pk and not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("Only coordinators create tokens for other accounts."))
    name, days = _clean(user, name, scope, days)
    benchmark_id = _benchmark_named(scope, benchmark_id)
    secret = create_token_string()
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            scope=scope,
            scope_object_id=benchmark_id,
            token_key=secret[:TOKEN_KEY_LENGTH],
            digest=hash_token(secret),
            created_at=now,
            expires_at=now + timedelta(days=days),
            created_by=actor,
        )
        audit_record(
            actor=actor, action="api_token.create", target=token, after=_snapshot(token), ip_address=ip
        )
    return CreatedToken(token=token, secret=secret)


def api_token_revoke(*, actor: User, token_id: int, ip: str | None = None) -> ApiToken:
    """Revoke a token: the actor's own, or any when the actor is a coordinator. Others' answer 404."""
    with transaction.atomic():
        tokens = ApiToken.objects.select_for_update().select_related("user")
        if not has_role(actor, Role.COORDINATOR):
            tokens = tokens.filter(user=actor)
        token = tokens.filter(pk=token_id).first()
        if token is None:
            raise NotFound(_("No such token."))
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor, action="api_token.revoke", target=token, before=_snapshot(token), ip_address=ip
            )
    return token


def api_token_find(secret: str) -> ApiToken | None:
    """The live token this secret is, with its user; None for an unknown, revoked or expired one, or one
    whose user is deactivated."""
    if not secret or len(secret) > 200:
        return None
    digest = hash_token(secret)
    now = timezone.now()
    candidates = ApiToken.objects.select_related("user").filter(
        token_key=secret[:TOKEN_KEY_LENGTH], revoked_at__isnull=True, expires_at__gt=now
    )
    for token in candidates:
        if hmac.compare_digest(token.digest, digest):
            return token if token.user.is_active else None
    return None


def api_token_use(token: ApiToken, *, ip: str | None = None) -> None:
    """Note a use: last_used_at and an audit row, at most once per USE_AUDIT_INTERVAL. The conditional
    update makes concurrent requests of one token record one use between them."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < USE_AUDIT_INTERVAL:
        return
    with transaction.atomic():
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - USE_AUDIT_INTERVAL)
        if ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now):
            token.last_used_at = now
            audit_record(actor=token.user, action="api_token.use", target=token, ip_address=ip)
