"""The pages' side of annotations.errors: a NotFound or Forbidden a view lets through is the project's
404 or 403 page, as Django's Http404 and PermissionDenied were."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from annotations.errors import Forbidden, NotFound


class ApplicationErrorMiddleware:
    """Invalid and Conflict are left alone: the views that can show them in a form catch them; one that
    escapes a view is a bug, and the usual 500 says so."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Raised, not answered here: Django's own handling renders the 404 and 403 pages (handler404,
        # handler403), as it did when the selectors raised these directly.
        if isinstance(exception, NotFound):
            raise Http404(*exception.args) from exception
        if isinstance(exception, Forbidden):
            raise PermissionDenied(*exception.args) from exception
        return None
