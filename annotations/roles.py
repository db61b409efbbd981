"""The three roles of ECG Review, as Django auth groups."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    READER = "reader"
    ADJUDICATOR = "adjudicator"
    COORDINATOR = "coordinator"


def user_roles(user) -> set[Role]:
    """The roles a user holds; an inactive or anonymous user holds none."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    names = {name for name in user.groups.values_list("name", flat=True)}
    return {role for role in Role if role.value in names}


def has_role(user, role: Role) -> bool:
    return role in user_roles(user)
