"""Every page requires login; the API answers for itself."""

import re
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
from django.utils.translation import gettext_lazy

API_PREFIX = "/api/"


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required-by-default, except under /api/.

    A browser page should bounce to the login form, but an API client must get 401/403, which DRF's
    default IsAuthenticated permission already gives every API view; a redirect would look like a
    successful response to a script.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


# The session key holding when this session's expiry was last pushed forward (seconds since the epoch).
REFRESHED_AT = "_refreshed_at"


class SessionRefreshMiddleware:
    """Idle sessions expire SESSION_COOKIE_AGE after the last request, to within SESSION_REFRESH_S.

    Django's SESSION_SAVE_EVERY_REQUEST would do it to the second, but at the price of a session write,
    its own transaction and its own disk flush, on every request: under 50 readers submitting, that was
    the most frequent write in the database (bench/load_reads.py). Here a session is written again only
    when its last refresh is older than SESSION_REFRESH_S, so an idle session ends between
    SESSION_COOKIE_AGE - SESSION_REFRESH_S and SESSION_COOKIE_AGE after the last request.

    Sits after SessionMiddleware, so the session it marks is saved (new expiry, new cookie) on the way out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only a session this request already read (an authenticated one): never load one just for this.
        if session is not None and session.accessed and session.session_key and not session.is_empty():
            now = int(time.time())
            if now - int(session.get(REFRESHED_AT, 0)) >= settings.SESSION_REFRESH_S:
                session[REFRESHED_AT] = now  # modified: SessionMiddleware saves it with a new expiry
        return response


# A NUL character in JSON text: \u0000 preceded by an even number of backslashes (an odd one escapes it).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NUL_MESSAGES = {
    "address": gettext_lazy("A NUL character is not allowed in the address."),
    "query string": gettext_lazy("A NUL character is not allowed in the query string."),
    "form": gettext_lazy("A NUL character is not allowed in a form field."),
    "JSON body": gettext_lazy("A NUL character is not allowed in the JSON body."),
}


def has_nul(data: QueryDict) -> bool:
    """Whether a query string or form holds a NUL character in any name or value (files excepted)."""
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


def without_nul(text: str) -> str:
    """The text with each NUL replaced by U+FFFD, for recording what was tried (PostgreSQL text and
    JSON refuse the byte)."""
    return text.replace("\x00", "\ufffd")


class RejectNulMiddleware:
    """Answers 400 to a request with a NUL character in its path, query string, form fields or JSON text.

    No part of the application has a use for the character, and PostgreSQL refuses it in text and JSON
    columns: left alone it reaches a query or an insert and becomes a 500, after the view has done part
    of its work. Checked before any view runs, so nothing is changed. Form files are not checked (their
    bytes are data). A view that must record the attempt itself (the login form audits it) declares
    `checks_nul_in_form = True` and gets its form through unchecked.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        own_form = getattr(getattr(view_func, "view_class", view_func), "checks_nul_in_form", False)
        problem = self._problem(request, check_form=not own_form)
        if problem is None:
            return None
        message = str(_NUL_MESSAGES[problem])
        if request.path_info.startswith(API_PREFIX):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

    @staticmethod
    def _problem(request, check_form: bool) -> str | None:
        if "\x00" in request.path:
            return "address"
        if has_nul(request.GET):
            return "query string"
        content_type = request.content_type or ""
        if check_form and request.method == "POST" and content_type in _FORM_TYPES and has_nul(request.POST):
            return "form"
        if content_type.endswith("json") and request.method in {"POST", "PUT", "PATCH"}:
            body = request.body  # read once; Django keeps it for the view's parser
            if b"\x00" in body or _JSON_NUL.search(body):
                return "JSON body"
        return None


def large_body(limit: Callable[[], int]):
    """Declares a view's own body cap (bytes, read from the settings at each request), for the upload
    endpoints; every other view has REQUEST_MAX_BODY_BYTES. On a function view, outermost."""

    def mark(view):
        view.max_body_bytes = limit
        return view

    return mark


def upload_body_bytes() -> int:
    return settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024


def _body_limit(view_func) -> int:
    for owner in (view_func, getattr(view_func, "view_class", None), getattr(view_func, "cls", None)):
        limit = getattr(owner, "max_body_bytes", None)
        if limit is not None:
            return limit()
    return settings.REQUEST_MAX_BODY_BYTES


class BodyLimitMiddleware:
    """Answers 413 to a body over its endpoint's cap, by its declared Content-Length, before reading it.

    A request's cost grows with its body (parsing, validating, every label of a list checked): a reader
    sending megabytes of draft used to hold a worker for seconds and slow every other request. No reader
    or adjudicator form needs more than a few tens of kB; uploads declare their own cap (large_body).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, 400, str(_BAD_LENGTH))
        limit = _body_limit(view_func)
        if length > limit:
            message = str(_TOO_LARGE) % {"size": length, "limit": limit}
            return _refuse(request, 413, message)
        return None


_TOO_LARGE = gettext_lazy("The request body is too large: %(size)s bytes, at most %(limit)s here.")
_BAD_LENGTH = gettext_lazy("The Content-Length header is not a number.")


def _refuse(request, status: int, message: str):
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class _SessionGate:
    """Sends a session the login view marked (SESSION_KEY) to one page (TO) until the mark is cleared;
    the paths in ALLOWED stay open (that page, logging out), and an API call answers 403 with DETAIL."""

    SESSION_KEY = ""
    ALLOWED: tuple[str, ...] = ()
    TO = ""
    DETAIL = ""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.get(self.SESSION_KEY)
            and not request.path_info.startswith(self.ALLOWED)
        ):
            if request.path_info.startswith(API_PREFIX):
                return JsonResponse({"detail": self.DETAIL}, status=403)
            from django.shortcuts import redirect

            return redirect(self.TO)
        return self.get_response(request)


class PasswordChangeRequiredMiddleware(_SessionGate):
    """An account signed in with a password a coordinator handed out (the login view marks the session)
    is sent to the password page until it sets its own; it may still log out. API calls answer 403."""

    SESSION_KEY = "must_change_password"
    ALLOWED = ("/accounts/password/", "/accounts/logout/", "/static/", "/i18n/")
    TO = "password-change"
    DETAIL = "Change your password first (/accounts/password/)."


class TwoFactorEnrolmentRequiredMiddleware(_SessionGate):
    """A coordinator or adjudicator signed in without a second factor where the operator requires one
    (TWO_FACTOR_REQUIRED_FOR_STAFF; the login view marks the session) is sent to the enrolment page until
    it enrols; it may still log out. API calls with that session answer 403."""

    SESSION_KEY = "must_enrol_two_factor"
    ALLOWED = ("/accounts/two-factor/", "/accounts/logout/", "/accounts/password/", "/static/", "/i18n/")
    TO = "two-factor"
    DETAIL = "Set up two-factor sign-in first (/accounts/two-factor/)."
