"""Users and their roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotations.roles import Role
from annotations.services.audit import audit_record


def role_groups_ensure() -> dict[Role, Group]:
    return {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}


def user_create(
    *, username: str, password: str, roles: set[Role], actor=None, email: str = "", first_name: str = ""
):
    """Create an active user holding the given roles. Coordinators may open the admin site."""
    User = get_user_model()
    with transaction.atomic():
        groups = role_groups_ensure()
        user = User(username=username, email=email, first_name=first_name)
        user.is_staff = Role.COORDINATOR in roles
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.set([groups[role] for role in roles])
        audit_record(
            actor=actor,
            action="user.create",
            target=user,
            after={"username": username, "roles": sorted(r.value for r in roles)},
        )
    return user


def user_set_roles(*, user, roles: set[Role], actor) -> None:
    """Replace a user's roles. Only a coordinator may do it, and never on their own account."""
    from annotations.roles import has_role

    if not has_role(actor, Role.COORDINATOR):
        raise PermissionError("only coordinators change roles")
    if actor.pk == user.pk:
        raise PermissionError("nobody changes their own roles")
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
