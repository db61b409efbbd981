"""Who may open a page: the role declarations every view carries (the access-matrix test reads them)."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from annotations.api.auth import ApiTokenAuthentication
from annotations.roles import ANY_SIGNED_IN, Role, has_role
from ecgreview.client_address import client_ip


def role_required(role: Role):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        # The declaration the access-matrix test reads (functools.wraps carries it through the
        # decorators stacked on top, such as require_GET).
        wrapped.required_roles = frozenset({role})  # type: ignore[attr-defined]
        return wrapped

    return decorator


def any_role_required(*roles: Role):
    """Like role_required, for a page any one of several roles may open."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not any(has_role(request.user, role) for role in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def signed_in(view):
    """Declares a page open to any signed-in account, role or not (the middleware already demands the
    login). Wraps rather than marks, so a framework view shared with other projects is left untouched."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    # A function attribute the access-matrix test reads; typeshed's wraps() result does not declare it.
    wrapped.required_roles = ANY_SIGNED_IN  # type: ignore[attr-defined]
    return wrapped


def api_login_required(view):
    """For the few plain Django views under /api/ (binary downloads): answer anonymous clients exactly
    as the DRF views do, 403 with the same JSON, before any other check can reveal anything."""
    from django.http import JsonResponse

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        refused = _token_sign_in(request)
        if refused is not None:
            return refused
        if not request.user.is_authenticated:
            return JsonResponse({"detail": "Authentication credentials were not provided."}, status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _token_sign_in(request):
    """An `Authorization: Token` request acts as the token's user here as in the DRF views (the same
    authentication class, so the same scope and refusals); None when signed in or without a token."""
    from django.http import JsonResponse
    from rest_framework import exceptions

    authentication = ApiTokenAuthentication()
    try:
        found = authentication.authenticate(request)
    except exceptions.AuthenticationFailed as error:
        response = JsonResponse({"detail": str(error.detail)}, status=401)
        response["WWW-Authenticate"] = authentication.authenticate_header(request) or ""
        return response
    except exceptions.PermissionDenied as error:
        return JsonResponse({"detail": str(error.detail)}, status=403)
    if found is not None:
        request.user = found[0]
    return None


def _client_ip(request) -> str | None:
    return client_ip(request)
