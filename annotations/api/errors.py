"""The API's one exception handler: every annotations.errors refusal answers its status and
{"detail": message, **extra}; the views hold no try/except of their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from annotations.errors import ApplicationError, Forbidden, NotFound

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
from annotations.selectors.users import session_account_deactivated


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # NotFound and Forbidden answer exactly what DRF answers for Django's Http404 and PermissionDenied
    # ("Not found." when no message is given): an exam that is not the caller's and one that does not
    # exist stay indistinguishable.
    if isinstance(exc, NotFound):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, Forbidden):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, ApplicationError):
        set_rollback()
        return Response({"detail": exc.message, **exc.extra}, status=exc.status)
    elif isinstance(exc, exceptions.NotAuthenticated) and _deactivated(context):
        status = exc.status_code  # 403 under session authentication, which DRF set on the original
        exc = exceptions.NotAuthenticated(DEACTIVATED)
        exc.status_code = status
    return drf_exception_handler(exc, context)


DEACTIVATED = gettext_lazy("This account has been deactivated; a coordinator can reactivate it.")


def _deactivated(context: dict[str, Any]) -> bool:
    """The caller's session belongs to an account deactivated since it signed in."""
    request = context.get("request")
    return request is not None and session_account_deactivated(getattr(request, "_request", request))


# --- Request bodies that refuse what they do not know ------------------------------------------------
# DRF drops a field its serializer does not declare. For this API that is silent data loss with a 2xx: a
# batch asked for with its filters beside "criteria" instead of inside it was built over every exam in the
# archive; a misspelt option takes its default. Each request serializer derives from StrictSerializer,
# which answers 400 naming every unknown field (and where it belongs, when the serializer knows).
# Sent by an HTML form with every POST; never a field of a request.
_IGNORED = frozenset({"csrfmiddlewaretoken"})


class StrictSerializer(serializers.Serializer):
    #: unknown field name -> where it belongs, for the mistakes worth a hint
    belongs_elsewhere: dict[str, StrOrPromise] = {}

    def to_internal_value(self, data):
        names = sorted(set(data) - set(self.fields) - _IGNORED) if isinstance(data, Mapping) else []
        unknown = {name: [self._unknown_message(name)] for name in names}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            # Every mistake of the body at once, the unknown fields with the known fields' own.
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def _unknown_message(self, name: str) -> str:
        where = self.belongs_elsewhere.get(name)
        known = ", ".join(sorted(self.fields))
        if where:
            return _("not a field here: it belongs %(where)s") % {"where": where}
        return _("not a field of this request; the fields are: %(known)s") % {"known": known}
