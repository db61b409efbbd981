"""The API's view of the signed-in account."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.roles import user_roles


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        """Get the signed-in account's name and roles

        Any signed-in account. Returns its username and the roles it holds (reader, adjudicator,
        coordinator; none for an account without a role), which say what the other operations let it do."""
        roles = sorted(role.value for role in user_roles(request.user))
        return Response(MeSerializer({"username": request.user.get_username(), "roles": roles}).data)


urlpatterns = [
    path("v1/me/", MeView.as_view(), name="api-me"),
]
