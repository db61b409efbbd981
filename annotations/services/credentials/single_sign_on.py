"""Signing in through the OpenID provider: the person found by (issuer, subject), linked to a local
account or given a new one as the operator chose, and their roles set from the provider's groups.

One transaction per sign-in: the link, the account, the roles and the login are audited together or not
at all. A refusal (no account and none to be made, a deactivated account) is audited on its own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.models import SsoIdentity, SsoSession
from annotations.roles import Role, mapped_roles
from annotations.selectors.users import reader_has_open_reads
from annotations.services.audit import audit_record
from annotations.services.auth import login_succeed
from annotations.services.users import role_groups_ensure

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ROLE_NAMES = [role.value for role in Role]


class SignInRefused(Exception):
    """The provider vouched for the person, but they may not sign in here; the message says why."""


def identity_sign_in(*, issuer: str, claims: dict[str, Any], ip: str | None) -> User:
    """The local account the person signs in as, after the provider's sign-in (claims: the ID token's,
    then the userinfo answer's). Raises SignInRefused."""
    subject = str(claims.get("sub") or "")
    name = _typed_name(claims)
    try:
        with transaction.atomic():
            identity = (
                SsoIdentity.objects.select_for_update()
                .select_related("user")
                .filter(issuer=issuer, subject=subject)
                .first()
            )
            if identity is None:
                identity = _identity_create(issuer, subject, claims)
            user = identity.user
            if not user.is_active:
                raise SignInRefused(_("This account is deactivated: ask a coordinator."))
            identity.last_sign_in_at = timezone.now()
            identity.save(update_fields=["last_sign_in_at"])
            roles = mapped_roles(claims)
            if roles is not None:
                _roles_set(user, roles, ip)
            if _second_factor_wanted(user) and not second_factor_shown(claims):
                # Raised inside the transaction: the account, link and roles of this sign-in are undone.
                raise SignInRefused(
                    _(
                        "Coordinators and adjudicators sign in with a second factor: %(provider)s did not "
                        "report one. Sign in there with your second factor, or ask the operator."
                    )
                    % {"provider": settings.OIDC_PROVIDER_NAME}
                )
            login_succeed(user, ip)
            return user
    except SignInRefused as refusal:
        identity_refusal_record(issuer=issuer, subject=subject, name=name, reason=str(refusal), ip=ip)
        raise


# RFC 8176 methods that are something the person knows: any number of them is still one factor.
_KNOWLEDGE = {"pwd", "pin", "kba"}


def second_factor_shown(claims: dict[str, Any]) -> bool:
    """Whether the provider's ID token says the person signed in with more than one factor: amr holds
    "mfa", or a method beyond what the person knows beside another one, or acr is one the operator
    listed (OIDC_MFA_ACR)."""
    amr = claims.get("amr")
    methods = {str(method) for method in amr} if isinstance(amr, list) else set()
    beyond_knowledge = methods - _KNOWLEDGE
    if "mfa" in methods or (beyond_knowledge and len(methods) >= 2):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in settings.OIDC_MFA_ACR


def _second_factor_wanted(user: User) -> bool:
    staff = (Role.COORDINATOR.value, Role.ADJUDICATOR.value)
    return settings.OIDC_REQUIRE_MFA_FOR_STAFF and user.groups.filter(name__in=staff).exists()


def identity_refusal_record(*, issuer: str, subject: str, name: str, reason: str, ip: str | None) -> None:
    with transaction.atomic():
        audit_record(
            actor=None,
            actor_username=name,
            action="sso.refused",
            after={"issuer": issuer, "subject": subject, "reason": reason},
            ip_address=ip,
        )


def _typed_name(claims: dict[str, Any]) -> str:
    return str(claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email") or claims.get("sub") or "")[
        :150
    ]


def _identity_create(issuer: str, subject: str, claims: dict[str, Any]) -> SsoIdentity:
    if not subject:
        raise SignInRefused(_("The provider named nobody (no subject)."))
    user = _linked_by_email(issuer, claims)
    action = "sso.identity_link"
    if user is None:
        if not settings.OIDC_CREATE_ACCOUNTS:
            raise SignInRefused(
                _("You signed in at %(provider)s, but have no account here: ask a coordinator for one.")
                % {"provider": settings.OIDC_PROVIDER_NAME}
            )
        user = _account_create(claims)
        action = "sso.account_create"
    identity = SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    audit_record(
        actor=None,
        actor_username=settings.OIDC_PROVIDER_NAME[:150],
        action=action,
        target=user,
        after={"issuer": issuer, "subject": subject},
    )
    return identity


