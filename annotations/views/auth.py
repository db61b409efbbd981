"""Signing in: Django's login with an audit row per attempt and a lockout after repeated failures."""

from __future__ import annotations

import logging
import time

from django import forms
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from annotations import single_sign_on
from annotations.selectors.credentials import active_user
from annotations.selectors.users import password_must_change
from annotations.services.auth import login_fail, login_lock_check, login_succeed
from annotations.services.credentials.single_sign_on import sso_session_record, sso_sessions_end
from annotations.services.credentials.two_factor import (
    two_factor_check,
    two_factor_enrolled,
    two_factor_required,
)
from annotations.views.access import _client_ip, signed_in
from ecgreview.middleware import TwoFactorEnrolmentRequiredMiddleware, has_nul

logger = logging.getLogger(__name__)
SESSION_PENDING = "two_factor_pending"
SESSION_MUST_ENROL = TwoFactorEnrolmentRequiredMiddleware.SESSION_KEY
# The password step holds for this long: the code must follow it, not come back a day later.
PENDING_SECONDS = 300


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login, with successes and failures in the audit trail, and a lockout after repeated
    failures (settings LOGIN_FAILURE_LIMIT within LOGIN_LOCKOUT_MINUTES)."""

    redirect_authenticated_user = True
    # A NUL byte in the form is refused here rather than by RejectNulMiddleware: the attempt is audited.
    checks_nul_in_form = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username") or ""  # services.auth trims, then cuts
        if login_lock_check(username, _client_ip(request)):
            form = self.get_form()
            form.errors.clear()
            minutes = settings.LOGIN_LOCKOUT_MINUTES
            context = self.get_context_data(form=form, locked_minutes=minutes)
            return self.render_to_response(context, status=429)
        if has_nul(request.POST):
            login_fail(username, _client_ip(request))
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("The form holds a character that is not allowed (NUL)."))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if two_factor_enrolled(user):
            # The password is right; the session signs in only with the second factor (two_factor_login).
            self.request.session[SESSION_PENDING] = {
                "user": user.pk,
                "backend": user.backend,
                "at": time.time(),
                "next": self.get_success_url(),
            }
            return redirect("login-two-factor")
        response = super().form_valid(form)
        return _after_sign_in(self.request, user, response)

    def form_invalid(self, form):
        username = form.data.get("username") or ""
        login_fail(username, _client_ip(self.request))
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if single_sign_on.enabled():
            context["sso_name"] = settings.OIDC_PROVIDER_NAME
        return context


def _after_sign_in(request, user, response):
    """The sign-in is complete: audited, then a handed-out password replaced or a required second factor
    enrolled before anything else (the middleware holds the session to those pages until then)."""
    login_succeed(user, _client_ip(request))
    if two_factor_required(user) and not two_factor_enrolled(user):
        request.session[SESSION_MUST_ENROL] = True
    if password_must_change(user):
        request.session["must_change_password"] = True
        return redirect("password-change")
    if request.session.get(SESSION_MUST_ENROL):
        return redirect("two-factor")
    return response


class TwoFactorForm(forms.Form):
    code = forms.CharField(max_length=32, label=gettext_lazy("Code"), strip=True)


def _pending_user(request):
    pending = request.session.get(SESSION_PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(SESSION_PENDING, None)
        return None, None
    user = active_user(pending["user"])
    return user, pending


def _two_factor_page(request, form, *, status=200, locked=False, error=""):
    context = {
        "form": form,
        "error": error,
        "locked_minutes": settings.LOGIN_LOCKOUT_MINUTES if locked else None,
    }
    return render(request, "registration/login_two_factor.html", context, status=status)


@login_not_required
def two_factor_login(request):
    """The second step of signing in, for an account with two-factor sign-in: a code from the
    authenticator app or one recovery code. Wrong codes count towards the same lockout as passwords."""
    user, pending = _pending_user(request)
    if user is None:
        return redirect("login")
    form = TwoFactorForm(request.POST or None)
    if request.method != "POST":
        return _two_factor_page(request, form)
    ip = _client_ip(request)
    if login_lock_check(user.get_username(), ip):
        return _two_factor_page(request, TwoFactorForm(), status=429, locked=True)
    if (
        not form.is_valid()
        or has_nul(request.POST)
        or two_factor_check(user, form.cleaned_data["code"]) is None
    ):
        login_fail(user.get_username(), ip)
        error = _("That code is not right. Try the code the app shows now.")
        return _two_factor_page(request, TwoFactorForm(), status=400, error=error)
    request.session.pop(SESSION_PENDING, None)
    auth_login(request, user, backend=pending["backend"])
    return _after_sign_in(request, user, redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL))


def _sso_refused(request, message: str, status: int = 403):
    """The sign-in page again, saying why signing in through the provider did not work."""
    response = LoginView.as_view(extra_context={"sso_error": message})(request)
    response.status_code = status
    return response


@method_decorator(login_not_required, name="dispatch")
class SsoSignInView(OIDCAuthenticationRequestView):
    """The "Sign in with ..." button: off to the provider's sign-in page (code flow, PKCE, nonce)."""

    get_settings = staticmethod(single_sign_on.oidc_setting)

    def __init__(self, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)  # the endpoint is read per request

    def get(self, request):
        if not single_sign_on.enabled():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = single_sign_on.oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except single_sign_on.ProviderUnavailable:
            message = _("%(provider)s cannot be reached now. Try again in a moment.")
            return _sso_refused(request, message % {"provider": settings.OIDC_PROVIDER_NAME}, status=503)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class SsoCallbackView(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: the code is exchanged and checked by the backend
    (annotations.single_sign_on), and the session signed in as the account the service found."""

    get_settings = staticmethod(single_sign_on.oidc_setting)

    def get(self, request):
        if not single_sign_on.enabled():
            raise Http404
        return super().get(request)

    def login_failure(self):
        message = getattr(self.request, "sso_refusal", None) or _(
            "Signing in with %(provider)s did not complete. Try again."
        ) % {"provider": settings.OIDC_PROVIDER_NAME}
        return _sso_refused(self.request, message)

    def login_success(self):
        # Signed in with the backend every request reads the user with (roles in the same query).
        auth_login(self.request, self.user, backend="annotations.backends.RolesBackend")
        opened = getattr(self.request, "sso_session", None)
        if opened is not None:
            issuer, subject, sid = opened
            sso_session_record(
                issuer=issuer, subject=subject, sid=sid, session_key=self.request.session.session_key or ""
            )
        return HttpResponseRedirect(self.success_url)


@csrf_exempt  # the provider posts it server to server: there is no browser, no cookie, no form
@login_not_required
@require_POST
def sso_backchannel_logout(request):
    """OpenID Connect back-channel logout: the provider says a session of its own has ended, and the
    sessions of this app it opened end too. 400 for a token that is not the provider's logout token."""
    if not single_sign_on.enabled():
        raise Http404
    try:
        claims = single_sign_on.logout_token_claims(request.POST.get("logout_token", ""))
    except single_sign_on.LogoutTokenRefused as refusal:
        logger.warning("back-channel logout refused: %s", refusal)
        response: HttpResponse = JsonResponse(
            {"error": "invalid_request", "error_description": str(refusal)}, status=400
        )
    else:
        sso_sessions_end(
            issuer=single_sign_on.issuer(),
            subject=str(claims.get("sub") or ""),
            sid=str(claims.get("sid") or ""),
        )
        response = HttpResponse(status=200)
    add_never_cache_headers(response)
    return response


class LogoutView(auth_views.LogoutView):
    """Django's logout; a session signed in through a provider that offers RP-initiated logout is sent on
    to end the provider's session too, which then sends the browser back to the sign-in page."""

    def post(self, request, *args, **kwargs):
        id_token = request.session.get("oidc_id_token")
        response = super().post(request, *args, **kwargs)
        end = single_sign_on.end_session_endpoint() if id_token and single_sign_on.enabled() else None
        if not end:
            return response
        query = urlencode(
            {
                "id_token_hint": id_token,
                "client_id": settings.OIDC_CLIENT_ID,
                "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
            }
        )
        return HttpResponseRedirect(f"{end}{'&' if '?' in end else '?'}{query}")


urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/login/two-factor/", two_factor_login, name="login-two-factor"),
    path("accounts/logout/", signed_in(LogoutView.as_view()), name="logout"),
    path("accounts/sso/login/", SsoSignInView.as_view(), name="sso-login"),
    path("accounts/sso/callback/", SsoCallbackView.as_view(), name="sso-callback"),
    path("accounts/sso/backchannel-logout/", sso_backchannel_logout, name="sso-backchannel-logout"),
]
