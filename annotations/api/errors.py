"""The API's one exception handler: every annotations.errors refusal answers its status and
{"detail": message, **extra}; the views hold no try/except of their own."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from annotations.errors import ApplicationError, Forbidden, NotFound


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
    return drf_exception_handler(exc, context)