def _linked_by_email(issuer: str, claims: dict[str, Any]) -> User | None:
    """The one local account with the provider's verified address, not yet linked to this provider."""
    email = claims.get("email")
    verified = claims.get("email_verified") in (True, "true")
    if not settings.OIDC_LINK_BY_EMAIL or not verified or not isinstance(email, str) or not email:
        return None
    matches = list(
        get_user_model().objects.filter(email__iexact=email).exclude(sso_identities__issuer=issuer)[:2]
    )
    return matches[0] if len(matches) == 1 else None


def _account_create(claims: dict[str, Any]) -> User:
    """A new account without a password (it signs in through the provider only), under a free username
    made from OIDC_USERNAME_CLAIM: an existing account's name is never taken over."""
    User = get_user_model()
    wanted = re.sub(r"[^\w.@+-]", "", _typed_name(claims))[:140] or "sso-user"
    username, n = wanted, 2
    while User.objects.filter(username__iexact=username).exists():
        username, n = f"{wanted}-{n}", n + 1
    email = given if isinstance(given := claims.get("email"), str) else ""
    user = User(
        username=username,
        email=email[:254],
        first_name=str(claims.get("given_name") or claims.get("name") or "")[:150],
        last_name=str(claims.get("family_name") or "")[:150],
    )
    user.set_unusable_password()
    user.save()
    return user


def _roles_set(user: User, roles: set[Role], ip: str | None) -> None:
    """The account's roles become exactly those the provider's groups give. The coordinator role is
    withheld while the account still has reads open in a running batch, as on the People page: it would
    show the reader everyone's labels."""
    before = sorted(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True))
    granted = set(roles)
    withheld = []
    if Role.COORDINATOR in granted and Role.COORDINATOR.value not in before and reader_has_open_reads(user):
        granted.discard(Role.COORDINATOR)
        withheld = [Role.COORDINATOR.value]
    after = sorted(role.value for role in granted)
    if after == before:
        return
    groups = role_groups_ensure()
    others = list(user.groups.exclude(name__in=ROLE_NAMES))
    user.groups.set([*others, *(groups[role] for role in granted)])
    user.is_staff = Role.COORDINATOR in granted
    user.save(update_fields=["is_staff"])
    audit_record(
        actor=None,
        actor_username=settings.OIDC_PROVIDER_NAME[:150],
        action="sso.roles",
        target=user,
        before={"roles": before},
        after={"roles": after, "withheld": withheld} if withheld else {"roles": after},
        ip_address=ip,
    )


def sso_session_record(*, issuer: str, subject: str, sid: str, session_key: str) -> None:
    """Remember which provider session opened this app's session, for the provider's back-channel
    logout. Bookkeeping of a sign-in already audited (auth.login), so no audit row of its own. Rows of
    the person's sessions that have ended meanwhile are dropped here, which keeps the table to the
    sessions alive."""
    with transaction.atomic():
        identity = SsoIdentity.objects.get(issuer=issuer, subject=subject)
        SsoSession.objects.filter(identity=identity).exclude(
            session_key__in=Session.objects.values("session_key")
        ).delete()
        SsoSession.objects.update_or_create(
            session_key=session_key, defaults={"identity": identity, "sid": sid[:255]}
        )


def sso_sessions_end(*, issuer: str, subject: str, sid: str) -> int:
    """The provider's back-channel logout: end this app's sessions opened through the provider session
    `sid`, or every session of `subject` when the provider names no session (the token names at least
    one of the two). Audited per account. Returns how many sessions ended."""
    with transaction.atomic():
        opened = SsoSession.objects.filter(identity__issuer=issuer).select_related("identity__user")
        if subject:
            opened = opened.filter(identity__subject=subject)
        if sid:
            opened = opened.filter(sid=sid)
        by_identity: dict[SsoIdentity, list[str]] = {}
        for row in opened:
            by_identity.setdefault(row.identity, []).append(row.session_key)
        total = 0
        for identity, keys in by_identity.items():
            ended, _by_model = Session.objects.filter(session_key__in=keys).delete()
            total += ended
            audit_record(
                actor=None,
                actor_username=settings.OIDC_PROVIDER_NAME[:150],
                action="sso.backchannel_logout",
                target=identity.user,
                after={"issuer": issuer, "subject": identity.subject, "sid": sid, "sessions_ended": ended},
            )
        opened.delete()
        return total
