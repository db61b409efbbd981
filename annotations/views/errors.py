"""The pages' side of annotations.errors: a NotFound or Forbidden a view lets through is the project's
404 or 403 page, as Django's Http404 and PermissionDenied were; and the answer to a request Django
refuses before any view sees it (bad_request, the handler400)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, TooManyFilesSent
from django.db import OperationalError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from annotations.errors import Forbidden, NotFound
from annotations.views.access import api_login_required, signed_in


class ApplicationErrorMiddleware:
    """Invalid and Conflict are left alone: the views that can show them in a form catch them; one that
    escapes a view is a bug, and the usual 500 says so."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_busy(exception):
            return busy_refusal(request)
        if request.path.startswith(API_PREFIX):
            return api_refusal(exception)
        # Raised, not answered here: Django's own handling renders the 404 and 403 pages (handler404,
        # handler403), as it did when the selectors raised these directly.
        if isinstance(exception, NotFound):
            raise Http404(*exception.args) from exception
        if isinstance(exception, Forbidden):
            raise PermissionDenied(*exception.args) from exception
        return None


API_PREFIX = "/api/"

# How long a client is asked to wait before it tries a refused write again.
BUSY_RETRY_AFTER_S = 60


def database_busy(exception: Exception) -> bool:
    """The embedded SQLite database refused a write because another writer held it past the busy timeout
    (settings: the in-process background thread writes too, and an import or a release build holds the
    lock for long). Not a bug of the request: it may simply be tried again."""
    return (
        isinstance(exception, OperationalError)
        and connection.vendor == "sqlite"
        and "database is locked" in str(exception)
    )


def busy_refusal(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After, in the asker's language, JSON under /api/ and the error page elsewhere: before,
    the lock surfaced as a traceback (make run's DEBUG) or a bare 500."""
    seconds = connection.settings_dict.get("OPTIONS", {}).get("timeout", 5)
    message = _(
        "The embedded database is busy: another write (an import, a release build or a recomputation) has "
        "held it for more than %(seconds)s s, so this request could not write. Try again in a minute. A "
        "site with several users should run on PostgreSQL."
    ) % {"seconds": seconds}
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        response = render(request, "503.html", {"message": message, "back": request.path}, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


def api_refusal(exception: Exception) -> JsonResponse | None:
    """A 404 or 403 raised by a view under /api/ that is not a REST framework view (the waveforms, which
    stream their bytes as they are stored): JSON, as the framework's own views answer, never the HTML page
    (under DEBUG, Django's debug page listing every route). The body is the framework's for the same
    exception, so what is not the caller's reads exactly as what does not exist."""
    from rest_framework import exceptions

    if isinstance(exception, (NotFound, Http404)):
        detail, status = str(exception) or str(exceptions.NotFound.default_detail), 404
    elif isinstance(exception, (Forbidden, PermissionDenied)):
        detail, status = str(exception) or str(exceptions.PermissionDenied.default_detail), 403
    else:
        return None
    return JsonResponse({"detail": detail}, status=status)


def _csrf_unless_token(view):
    """CSRF checked here rather than by the middleware, as DRF does: a session's write without its token
    is refused as everywhere, while a token client (no cookies, so no CSRF) gets the API's JSON answer."""
    from functools import wraps

    from django.middleware.csrf import CsrfViewMiddleware

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        token = request.META.get("HTTP_AUTHORIZATION", "").split(" ")[0].lower() == "token"
        if not token:
            # No view to exempt and no response to pass on: only the check itself is wanted.
            refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})  # type: ignore[arg-type]
            if refused is not None:
                return refused
        return view(request, *args, **kwargs)

    return wrapped


@_csrf_unless_token
@api_login_required
@signed_in
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """The last route under /api/: no other matched. JSON, and the redirect APPEND_SLASH would have made
    (a route that matches only once the slash is added), which this catch-all would otherwise stop."""
    from django.http import HttpResponsePermanentRedirect
    from django.urls import is_valid_path
    from rest_framework import exceptions

    if settings.APPEND_SLASH and not request.path.endswith("/") and is_valid_path(f"{request.path}/"):
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(f"{request.path}/" + (f"?{query}" if query else ""))
        detail = _("This address ends with a slash: %(path)s") % {"path": f"{request.path}/"}
        return JsonResponse({"detail": detail}, status=404)
    return JsonResponse({"detail": str(exceptions.NotFound.default_detail)}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: JSON under /api/, as every other answer there (a script cannot read the HTML page), and a page
    of its own elsewhere, rendered without the context processors a bug may have broken. Neither says
    what went wrong: that is in the log."""
    message = _(
        "Something went wrong on the server. It has been logged; nothing you entered was saved by this "
        "request."
    )
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Server error.") + " " + message}, status=500)
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def bad_request(request, exception=None):
    """400, saying why where the app knows: an upload of more files than IMPORT_MAX_FILES is refused by
    Django while it reads the body (for CSRF, before the view), where a bare "Bad Request" said nothing."""
    if isinstance(exception, TooManyFilesSent):
        message = _(
            "More files were chosen than one upload takes: at most %(n)s (IMPORT_MAX_FILES). Upload them in "
            "parts, or put them in the server's import folder and import them from there."
        ) % {"n": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
    else:
        message = _("The request could not be read.")
    if request.path.startswith("/api/"):
        key = "files" if isinstance(exception, TooManyFilesSent) else "detail"
        return JsonResponse({key: [message]}, status=400)
    back = request.path if isinstance(exception, TooManyFilesSent) else reverse("home")
    return render(request, "400.html", {"message": message, "back": back}, status=400)
