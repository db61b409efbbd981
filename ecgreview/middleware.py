"""Every page requires login; the API answers for itself."""

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
