"""DRF permission classes. Each declares `roles`, the roles it lets in (any one suffices; empty: any
signed-in account), so the access-matrix test knows the right role of every API view without a hand list."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission, IsAuthenticated

from annotations.models import ApiToken
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


class SessionSignedIn(SignedIn):
    """Any account signed in with a session, not a token: managing tokens with a token could widen one."""

    sessions_only = True
    message = gettext_lazy("Manage tokens while signed in on the site, not with a token.")

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and not isinstance(request.auth, ApiToken)
