"""`Authorization: Token <secret>`: the request acts as the token's user, within the token's scope."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from annotations.models import TokenScope
from annotations.roles import remember_benchmark_scope, remember_role_names, user_roles
from annotations.services.credentials.tokens import (
    BENCHMARK_ROUTES,
    api_token_find,
    api_token_use,
    token_roles,
)
from ecgreview.client_address import client_ip

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session may sign the request in
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Give the token after 'Token ' and nothing else."))
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = api_token_find(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        user = token.user
        # The scope narrows the roles this request holds; every later role check (permission classes,
        # selectors) reads them from the user object.
        remember_role_names(user, {role.value for role in token_roles(token, user_roles(user))})
        if token.scope == TokenScope.READ_ONLY and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(_("This token is read-only."))
        if token.scope == TokenScope.BENCHMARK:
            match = getattr(request, "resolver_match", None)
            if match is None or match.url_name not in BENCHMARK_ROUTES:
                raise exceptions.PermissionDenied(
                    _(
                        "This token is for one benchmark: its tracings and your submissions to it, "
                        "nothing else."
                    )
                )
            remember_benchmark_scope(user, token.scope_object_id)
        api_token_use(token, ip=client_ip(request))
        return user, token

    def authenticate_header(self, request) -> str | None:
        # A refused token is a 401 naming the scheme; a request without one keeps the API's 403 (DRF
        # answers 403 when the first authentication class names no scheme), as clients already expect.
        parts = get_authorization_header(request).split()
        return self.keyword if parts and parts[0].lower() == self.keyword.lower().encode() else None


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI schema, beside the session cookie."""

    target_class = "annotations.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <secret>`: an API token from the People page or POST /api/v1/tokens/.",
        }
