"""The authentication backend: Django's ModelBackend, with the user's roles read in the same query."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q, StringAgg, Value

from annotations.roles import Role, remember_role_names

ROLE_NAMES = [role.value for role in Role]


class RolesBackend(ModelBackend):
    """Every authenticated request loads its user, then asks for the user's roles (the permission class,
    the selectors): two queries. Here they are one, which is what an API call pays before its own work
    (bench/load_reads.py). Passwords, permissions and inactive users are ModelBackend's, unchanged."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.annotate(
            role_names=StringAgg(
                "groups__name", Value(","), filter=Q(groups__name__in=ROLE_NAMES), default=Value("")
            )
        )
        user = users.filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        remember_role_names(user, user.role_names.split(",") if user.role_names else ())
        return user
