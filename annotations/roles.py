"""The roles of ECG Review, as Django auth groups."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models.signals import m2m_changed


class Role(StrEnum):
    READER = "reader"
    ADJUDICATOR = "adjudicator"
    COORDINATOR = "coordinator"
    # A model builder scoring predictions on blind benchmarks: sees tracings and their own figures only.
    SUBMITTER = "submitter"


# A view declares who may use it in `required_roles` (role_required, signed_in, the DRF permission
# classes' `roles`): any one of the roles suffices, and this empty set means any signed-in account.
# tests/cross/test_access_matrix.py reads the declaration on every route, so an undeclared view fails it.
ANY_SIGNED_IN: frozenset[Role] = frozenset()


# The user's group names, kept on the user object: a request asks several times (the permission class,
# then each selector), and each asking was one query (bench/load_reads.py). A request loads its own user
# object, so this lives one request; changing the object's groups (user.groups.set/add/remove/clear, as
# services.users does) forgets it at once.
_GROUP_NAMES = "_role_group_names"


def user_roles(user) -> set[Role]:
    """The roles a user holds; an inactive or anonymous user holds none."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    names = getattr(user, _GROUP_NAMES, None)
    if names is None:
        names = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, _GROUP_NAMES, names)
    return {role for role in Role if role.value in names}


def remember_role_names(user, names) -> None:
    """Keep the role group names already read with the user (annotations.backends), for this request."""
    setattr(user, _GROUP_NAMES, frozenset(names))


_BENCHMARK_SCOPE = "_benchmark_token_scope"


def remember_benchmark_scope(user, benchmark_id: int | None) -> None:
    """This request's user acts through a token for one benchmark: what it may find is narrowed to it."""
    setattr(user, _BENCHMARK_SCOPE, benchmark_id)


def benchmark_scope(user) -> int | None:
    """The one benchmark this request is narrowed to (a one-benchmark token), or None."""
    return getattr(user, _BENCHMARK_SCOPE, None)


def _forget_group_names(sender, instance, **kwargs) -> None:
    vars(instance).pop(_GROUP_NAMES, None)


m2m_changed.connect(_forget_group_names, dispatch_uid="annotations.roles.forget_group_names")


def has_role(user, role: Role) -> bool:
    return role in user_roles(user)


# --- Roles a single sign-on provider gives ----------------------------------------------------------
# Beside the roles rather than in annotations.single_sign_on: the sign-in service applies the map, and that
# module calls the service, so a map kept there made the two import each other.
def role_map(raw: str | None) -> dict[str, frozenset[Role]]:
    """OIDC_ROLE_MAP read: each provider group and the roles it gives. Raises ValueError, in words."""
    raw = (raw or "").strip()
    if not raw:
        return {}
    pairs: list[tuple[str, Any]] = []
    if raw.startswith("{"):
        try:
            entries = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error})") from None
        for group, roles in entries.items():
            pairs += [(group, role) for role in ([roles] if isinstance(roles, str) else roles)]
    else:
        for item in filter(None, (part.strip() for part in raw.split(","))):
            group, equals, role = item.rpartition("=")
            if not equals or not group.strip():
                raise ValueError(f"{item!r} is not group=role (a JSON object takes group names with commas)")
            pairs.append((group.strip(), role.strip()))
    known = {role.value: role for role in Role}
    mapped: dict[str, set[Role]] = {}
    for group, role in pairs:
        if role not in known:
            raise ValueError(f"unknown role {role!r} for group {group!r}; the roles are {', '.join(known)}")
        mapped.setdefault(group, set()).add(known[role])
    return {group: frozenset(roles) for group, roles in mapped.items()}


def mapped_roles(claims: dict) -> set[Role] | None:
    """The roles the person's groups give, or None when roles are not the provider's to manage."""
    mapping = role_map(settings.OIDC_ROLE_MAP)
    if not mapping:
        return None
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = groups.split()
    return {role for group in groups if isinstance(group, str) for role in mapping.get(group, ())}
