"""Every page requires login; the API answers for itself."""

import time

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

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
