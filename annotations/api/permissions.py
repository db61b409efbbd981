"""DRF permission classes. Each declares `roles`, the roles it lets in (any one suffices; empty: any
signed-in account), so the access-matrix test knows the right role of every API view without a hand list."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, IsAuthenticated

from annotations.roles import ANY_SIGNED_IN, Role, user_roles


class SignedIn(IsAuthenticated):
    """The default for every API view (settings): any signed-in account, no role needed."""

    roles: frozenset[Role] = ANY_SIGNED_IN


class HasRole(BasePermission):
    roles: frozenset[Role] = frozenset()

    def has_permission(self, request, view) -> bool:
        return bool(user_roles(request.user) & self.roles)


class IsCoordinator(HasRole):
    roles = frozenset({Role.COORDINATOR})


class IsReader(HasRole):
    roles = frozenset({Role.READER})


class IsAdjudicator(HasRole):
    roles = frozenset({Role.ADJUDICATOR})
