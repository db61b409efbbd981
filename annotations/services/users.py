"""Users and their roles."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, Invalid
from annotations.roles import Role, has_role
from annotations.selectors.users import reader_has_open_reads, username_taken
from annotations.services.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def role_groups_ensure() -> dict[Role, Group]:
    return {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}


def user_create(
    *,
    username: str,
    password: str,
    roles: set[Role],
    actor: User | None = None,
    actor_username: str = "",
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create an active user holding the given roles. Coordinators may open the admin site."""
    User = get_user_model()
    with transaction.atomic():
        groups = role_groups_ensure()
        user = User(
            username=username, email=email, first_name=first_name.strip(), last_name=last_name.strip()
        )
        user.is_staff = Role.COORDINATOR in roles
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.set([groups[role] for role in roles])
        audit_record(
            actor=actor,
            actor_username=actor_username,
            action="user.create",
            target=user,
            after={
                "username": username,
                "name": user.get_full_name(),
                "roles": sorted(r.value for r in roles),
            },
        )
    return user


def user_set_roles(*, user: User, roles: set[Role], actor: User) -> None:
    """Replace a user's roles. Only a coordinator may do it, and never on their own account."""
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators change roles"))
    if actor.pk == user.pk:
        raise Forbidden(_("nobody changes their own roles"))
    if Role.COORDINATOR in roles and not has_role(user, Role.COORDINATOR) and reader_has_open_reads(user):
        # A coordinator sees every reader's labels: given while this account still reads, it unblinds it.
        raise Forbidden(
            _(
                "%(name)s has reads still open in a running batch: a coordinator sees every reader's labels, "
                "so the role can be given once those reads are done or handed to another reader"
            )
            % {"name": user.get_username()}
        )
    with transaction.atomic():
        groups = role_groups_ensure()
        before = sorted(user.groups.values_list("name", flat=True))
        user.groups.set([groups[role] for role in roles])
        user.is_staff = Role.COORDINATOR in roles
        user.save(update_fields=["is_staff"])
        audit_record(
            actor=actor,
            action="user.roles",
            target=user,
            before={"roles": before},
            after={"roles": sorted(r.value for r in roles)},
        )


# --- Accounts managed by coordinators on the People page ------------------------------------------------
# A password a coordinator hands out is random, shown once, never stored or audited in clear, and the
# account must replace it at its next login (annotations.middleware_password reads the audit trail's
# last password event at login).
ONE_TIME_PASSWORD_BYTES = 12
PASSWORD_RESET_ACTIONS = ("user.create", "user.password_reset")


class UserAdminError(Invalid):
    """A request the People page refuses, with the reason."""


def _require_manager(actor: User, user: User | None = None) -> None:
    if not has_role(actor, Role.COORDINATOR):
        raise Forbidden(_("only coordinators manage accounts"))
    if user is not None and actor.pk == user.pk:
        raise Forbidden(_("nobody changes their own account here"))


def one_time_password() -> str:
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def user_create_with_one_time_password(
    *,
    username: str,
    roles: set[Role],
    actor: User,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> tuple[User, str]:
    """A coordinator opens an account: returns (user, the one-time password to hand over once)."""
    _require_manager(actor)
    return _create_with_one_time_password(
        username=username, roles=roles, actor=actor, email=email, first_name=first_name, last_name=last_name
    )


# Who opened an account on the server's console: no account did, so the audit names the console.
CONSOLE_ACTOR = "system:console"


def user_create_from_console(
    *, username: str, roles: set[Role], first_name: str = "", last_name: str = ""
) -> tuple[User, str]:
    """The operator opens an account on the server (manage.py create_coordinator): the first coordinator of
    a production install, where nobody may open it on the People page yet. Returns (user, the one-time
    password to hand over), which must be replaced at the first sign-in (selectors.users)."""
    return _create_with_one_time_password(
        username=username,
        roles=roles,
        actor_username=CONSOLE_ACTOR,
        first_name=first_name,
        last_name=last_name,
    )


def _create_with_one_time_password(*, username: str, roles: set[Role], **fields: Any) -> tuple[User, str]:
    """(user, one-time password) for a new account; a taken username or an invalid field is refused."""
    if username_taken(username):
        raise UserAdminError(_("the username “%(name)s” is taken") % {"name": username})
    password = one_time_password()
    try:
        user = user_create(username=username, password=password, roles=roles, **fields)
    except ValidationError as error:
        raise UserAdminError("; ".join(error.messages)) from error
    return user, password


def user_set_name(*, user: User, first_name: str, last_name: str, actor: User) -> None:
    """Record or correct the person's given and family names (theirs too: a name grants nothing)."""
    _require_manager(actor)
    with transaction.atomic():
        before = user.get_full_name()
        user.first_name, user.last_name = first_name.strip(), last_name.strip()
        try:
            user.full_clean(exclude=["password"], validate_unique=False)
        except ValidationError as error:
            raise UserAdminError("; ".join(error.messages)) from error
        user.save(update_fields=["first_name", "last_name"])
        audit_record(
            actor=actor,
            action="user.name",
            target=user,
            before={"name": before},
            after={"name": user.get_full_name()},
        )


def user_set_active(*, user: User, active: bool, actor: User) -> None:
    """Deactivate (or reactivate) an account: it keeps its history, and signs in no more."""
    _require_manager(actor, user)
    with transaction.atomic():
        before = user.is_active
        user.is_active = active
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="user.active",
            target=user,
            before={"active": before},
            after={"active": active},
        )


def user_reset_password(*, user: User, actor: User) -> str:
    """Give the account a new random password, returned once; the old one stops working at once."""
    _require_manager(actor, user)
    password = one_time_password()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="user.password_reset", target=user)
    return password


def user_change_own_password(*, user: User, password: str) -> None:
    """The account holder sets their own password (after a coordinator's reset, among others)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=user, action="user.password_change", target=user)
