"""API tokens: list, create (the secret shown once) and revoke.

Managed with a signed-in session only: a token that could mint tokens could mint a wider one than its
own scope (a reader-scoped token asking for a coordinator token of the same account).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import StrictSerializer
from annotations.api.permissions import SessionSignedIn
from annotations.models import TokenScope
from annotations.selectors.credentials import api_tokens_visible, token_account
from annotations.services.credentials.tokens import CreatedToken, api_token_create, api_token_revoke
from annotations.views.access import _client_ip


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    name = serializers.CharField()
    scope = serializers.ChoiceField(choices=TokenScope.choices)
    benchmark = serializers.IntegerField(
        source="scope_object_id", allow_null=True, help_text="The benchmark of a one-benchmark token."
    )
    token_key = serializers.CharField(help_text="The token's first characters, to tell tokens apart.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="To the minute.")


class TokenCreatedSerializer(TokenSerializer):
    """Reads a CreatedToken: the token as listed, and beside it the secret the token does not keep."""

    token = serializers.CharField(help_text="The secret, shown in this response only.")

    def to_representation(self, instance: CreatedToken) -> dict[str, Any]:
        listed = TokenSerializer(instance.token, context=self.context).data
        return {**listed, "token": self.fields["token"].to_representation(instance.secret)}


class TokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=TokenScope.choices)
    days = serializers.IntegerField(
        required=False, min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, help_text="How long it lasts."
    )
    benchmark = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="For scope `benchmark`: its id."
    )
    user = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="Coordinators: the account the token is for (a submitter's). Default: your own.",
    )


class TokenListView(APIView):
    permission_classes = [SessionSignedIn]

    @extend_schema(responses=TokenSerializer(many=True))
    def get(self, request):
        """List API tokens

        Any account signed in with a session: its own tokens (a coordinator: everybody's), newest first,
        revoked and expired ones included. Never the secret."""
        return Response(TokenSerializer(api_tokens_visible(request.user), many=True).data)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request):
        """Create an API token

        Any account signed in with a session, for itself; a coordinator for any account (`user`). `scope`
        is `read_only` (the account's roles, GET only), `reader` or `coordinator` (that role only, which
        the account must hold), or `benchmark` with `benchmark` (a submitter's: that benchmark's tracings
        and their own submissions to it, 403 on every other route, 404 on other benchmarks); `days`
        defaults to the operator's API_TOKEN_DEFAULT_DAYS. The response holds the secret once: send it as
        `Authorization: Token <secret>`. 400 for a bad name, scope, benchmark or length."""
        payload = TokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        created = api_token_create(
            actor=request.user,
            user=token_account(request.user, data.get("user")),
            name=data["name"],
            scope=data["scope"],
            days=data.get("days"),
            benchmark_id=data.get("benchmark"),
            ip=_client_ip(request),
        )
        return Response(TokenCreatedSerializer(created).data, status=status.HTTP_201_CREATED)


class TokenDetailView(APIView):
    permission_classes = [SessionSignedIn]

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        """Revoke an API token

        Any account signed in with a session: its own tokens (a coordinator: anybody's); 404 for another's.
        Requests with the token answer 401 from then on. Revoking twice is not an error."""
        api_token_revoke(actor=request.user, token_id=pk, ip=_client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("v1/tokens/", TokenListView.as_view(), name="api-token-list"),
    path("v1/tokens/<int:pk>/", TokenDetailView.as_view(), name="api-token-detail"),
]
