"""The API's view of the signed-in account, and of the accounts a coordinator designs batches with."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsCoordinator
from annotations.errors import Invalid
from annotations.roles import Role, user_roles
from annotations.selectors.users import people_list


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        """Get the signed-in account's name and roles

        Any signed-in account. Returns its id, username and the roles it holds (reader, adjudicator,
        coordinator; none for an account without a role), which say what the other operations let it do."""
        roles = sorted(role.value for role in user_roles(request.user))
        me = {"id": request.user.pk, "username": request.user.get_username(), "roles": roles}
        return Response(MeSerializer(me).data)


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField()
    roles = serializers.ListField(child=serializers.CharField())


ROLE_NAMES = sorted(role.value for role in Role)


class AccountListView(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(
        responses=AccountSerializer(many=True),
        parameters=[OpenApiParameter("role", str, enum=ROLE_NAMES, description="Only accounts with it.")],
    )
    def get(self, request):
        """List the accounts, with their ids and roles

        Coordinators only. Every account by username: its id (what a batch's `reader_ids` take), full
        name, whether it is active and its roles; with `role=reader` only the readers. 400 for a role
        that does not exist. Accounts are opened and changed on the People page."""
        role = request.query_params.get("role", "")
        if role and role not in ROLE_NAMES:
            raise Invalid(_("role must be one of %(roles)s") % {"roles": ", ".join(ROLE_NAMES)})
        accounts = [a for a in people_list(request.user) if not role or role in a["roles"]]
        return Response(AccountSerializer(accounts, many=True).data)


urlpatterns = [
    path("v1/me/", MeView.as_view(), name="api-me"),
    path("v1/users/", AccountListView.as_view(), name="api-user-list"),
]
